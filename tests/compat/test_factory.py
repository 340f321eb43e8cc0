"""``CacheFactory`` with the original's arguments: every method, called plainly and awaited
as the original's coroutine methods were."""

from __future__ import annotations

import pytest

from cachekit import (
    AIResponseCache,
    CacheConfig,
    CacheConfigBuilder,
    CacheFactory,
    CachePerformanceMonitor,
    CacheUnavailableError,
    GenericRedisCache,
    InMemoryCache,
)
from tests.helpers_net import free_port
from tests.redis_server import RedisServer


@pytest.mark.redis
async def test_factory_for_web_app_original_arguments(redis_server: RedisServer) -> None:
    """``await factory.for_web_app(...)`` with the original's positional arguments gives a
    connected GenericRedisCache with those settings."""
    cache = await CacheFactory().for_web_app(
        redis_server.url, 1800, True, 200, 2000, 6, None, False
    )
    try:
        assert isinstance(cache, GenericRedisCache)
        config = cache.config
        assert config is not None
        assert (config.ttl.default, config.memory.max_entries, config.compression.threshold) == (
            1800,
            200,
            2000,
        )
        assert (await cache.health()).status == "ok"
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
    finally:
        await cache.aclose()


@pytest.mark.redis
async def test_factory_for_ai_app_with_monitor(redis_server: RedisServer) -> None:
    """``for_ai_app(performance_monitor=m)`` gives an AI cache whose stack reports to ``m``."""
    monitor = CachePerformanceMonitor()
    cache = CacheFactory.for_ai_app(
        redis_server.url, 3600, True, 100, 1000, 6, 500, 40, {"qa": 30}, performance_monitor=monitor
    )
    assert isinstance(cache, AIResponseCache) and isinstance(cache, GenericRedisCache)
    assert cache.performance_monitor is monitor and cache.operation_ttls["qa"] == 30
    assert cache.text_hash_threshold == 500 and cache.memory_cache_size == 40
    async with cache:
        key = cache.build_key("question text", "qa", {"question": "why?"})
        await cache.set(key, {"answer": "because"})
        assert await cache.get(key) == {"answer": "because"}
    assert monitor.cache_hits == 1
    assert monitor.get_performance_stats()["key_generation"]["count"] == 1


@pytest.mark.redis
async def test_factory_for_testing_forms(redis_server: RedisServer) -> None:
    """Memory (default, ``"memory"``, ``use_memory_cache=True``) or a Redis URL, short TTLs."""
    for memory in (
        CacheFactory.for_testing(),
        CacheFactory.for_testing("memory"),
        await CacheFactory().for_testing(use_memory_cache=True),
    ):
        assert isinstance(memory, InMemoryCache) and memory.default_ttl == 60
    redis = await CacheFactory().for_testing(redis_server.url)
    try:
        assert isinstance(redis, GenericRedisCache) and redis.memory_cache_size == 0
        assert redis.default_ttl == 60
        await redis.set("t", 1)
        assert await redis.get("t") == 1
    finally:
        await redis.aclose()
    with pytest.raises(ValueError, match="cache_type"):
        CacheFactory.for_testing("bogus")


def test_factory_create_cache_from_config_every_input() -> None:
    """A typed config, the original's record, its ``to_dict()`` and a flat dict all work."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    typed = CacheConfigBuilder().with_preset("ai-development").with_redis(url).build()
    assert isinstance(CacheFactory.create_cache_from_config(typed), AIResponseCache)
    record = CacheConfig(redis_url=url, default_ttl=30)
    from_record = CacheFactory.create_cache_from_config(record, fail_on_connection_error=False)
    from_dict = CacheFactory.create_cache_from_config(record.to_dict())
    for cache in (from_record, from_dict):
        assert type(cache) is GenericRedisCache and cache.default_ttl == 30
    strict = CacheFactory.create_cache_from_config(
        {"redis_url": url}, fail_on_connection_error=True
    )
    assert strict.config is not None and strict.config.redis.fail_on_connection_error is True
    with pytest.raises(TypeError):
        CacheFactory.create_cache_from_config(42)


async def test_factory_fail_on_connection_error_raises_when_awaited() -> None:
    """With ``fail_on_connection_error=True`` an unreachable Redis fails the awaited factory."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(CacheUnavailableError):
        await CacheFactory().for_web_app(url, fail_on_connection_error=True)


@pytest.mark.redis
async def test_factory_readme_migration_example_runs(redis_server: RedisServer) -> None:
    """The README's "Migrating from the original" example runs as written."""
    from pathlib import Path

    from tests.helpers_examples import run_example

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Migrating from the original", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope = await run_example(code, redis_server.url)
    cache = scope["cache"]
    assert isinstance(cache, AIResponseCache)
    assert await cache.get(scope["key"]) == {"summary": "Brief summary"}
    assert scope["monitor"].get_performance_stats()["key_generation"]["count"] == 1
    await cache.aclose()
