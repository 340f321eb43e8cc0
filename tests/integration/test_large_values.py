"""Large values through the default stack on a real server: a 50 MB value is compressed
off the event loop, reaches Redis within its (size-extended) deadline, counts no failure,
and three in a row leave the circuit closed."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest
import redis.asyncio as aioredis

from cachekit import CacheConfigBuilder, CacheInterface, ResilientCache, resolve
from cachekit.backends.codec import Codec
from cachekit.backends.redis.backend import OFFLOAD_BYTES
from cachekit.layers.wrapper import memory_tier, stack_layers
from tests.redis_server import RedisServer

MiB = 1024 * 1024


def stack(server: RedisServer, **extra: Any) -> CacheInterface:
    """The development preset's stack (telemetry and resilience on, memory tier in front),
    sized for 50 MB values."""
    config = (
        CacheConfigBuilder()
        .with_preset("development")
        .with_overrides(
            {
                "redis.url": server.url,
                "memory.enabled": True,
                "memory.max_bytes": 256 * MiB,
                "compression.max_value_bytes": 128 * MiB,
                **extra,
            }
        )
        .build()
    )
    return resolve(config)


def resilient(cache: CacheInterface) -> ResilientCache:
    found = [layer for layer in stack_layers(cache) if isinstance(layer, ResilientCache)]
    assert found, "the default stack has a resilience layer"
    return found[0]


def large_value(seed: int) -> str:
    """About 50 MB of text that compresses (hex digits: half the entropy of bytes)."""
    return f"{seed}:" + os.urandom(25 * MiB).hex()


async def test_large_values_compress_off_the_loop_and_reach_redis(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed_on: list[tuple[int, int]] = []  # (payload size, thread id)
    original = Codec.pack

    def spy(self: Codec, payload: bytes, *, report: bool = True) -> bytes:
        packed_on.append((len(payload), threading.get_ident()))
        return original(self, payload, report=report)

    monkeypatch.setattr(Codec, "pack", spy)
    cache = stack(redis_server)
    failures: list[str] = []
    async with cache:
        layer = resilient(cache)
        record = layer.breaker.record_failure

        def counted(reason: str) -> None:
            failures.append(reason)
            record(reason)

        monkeypatch.setattr(layer.breaker, "record_failure", counted)
        values = [large_value(i) for i in range(3)]
        for i, value in enumerate(values):
            await cache.set(f"big:{i}", value, 300)
        # every one of them is in Redis, whole
        raw = aioredis.from_url(redis_server.url)
        try:
            names = [k async for k in raw.scan_iter(match="*big:*")]
            assert len(names) == 3
            for name in names:
                assert await raw.strlen(name) > 1 * MiB
        finally:
            await raw.aclose()
        memory = memory_tier(cache)
        assert memory is not None
        for i in range(3):  # from Redis, not from the memory tier
            await memory.delete(f"big:{i}")
            assert await cache.get(f"big:{i}") == values[i]
        assert failures == []
        assert layer.breaker.closed
        assert (await cache.health()).status == "ok"
    loop_thread = threading.get_ident()
    large = [thread for size, thread in packed_on if size >= OFFLOAD_BYTES]
    assert len(large) == 3
    assert all(thread != loop_thread for thread in large)
    small = [thread for size, thread in packed_on if size < OFFLOAD_BYTES]
    assert all(thread == loop_thread for thread in small)  # small values stay on the loop


async def test_large_values_get_a_deadline_extended_by_their_size(
    redis_server: RedisServer,
) -> None:
    """With a 5 ms socket timeout no 50 MB write fits the plain deadline; the size-extended
    one lets it through while small commands keep theirs."""
    cache = stack(redis_server, **{"redis.socket_timeout": 0.005, "redis.connect_timeout": 1.0})
    async with cache:
        layer = resilient(cache)
        value = large_value(7)

        async def small(i: int) -> Any:
            await cache.set(f"small:{i}", i, 60)
            return await cache.get(f"small:{i}")

        results = await asyncio.gather(cache.set("big", value, 60), *[small(i) for i in range(8)])
        assert results[1:] == list(range(8))
        assert layer.breaker.failures == 0
        raw = aioredis.from_url(redis_server.url)
        try:
            names = [k async for k in raw.scan_iter(match="*big")]
            assert len(names) == 1 and await raw.strlen(names[0]) > 1 * MiB
        finally:
            await raw.aclose()
