"""Telemetry of cachekit's own Redis client and codec, and nothing else in the process.

``hook_client`` replaces two bound methods of *one* client object (the one this stack's
``RedisBackend`` uses): ``execute_command`` and ``pipeline``. Each command, or pipeline
round trip, then counts in ``Recorder.redis_calls`` once it succeeds (how a cache call
learns that Redis answered it) and, while tracing is live, runs in a CLIENT span with the
database semantic conventions (``db.system.name``, ``db.operation.name``,
``db.namespace``, ``server.address``, ``server.port``; pipelines are ``BATCH`` spans
with ``db.operation.batch.size``). Arguments (keys, values) are never recorded. No global
instrumentation: other clients are untouched, and ``undo`` restores this one.

``hook_codec`` does the same for the backend's codec, to measure compression.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.trace import SpanKind

from cachekit.backends.codec import HEADER_SIZE, Codec

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from cachekit.backends.redis.autopipeline import AutoPipeline
    from cachekit.telemetry.metrics import Recorder
    from cachekit.telemetry.monitor import CachePerformanceMonitor
    from cachekit.telemetry.otel import Tracing

_MARK: Final = "_cachekit_hooked"
_COMMAND: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
_MAX_NAMES: Final = 64


def command_name(raw: object) -> str:
    """The upper-case Redis command name of ``raw`` (``OTHER`` for anything unusual)."""
    name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    name = name.upper()
    return name if _COMMAND.match(name) else "OTHER"


def server_attributes(client: aioredis.Redis) -> dict[str, Any]:
    """Database semantic-convention attributes of ``client``'s connection target."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    attrs: dict[str, Any] = {"db.system.name": "redis"}
    if kwargs.get("path"):
        attrs["server.address"] = str(kwargs["path"])
    elif kwargs.get("host"):
        attrs["server.address"] = str(kwargs["host"])
        attrs["server.port"] = int(kwargs.get("port") or 6379)
    attrs["db.namespace"] = str(kwargs.get("db") or 0)
    return attrs


def hook_client(
    client: aioredis.Redis, recorder: Recorder, tracing: Tracing
) -> Callable[[], None] | None:
    """Count and trace the commands of ``client``; the function that undoes it (None
    when the client is hooked already)."""
    if getattr(client, _MARK, False):
        return None
    base = server_attributes(client)
    by_name: dict[str, dict[str, Any]] = {}
    execute_original: Callable[..., Awaitable[Any]] = client.execute_command
    pipeline_original: Callable[..., Any] = client.pipeline

    def attributes(name: str, batch: int | None = None) -> dict[str, Any]:
        if batch is not None:
            return {**base, "db.operation.name": name, "db.operation.batch.size": batch}
        found = by_name.get(name)
        if found is None:
            found = {**base, "db.operation.name": name}
            if len(by_name) < _MAX_NAMES:
                by_name[name] = found
        return found

    async def execute_command(*args: Any, **options: Any) -> Any:
        if tracing.off or not tracing.live():
            result = await execute_original(*args, **options)
        else:
            name = command_name(args[0]) if args else "OTHER"
            with tracing.tracer.start_as_current_span(
                name, kind=SpanKind.CLIENT, attributes=attributes(name)
            ) as span:
                try:
                    result = await execute_original(*args, **options)
                except Exception as exc:
                    _error(span, exc)
                    raise
        recorder.redis_calls += 1
        return result

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = pipeline_original(*args, **kwargs)
        execute = pipe.execute

        async def traced_execute(*a: Any, **kw: Any) -> Any:
            if tracing.off or not tracing.live():
                result = await execute(*a, **kw)
            else:
                stack = getattr(pipe, "command_stack", [])
                names = {command_name(entry[0][0]) for entry in stack if entry and entry[0]}
                name = f"BATCH {names.pop()}" if len(names) == 1 else "BATCH"
                with tracing.tracer.start_as_current_span(
                    name, kind=SpanKind.CLIENT, attributes=attributes(name, len(stack))
                ) as span:
                    try:
                        result = await execute(*a, **kw)
                    except Exception as exc:
                        _error(span, exc)
                        raise
            recorder.redis_calls += 1
            return result

        pipe.execute = traced_execute
        return pipe

    client.execute_command = execute_command  # type: ignore[method-assign]
    client.pipeline = pipeline  # type: ignore[method-assign]
    setattr(client, _MARK, True)

    def undo() -> None:
        for name in ("execute_command", "pipeline", _MARK):
            client.__dict__.pop(name, None)

    return undo


def hook_pipeline(
    pipeline: AutoPipeline | None, recorder: Recorder, tracing: Tracing
) -> Callable[[], None] | None:
    """Count and trace the commands sent through ``pipeline`` (``redis.auto_pipeline``),
    which bypass the client's own methods: each caller's command is a CLIENT span and
    counts once it succeeds, as with ``hook_client``; the function that undoes it."""
    if pipeline is None or getattr(pipeline, _MARK, False):
        return None
    base = server_attributes(pipeline.client)
    execute_original = pipeline.execute
    many_original = pipeline.execute_many

    async def observed(name: str, call: Awaitable[Any], extra: dict[str, Any]) -> Any:
        if tracing.off or not tracing.live():
            result = await call
        else:
            attributes = {**base, "db.operation.name": name, **extra}
            with tracing.tracer.start_as_current_span(
                name, kind=SpanKind.CLIENT, attributes=attributes
            ) as span:
                try:
                    result = await call
                except Exception as exc:
                    _error(span, exc)
                    raise
        recorder.redis_calls += 1
        return result

    async def execute(*args: Any) -> Any:
        if tracing.off or not tracing.live():  # the hot path: count, nothing else
            result = await execute_original(*args)
            recorder.redis_calls += 1
            return result
        name = command_name(args[0]) if args else "OTHER"
        return await observed(name, execute_original(*args), {})

    async def execute_many(commands: Any) -> Any:
        names = {command_name(c[0]) for c in commands if c}
        name = f"BATCH {names.pop()}" if len(names) == 1 else "BATCH"
        size = {"db.operation.batch.size": len(commands)}
        return await observed(name, many_original(commands), size)

    pipeline.execute = execute  # type: ignore[method-assign]
    pipeline.execute_many = execute_many  # type: ignore[method-assign]
    setattr(pipeline, _MARK, True)

    def undo() -> None:
        for name in ("execute", "execute_many", _MARK):
            pipeline.__dict__.pop(name, None)

    return undo


def _error(span: Any, exc: Exception) -> None:
    cls = type(exc)
    span.set_attribute("error.type", f"{cls.__module__}.{cls.__qualname__}")
    if cls.__name__ == "ResponseError" and str(exc):
        prefix = str(exc).split(" ", 1)[0]
        if _COMMAND.match(prefix):
            span.set_attribute("db.response.status_code", prefix)


def hook_codec(codec: Codec, monitor: CachePerformanceMonitor) -> Callable[[], None] | None:
    """Report the compression of each value ``codec`` encodes above its threshold; the
    function that undoes it (None when there is nothing to hook)."""
    if getattr(codec, _MARK, False) or codec.algorithm == "none":
        return None
    threshold = codec.threshold
    encode_with_info = codec.encode_with_info
    record = monitor.record_compression_ratio

    def encode(value: Any) -> bytes:
        stored, encoded, stored_length = encode_with_info(value)
        if encoded > threshold:
            record(encoded, stored_length - HEADER_SIZE)
        return stored

    codec.encode = encode  # type: ignore[method-assign]
    setattr(codec, _MARK, True)

    def undo() -> None:
        for name in ("encode", _MARK):
            codec.__dict__.pop(name, None)

    return undo
