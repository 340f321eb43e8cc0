"""Telemetry of a remote tier's commands, through the tier's own command path.

``CommandTelemetry`` is the ``CommandObserver`` the ``Instrumented`` layer installs on the
stack's remote tier (``RemoteTier.observe``). The tier hands it every command and every
batch it sends in one round trip, auto-pipelined ones included. Each one that succeeds
counts in ``Recorder.redis_calls`` (how a cache call learns that Redis answered it) and,
while tracing is live, runs in a CLIENT span with the database semantic conventions
(``db.system.name``, ``db.operation.name``, ``db.namespace``, ``server.address``,
``server.port``; batches are ``BATCH`` spans with ``db.operation.batch.size``).
Arguments (keys, values) are never recorded. Nothing of redis-py is patched: other
clients in the process are untouched.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlsplit

from opentelemetry.trace import SpanKind

if TYPE_CHECKING:
    from cachekit.telemetry.metrics import Recorder
    from cachekit.telemetry.otel import Tracing

T = TypeVar("T")

_COMMAND: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
_MAX_NAMES: Final = 64


def command_name(raw: object) -> str:
    """The upper-case Redis command name of ``raw`` (``OTHER`` for anything unusual)."""
    name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    name = name.upper()
    return name if _COMMAND.match(name) else "OTHER"


def server_attributes(url: str) -> dict[str, Any]:
    """Database semantic-convention attributes of the server a Redis URL names."""
    attrs: dict[str, Any] = {"db.system.name": "redis"}
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return attrs
    if parts.scheme == "unix":
        attrs["server.address"] = parts.path
        db = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("db", "0")
    else:
        attrs["server.address"] = parts.hostname or "localhost"
        attrs["server.port"] = port or 6379
        db = parts.path.strip("/") or "0"
    attrs["db.namespace"] = db
    return attrs


_AUXILIARY: Final = frozenset({"PTTL", "PEXPIRE"})
"""Commands that only accompany another in a round trip (a read's TTL, a set's expiry)."""


def batch_name(names: Sequence[object]) -> str:
    """The span name of one round trip: the command itself when one command is sent with
    its auxiliaries (``GET`` for a get's GET + PTTL, ``MGET`` for MGET + PTTLs, ``SADD`` for
    a tag's SADD + PEXPIREs), ``BATCH GET`` for several of one kind, else ``BATCH``."""
    commands = [command_name(name) for name in names]
    main = [name for name in commands if name not in _AUXILIARY] or commands
    kinds = set(main)
    if len(kinds) != 1:
        return "BATCH"
    kind = kinds.pop()
    return kind if len(main) == 1 else f"BATCH {kind}"


class CommandTelemetry:
    """Counts and traces the commands of one remote tier (a ``CommandObserver``)."""

    __slots__ = ("_base", "_by_name", "recorder", "tracing")

    def __init__(self, recorder: Recorder, tracing: Tracing, *, url: str = "") -> None:
        self.recorder = recorder
        self.tracing = tracing
        self._base = server_attributes(url)
        self._by_name: dict[str, dict[str, Any]] = {}

    def traced(self) -> bool:
        tracing = self.tracing
        return not tracing.off and tracing.live()

    def counted(self) -> None:
        self.recorder.redis_calls += 1

    async def command(self, name: str, call: Awaitable[T]) -> T:
        """Await one command: counted once it succeeds, in a span while tracing is live."""
        tracing = self.tracing
        if tracing.off or not tracing.live():  # the hot path: count, nothing else
            result = await call
            self.recorder.redis_calls += 1
            return result
        operation = command_name(name)
        return await self._traced(operation, self._attributes(operation), call)

    async def batch(self, names: Sequence[str], call: Awaitable[T]) -> T:
        """Await one round trip of several commands: counted once, one ``BATCH`` span."""
        tracing = self.tracing
        if tracing.off or not tracing.live():
            result = await call
            self.recorder.redis_calls += 1
            return result
        operation = batch_name(names)
        attributes = {
            **self._base,
            "db.operation.name": operation,
            "db.operation.batch.size": len(names),
        }
        return await self._traced(operation, attributes, call)

    def _attributes(self, operation: str) -> dict[str, Any]:
        found = self._by_name.get(operation)
        if found is None:
            found = {**self._base, "db.operation.name": operation}
            if len(self._by_name) < _MAX_NAMES:
                self._by_name[operation] = found
        return found

    async def _traced(self, operation: str, attributes: dict[str, Any], call: Awaitable[T]) -> T:
        with self.tracing.tracer.start_as_current_span(
            operation, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            try:
                result = await call
            except Exception as exc:
                _error(span, exc)
                raise
        self.recorder.redis_calls += 1
        return result


def _error(span: Any, exc: Exception) -> None:
    cls = type(exc)
    span.set_attribute("error.type", f"{cls.__module__}.{cls.__qualname__}")
    if cls.__name__ == "ResponseError" and str(exc):
        prefix = str(exc).split(" ", 1)[0]
        if _COMMAND.match(prefix):
            span.set_attribute("db.response.status_code", prefix)
