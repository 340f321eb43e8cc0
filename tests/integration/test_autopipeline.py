"""AutoPipeline on a real redis-server: killed, paused and resumed under queued callers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cachekit import CacheConfigBuilder, CacheTimeoutError, CacheUnavailableError
from cachekit.backends.redis.autopipeline import AutoPipeline
from cachekit.backends.redis.backend import RedisBackend
from tests.redis_server import RedisServer


def real_client(server: RedisServer, *, timeout: float = 5.0) -> aioredis.Redis:
    """A client of ``server`` that never retries and gives up reading after ``timeout``."""
    return aioredis.Redis.from_url(
        server.url, socket_timeout=timeout, retry=Retry(NoBackoff(), 0), max_connections=4
    )


@pytest.mark.redis
async def test_autopipeline_connection_error_reaches_every_caller(
    redis_server: RedisServer,
) -> None:
    """When the server dies, each queued caller gets its own redis-py ConnectionError."""
    client = real_client(redis_server)
    pipeline = AutoPipeline(client)
    await pipeline.execute("SET", "k", b"v")
    redis_server.kill()
    errors = await asyncio.gather(
        *(pipeline.execute("GET", "k") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(e, RedisConnectionError) for e in errors)
    assert len({id(e) for e in errors}) == 5
    await pipeline.aclose()
    await client.aclose()


@pytest.mark.redis
async def test_autopipeline_timeout_reaches_callers_and_recovers(redis_server: RedisServer) -> None:
    """A hung server times every caller out; once it resumes the pipeline works again."""
    client = real_client(redis_server, timeout=0.2)
    pipeline = AutoPipeline(client)
    await pipeline.execute("SET", "k", b"v")
    redis_server.pause()
    try:
        errors = await asyncio.gather(
            *(pipeline.execute("GET", "k") for _ in range(3)), return_exceptions=True
        )
    finally:
        redis_server.resume()
    assert all(isinstance(e, RedisTimeoutError) for e in errors)
    assert await pipeline.execute("GET", "k") == b"v"
    await pipeline.aclose()
    await client.aclose()


@pytest.mark.redis
async def test_autopipeline_caller_cancelled_mid_flight_leaves_replies_aligned(
    redis_server: RedisServer,
) -> None:
    """A caller that times out while its batch is on the wire does not shift others' replies."""
    client = real_client(redis_server)
    await client.mset({"a": "1", "b": "2"})
    pipeline = AutoPipeline(client)
    redis_server.pause()
    try:
        waiting = asyncio.ensure_future(pipeline.execute("GET", "b"))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await pipeline.execute("GET", "a")
    finally:
        redis_server.resume()
    assert await waiting == b"2"
    assert await pipeline.execute("GET", "a") == b"1"
    await pipeline.aclose()
    await client.aclose()


@pytest.mark.redis
async def test_autopipeline_aclose_fails_waiting_callers(redis_server: RedisServer) -> None:
    """Closing while callers wait fails them with ConnectionError instead of leaving them hung."""
    client = real_client(redis_server)
    pipeline = AutoPipeline(client)
    await pipeline.execute("PING")
    redis_server.pause()
    try:
        waiting = asyncio.ensure_future(pipeline.execute("GET", "k"))
        await asyncio.sleep(0.05)
        await pipeline.aclose()
        with pytest.raises(RedisConnectionError):
            await waiting
    finally:
        redis_server.resume()
    await client.aclose()


@pytest.mark.redis
async def test_redis_backend_maps_auto_pipelined_errors(redis_server: RedisServer) -> None:
    """Through RedisBackend, batched failures become CacheUnavailableError / CacheTimeoutError."""
    config = (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_overrides(
            {"redis.url": redis_server.url, "redis.retries": 0, "redis.socket_timeout": 0.2}
        )
        .build()
    )
    assert config.redis.auto_pipeline
    backend = RedisBackend.from_config(config)
    await backend.set("k", "v")
    assert await asyncio.gather(*(backend.get("k") for _ in range(10))) == ["v"] * 10
    redis_server.pause()
    try:
        with pytest.raises(CacheTimeoutError):
            await backend.get("k")
    finally:
        redis_server.resume()
    redis_server.kill()
    with pytest.raises(CacheUnavailableError):
        await backend.get("k")
    await backend.aclose()


@pytest.mark.redis
async def test_autopipeline_replies_stay_aligned_under_cancellation(
    redis_server: RedisServer,
) -> None:
    """Hundreds of tasks, some cancelled at random points, each read only their own key."""
    client = real_client(redis_server)
    pipeline = AutoPipeline(client, max_batch=16)
    await client.mset({f"k{i}": f"v{i}" for i in range(200)})
    wrong: list[tuple[int, Any]] = []

    async def reader(i: int) -> None:
        for _ in range(5):
            reply = await pipeline.execute("GET", f"k{i}")
            if reply != f"v{i}".encode():
                wrong.append((i, reply))

    tasks = [asyncio.ensure_future(reader(i)) for i in range(200)]
    for step, task in enumerate(tasks):
        if step % 7 == 0:
            await asyncio.sleep(0)
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert wrong == []
    assert await pipeline.execute("GET", "k3") == b"v3"
    await pipeline.aclose()
    await client.aclose()
