"""The original documentation's non-AI factory example runs as written with cachekit, on a
real redis-server."""

from __future__ import annotations

from cachekit import CacheConfig, CacheInterface
from tests.helpers_examples import run_example
from tests.redis_server import RedisServer

# From the seed documentation ("Usage Example (Phase 3 Factory Pattern)"), verbatim except
# for the import path. The Redis URL is swapped for the test's own server below.
FACTORY_EXAMPLE = """
from cachekit import CacheFactory, CacheConfigBuilder

# Explicit cache creation for web applications
web_cache = CacheFactory.for_web_app(redis_url="redis://localhost:6379")
await web_cache.connect()

# Configuration-based cache creation
config = (CacheConfigBuilder()
          .for_environment("production")
          .with_redis("redis://localhost:6379")
          .with_ai_features()
          .build())
cache = CacheFactory.create_cache_from_config(config)

# Testing cache creation
test_cache = CacheFactory.for_testing("memory")
"""


async def test_seed_factory_example_runs_as_written(redis_server: RedisServer) -> None:
    """The factory example builds connected caches and a production config."""
    scope = await run_example(FACTORY_EXAMPLE, redis_server.url)
    web_cache: CacheInterface = scope["web_cache"]
    await web_cache.set("page", {"html": "<p>hi</p>"}, ttl=60)
    assert await web_cache.get("page") == {"html": "<p>hi</p>"}
    config: CacheConfig = scope["config"]
    assert config.environment == "production"
    assert config.ai.enabled is True
    assert config.ai.operation_ttls["summarize"] == 14400
    cache: CacheInterface = scope["cache"]
    await cache.connect()
    await cache.set("k", [1, 2, 3])
    assert await cache.get("k") == [1, 2, 3]
    test_cache: CacheInterface = scope["test_cache"]
    await test_cache.set("t", "v")
    assert await test_cache.get("t") == "v"
    for c in (web_cache, cache, test_cache):
        await c.aclose()
