"""Tiering: memory in front of Redis keeps Redis's remaining TTL, writes through, deletes both."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cachekit import CacheConfigBuilder, InMemoryCache, TieredCache
from cachekit.backends.redis.backend import RedisBackend
from tests.redis_server import RedisServer


@pytest.fixture
def pair(shared_redis_server: RedisServer) -> tuple[TieredCache, RedisBackend]:
    """A tiered cache and a second, Redis-only client of the same namespace."""
    config = (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_overrides(
            {"namespace": "t" + uuid.uuid4().hex[:10], "redis.url": shared_redis_server.url}
        )
        .build()
    )
    tiered = TieredCache(
        InMemoryCache(default_ttl=3600, max_size=100), RedisBackend.from_config(config)
    )
    return tiered, RedisBackend.from_config(config)


async def test_tiered_promotion_keeps_remaining_ttl(pair: tuple[TieredCache, RedisBackend]) -> None:
    """A value promoted from Redis expires from memory when it expires in Redis."""
    tiered, other = pair
    await other.set("k", {"v": 1}, ttl=0.6)
    await asyncio.sleep(0.2)
    assert await tiered.get("k") == {"v": 1}
    remaining = await tiered.near.get_ttl("k")
    assert remaining is not None and 0 < remaining <= 0.45
    await asyncio.sleep(0.6)
    assert await tiered.near.get("k") is None
    assert await tiered.get("k") is None
    await tiered.aclose()
    await other.aclose()


async def test_tiered_promotion_of_key_without_expiry(
    pair: tuple[TieredCache, RedisBackend],
) -> None:
    """A Redis entry without TTL is promoted without TTL."""
    tiered, other = pair
    await other.set("k", "forever", ttl=None)
    assert await tiered.get("k") == "forever"
    assert await tiered.near.exists("k")
    assert await tiered.near.get_ttl("k") is None
    await tiered.aclose()
    await other.aclose()


async def test_tiered_write_through_and_delete_both(pair: tuple[TieredCache, RedisBackend]) -> None:
    """set writes both tiers; delete removes from both."""
    tiered, other = pair
    await tiered.set("k", [1, 2], ttl=60)
    assert await other.get("k") == [1, 2]
    assert await tiered.near.get("k") == [1, 2]
    assert await tiered.delete("k") is True
    assert await other.get("k") is None
    assert await tiered.near.get("k") is None
    await tiered.aclose()
    await other.aclose()


async def test_tiered_get_many_promotes_with_ttl(pair: tuple[TieredCache, RedisBackend]) -> None:
    """get_many fills memory from Redis with each entry's remaining TTL."""
    tiered, other = pair
    await other.set_many({"a": 1, "b": 2}, ttl=30)
    assert await tiered.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    ttl_a = await tiered.near.get_ttl("a")
    assert ttl_a is not None and 25 < ttl_a <= 30
    await tiered.aclose()
    await other.aclose()
