"""AutoPipeline: commands of one tick share a round trip; replies and errors reach their callers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.exceptions import DataError, ResponseError

from cachekit import CacheConfigBuilder
from cachekit.backends.redis.autopipeline import AutoPipeline, supports_auto_pipeline
from cachekit.backends.redis.backend import RedisBackend


@pytest.fixture
async def fake() -> AsyncIterator[aioredis.Redis]:
    """A fakeredis client (real redis-py connection classes over an in-process server)."""
    client = fakeredis.FakeAsyncRedis()
    yield client
    await client.aclose()


async def test_autopipeline_batches_commands_of_one_tick(fake: aioredis.Redis) -> None:
    """Fifty commands issued by concurrent tasks in one tick travel in one round trip."""
    await fake.set("k", "v")
    pipeline = AutoPipeline(fake)
    replies = await asyncio.gather(*(pipeline.execute("GET", "k") for _ in range(50)))
    assert replies == [b"v"] * 50
    assert pipeline.round_trips == 1


async def test_autopipeline_bounds_batch_size(fake: aioredis.Redis) -> None:
    """Beyond ``max_batch`` commands, the rest go in further round trips."""
    pipeline = AutoPipeline(fake, max_batch=10)
    await asyncio.gather(*(pipeline.execute("EXISTS", "k") for _ in range(35)))
    assert pipeline.round_trips == 4


async def test_autopipeline_max_batch_must_be_positive(fake: aioredis.Redis) -> None:
    """A batch bound below one is refused at construction."""
    with pytest.raises(ValueError, match="max_batch"):
        AutoPipeline(fake, max_batch=0)


async def test_autopipeline_replies_match_execute_command(fake: aioredis.Redis) -> None:
    """Each reply is parsed by the client's response callbacks, as execute_command parses it."""
    pipeline = AutoPipeline(fake)
    commands: list[tuple[Any, ...]] = [
        ("SET", "a", b"1", "EX", 100),
        ("GET", "a"),
        ("EXISTS", "a", "b"),
        ("PTTL", "missing"),
        ("SCAN", 0, "MATCH", "a*", "COUNT", 10),
        ("SET", "a", b"2", "NX"),
        ("MGET", "a", "b"),
    ]
    batched = [await pipeline.execute(*c) for c in commands]
    direct = [await fake.execute_command(*c) for c in commands]
    assert batched == direct
    assert batched[0] is True and batched[4] == (0, [b"a"])


async def test_autopipeline_execute_many_returns_replies_in_order(fake: aioredis.Redis) -> None:
    """Several commands of one caller come back as a list in their order."""
    await fake.set("x", "1")
    pipeline = AutoPipeline(fake)
    assert await pipeline.execute_many([("GET", "x"), ("PTTL", "x"), ("GET", "y")]) == [
        b"1",
        -1,
        None,
    ]
    assert await pipeline.execute_many([]) == []


async def test_autopipeline_response_error_reaches_only_its_caller(fake: aioredis.Redis) -> None:
    """A command Redis refuses raises ResponseError for its caller; the others get replies."""
    await fake.lpush("list", "x")
    await fake.set("s", "v")
    pipeline = AutoPipeline(fake)
    good, bad, after = await asyncio.gather(
        pipeline.execute("GET", "s"),
        pipeline.execute("GET", "list"),
        pipeline.execute("GET", "s"),
        return_exceptions=True,
    )
    assert (good, after) == (b"v", b"v")
    assert isinstance(bad, ResponseError) and "WRONGTYPE" in str(bad)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await pipeline.execute_many([("GET", "s"), ("GET", "list")])
    assert pipeline.round_trips == 2


async def test_autopipeline_bad_argument_fails_only_its_caller(fake: aioredis.Redis) -> None:
    """An argument redis-py cannot encode raises DataError before anything is sent."""
    pipeline = AutoPipeline(fake)
    await pipeline.execute("SET", "k", b"v")
    for bad in (None, True, object()):
        with pytest.raises(DataError):
            await pipeline.execute("SET", "k", bad)
    assert await pipeline.execute("GET", "k") == b"v"


async def test_autopipeline_cancelled_caller_keeps_the_stream_in_step(fake: aioredis.Redis) -> None:
    """A caller cancelled before its batch leaves is skipped; later replies still match."""
    await fake.mset({"a": "1", "b": "2"})
    pipeline = AutoPipeline(fake)
    doomed = asyncio.ensure_future(pipeline.execute("GET", "a"))
    kept = asyncio.ensure_future(pipeline.execute("GET", "b"))
    await asyncio.sleep(0)  # both queued, runner not yet run
    doomed.cancel()
    assert await kept == b"2"
    assert doomed.cancelled()
    assert await pipeline.execute("GET", "a") == b"1"


async def test_autopipeline_releases_its_connection_when_idle(fake: aioredis.Redis) -> None:
    """Once no command is queued for a tick, the connection goes back to the pool."""
    pipeline = AutoPipeline(fake)
    await pipeline.execute("PING")
    for _ in range(3):
        await asyncio.sleep(0)
    assert pipeline._runner is None
    assert not fake.connection_pool._in_use_connections


async def test_autopipeline_supports_plain_pooled_clients_only(fake: aioredis.Redis) -> None:
    """Cluster-like or single-connection clients are left to redis-py."""
    assert supports_auto_pipeline(fake)
    assert not supports_auto_pipeline(object())
    single = aioredis.Redis(single_connection_client=True)
    assert not supports_auto_pipeline(single)
    await single.aclose()


class _Tracing:
    """The part of cachekit's Tracing the Redis hooks read: an SDK tracer, always live."""

    def __init__(self, exporter: Any) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = provider.get_tracer("test")
        self.off = False

    def live(self) -> bool:
        return True


async def test_autopipeline_commands_are_counted_and_traced(fake: aioredis.Redis) -> None:
    """The backend's command hook sees auto-pipelined commands: a CLIENT span and a count
    per caller, a get with its TTL read named GET; nothing once unhooked."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from cachekit.telemetry.commands import CommandTelemetry

    config = CacheConfigBuilder().with_preset("simple").with_redis("redis://fake").build()
    backend = RedisBackend.from_config(config, client=fake)
    assert backend.auto_pipeline is not None
    exporter = InMemorySpanExporter()
    recorder: Any = type("Recorder", (), {"redis_calls": 0})()
    backend.observe(CommandTelemetry(recorder, _Tracing(exporter)))  # type: ignore[arg-type]
    await asyncio.gather(backend.set("k", b"v"), backend.get("k"))
    await backend.get_with_ttl("k")
    assert recorder.redis_calls == 3
    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == ["GET", "GET", "SET"]  # GET + PTTL in one round trip is named GET
    backend.observe(None)
    await backend.get("k")
    assert recorder.redis_calls == 3
