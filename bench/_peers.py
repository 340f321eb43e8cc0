"""The peers, each set up the way its documentation shows, with TTLs on like cachekit's."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from aiocache import RedisCache, SimpleMemoryCache
from cachetools import TTLCache
from cashews import Cache as CashewsCache

TTL = 3600


def cachetools_cache(max_size: int) -> TTLCache[str, Any]:
    return TTLCache(maxsize=max_size, ttl=TTL)


def cashews_memory(max_size: int) -> CashewsCache:
    cache = CashewsCache()
    cache.setup(f"mem://?size={max_size}")
    return cache


def aiocache_memory() -> SimpleMemoryCache:
    return SimpleMemoryCache(namespace="aio")


def cashews_redis(url: str, pool: int) -> CashewsCache:
    cache = CashewsCache()
    cache.setup(url, max_connections=pool, wait_for_connection_timeout=30, socket_timeout=30)
    return cache


def aiocache_redis(port: int, pool: int) -> RedisCache:
    return RedisCache(
        endpoint="127.0.0.1",
        port=port,
        namespace="aio",
        pool_max_size=pool,
        connection_pool_class=aioredis.BlockingConnectionPool,
        connection_pool_kwargs={"timeout": 30},
    )


class RawRedisJson:
    """redis-py's asyncio client with json: the baseline every Redis cache builds on."""

    def __init__(self, url: str, pool: int) -> None:
        self.client = aioredis.Redis.from_pool(
            aioredis.BlockingConnectionPool.from_url(url, max_connections=pool, timeout=30)
        )

    async def get(self, key: str) -> Any:
        raw = await self.client.get(key)
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any) -> None:
        await self.client.set(key, json.dumps(value), ex=TTL)

    async def get_many(self, keys: list[str]) -> list[Any]:
        return [None if raw is None else json.loads(raw) for raw in await self.client.mget(keys)]

    async def aclose(self) -> None:
        await self.client.aclose()
