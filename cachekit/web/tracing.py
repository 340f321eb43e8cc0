"""Server spans for ``cachekit serve``: the FastAPI instrumentation on the stack's tracer.

The app is built before its stack exists (the lifespan resolves it), so the instrumentation
gets ``StackTracerProvider``: a provider whose tracers look up, at each span, the tracer
provider of the stack that is running (``bind``). Every request is then a SERVER span that
continues an incoming ``traceparent``, with the cache spans (``cachekit.get``, ...) and the
Redis CLIENT spans beneath it, in one trace, exported wherever the stack's spans go.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes

from cachekit.extras import require


class StackTracerProvider(trace.TracerProvider):
    """A tracer provider that delegates to ``current`` (the running stack's), read per span."""

    def __init__(self) -> None:
        self.current: trace.TracerProvider = trace.NoOpTracerProvider()

    def bind(self, provider: trace.TracerProvider | None) -> None:
        """Send spans to ``provider`` from now on (None: nowhere)."""
        self.current = provider if provider is not None else trace.NoOpTracerProvider()

    def unbind(self) -> None:
        """Send spans nowhere (the stack is closed)."""
        self.bind(None)

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> trace.Tracer:
        return _StackTracer(
            self, instrumenting_module_name, instrumenting_library_version, schema_url
        )


class _StackTracer(trace.Tracer):
    def __init__(
        self, owner: StackTracerProvider, name: str, version: str | None, schema: str | None
    ) -> None:
        self._owner = owner
        self._args = (name, version, schema)
        self._for: trace.TracerProvider | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def _current(self) -> trace.Tracer:
        provider = self._owner.current
        if provider is not self._for:
            name, version, schema = self._args
            self._tracer = provider.get_tracer(name, version, schema)
            self._for = provider
        return self._tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._current().start_span(*args, **kwargs)

    @_agnosticcontextmanager
    def start_as_current_span(
        self, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        with self._current().start_as_current_span(*args, **kwargs) as span:
            yield span


def instrument(app: FastAPI, provider: StackTracerProvider, *, exclude: Sequence[str] = ()) -> None:
    """Make every request of ``app`` a SERVER span on ``provider`` (the contrib FastAPI
    instrumentation: route-templated names, ``traceparent`` continued)."""
    module = require(
        "opentelemetry.instrumentation.fastapi", "server", "server spans for cachekit serve"
    )
    module.FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls=",".join(exclude) or None,
        exclude_spans=["receive", "send"],
    )
