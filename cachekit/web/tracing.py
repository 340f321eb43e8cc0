"""Server spans for ``cachekit serve``: the ASGI instrumentation on the stack's tracer.

The app is built before its stack exists (the lifespan resolves it), so the instrumentation
gets ``StackTracerProvider``: a provider whose tracers look up, at each span, the tracer
provider of the stack that is running (``bind``). Every request is then a SERVER span that
continues an incoming ``traceparent``, with the cache spans (``cachekit.get``, ...) and the
Redis CLIENT spans beneath it, in one trace, exported wherever the stack's spans go.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """Make every request of ``app`` a SERVER span on ``provider`` (the contrib ASGI
    instrumentation: ``traceparent`` continued, HTTP semantic conventions), named by its
    route template once the router has matched it (``GET /v1/cache/{namespace}/{key}``).

    The FastAPI instrumentation would name it by matching every route again before the
    request runs: about a tenth of a GET's CPU here; the router's match is reused instead.
    """
    module = require(
        "opentelemetry.instrumentation.asgi", "server", "server spans for cachekit serve"
    )
    app.add_middleware(_RouteNames)  # inside the span: renames it at response start
    app.add_middleware(
        module.OpenTelemetryMiddleware,
        excluded_urls=",".join(exclude) or None,
        default_span_details=_method_only,
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),
        exclude_spans=["receive", "send"],
    )


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The span's name before routing: the method (the route comes at response start)."""
    method = scope.get("method", "")
    return (method if method in _METHODS else "HTTP"), {}


_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _RouteNames:
    """Names the current SERVER span ``METHOD route`` and sets ``http.route`` from the
    route the router matched (``scope["route"]``), when the response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span = trace.get_current_span()
        if not span.is_recording():
            await self.app(scope, receive, send)
            return

        async def naming_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = getattr(scope.get("route"), "path", None)
                if isinstance(route, str):
                    span.update_name(f"{_method_only(scope)[0]} {route}")
                    span.set_attribute("http.route", route)
            await send(message)

        await self.app(scope, receive, naming_send)
