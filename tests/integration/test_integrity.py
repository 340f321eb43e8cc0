"""Signed and encrypted entries (``backends.integrity``) on a real redis-server: a value
rewritten by another client is a miss, Redis holds ciphertext only."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from cachekit import Codec, resolve
from tests.helpers_integrity import ENC_A, KEY_A, backend, build
from tests.redis_server import RedisServer


async def test_integrity_acceptance_rewrite_by_another_client_is_a_miss(
    shared_redis_server: RedisServer,
) -> None:
    """Acceptance: with signing on, a value rewritten in Redis by another client reads as a miss."""
    config = build(
        **{
            "redis.url": shared_redis_server.url,
            "namespace": "integrity",
            "security.signing_keys": [KEY_A],
        }
    )
    other = aioredis.Redis.from_url(shared_redis_server.url)
    try:
        async with resolve(config) as cache:
            await cache.set("price", 100)
            await cache.set("other", 999)
            assert await cache.get("price") == 100
            name = config.key_prefix + "price"
            # an attacker's value in cachekit's own (unsigned) format
            await other.set(name, Codec().encode(1))
            assert await cache.get("price") is None
            # a genuine signed entry moved from another key
            await other.set(name, await other.get(config.key_prefix + "other"))
            assert await cache.get("price") is None
            # a tiered cache with an empty memory tier misses too
            tiered = resolve(build(**{**_redis_of(config), "memory.enabled": True}))
            async with tiered:
                assert await tiered.get("price") is None
            assert backend(cache).sealed is not None
            assert backend(cache).sealed.rejected == 2  # type: ignore[union-attr]
    finally:
        await other.aclose()


def _redis_of(config: Any) -> dict[str, Any]:
    return {
        "redis.url": config.redis.url,
        "namespace": config.namespace,
        "security.signing_keys": list(config.security.signing_keys),
    }


async def test_integrity_encrypted_on_real_redis(shared_redis_server: RedisServer) -> None:
    """With encryption keys, Redis holds ciphertext only, and values round-trip."""
    config = build(
        **{
            "redis.url": shared_redis_server.url,
            "namespace": "encrypted",
            "security.encryption_keys": [ENC_A],
        }
    )
    other = aioredis.Redis.from_url(shared_redis_server.url)
    try:
        async with resolve(config) as cache:
            await cache.set("card", {"number": "4111 1111 1111 1111"})
            raw = await other.get(config.key_prefix + "card")
            assert raw is not None and b"4111" not in raw
            assert await cache.get("card") == {"number": "4111 1111 1111 1111"}
    finally:
        await other.aclose()
