"""The original's test-cache dependencies: ``get_test_cache``, ``get_test_redis_cache``.

They take no request, so FastAPI calls them as they are and so may a test. The other
dependency names are in ``cachekit.web.legacy``; ``cachekit.fastapi`` exports them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from cachekit.compat.factory import CacheFactory
from cachekit.compat.memory import InMemoryCache
from cachekit.compat.redis import GenericRedisCache
from cachekit.config.settings import environ_or_process

__all__ = ["TEST_REDIS_URL", "get_test_cache", "get_test_redis_cache"]

TEST_REDIS_URL = "redis://localhost:6379/15"
"""Redis of ``get_test_redis_cache`` unless the ``TEST_REDIS_URL`` variable names another."""


async def get_test_cache() -> InMemoryCache:
    """A fresh memory-only cache from the ``testing`` preset."""
    return cast(InMemoryCache, CacheFactory.for_testing(use_memory_cache=True))


async def get_test_redis_cache(environ: Mapping[str, str] | None = None) -> GenericRedisCache:
    """A connected Redis cache from the ``testing`` preset (no memory tier) at
    ``TEST_REDIS_URL``; an unreachable Redis degrades to memory as every stack does."""
    url = environ_or_process(environ).get("TEST_REDIS_URL", TEST_REDIS_URL)
    cache = cast(GenericRedisCache, CacheFactory.for_testing(url, fail_on_connection_error=False))
    return await cache
