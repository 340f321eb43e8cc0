"""``InMemoryCache`` built with the original's arguments, and its ``get_stats`` keys and
extra methods."""

from __future__ import annotations

import pytest

from cachekit import CacheFactory, InMemoryCache
from cachekit.backends.memory import InMemoryCache as CoreInMemoryCache
from tests.conftest import FakeClock

ORIGINAL_STATS_KEYS = {
    "total_entries",
    "expired_entries",
    "active_entries",
    "max_size",
    "utilization",
    "utilization_percent",
    "default_ttl",
    "hits",
    "misses",
    "hit_rate",
    "evictions",
    "memory_usage_bytes",
    "memory_cache_entries",
    "memory_cache_size",
    "memory_usage",
}


async def test_memory_original_constructor_and_stats_keys(clock: FakeClock) -> None:
    """``InMemoryCache(default_ttl, max_size, fail_on_connection_error)`` and the original's
    ``get_stats`` keys, with ``hit_rate`` in percent."""
    cache = InMemoryCache(60, 4, False, clock=clock)
    await cache.set("a", {"x": 1})
    await cache.set("b", "v", ttl=1)
    assert await cache.get("a") == {"x": 1}
    assert await cache.get("missing") is None
    clock.advance(2)
    stats = cache.get_stats()
    assert set(stats) >= ORIGINAL_STATS_KEYS
    assert (stats["hits"], stats["misses"], stats["hit_rate"]) == (1, 1, 50.0)
    assert (stats["active_entries"], stats["total_entries"], stats["expired_entries"]) == (1, 1, 0)
    assert (stats["utilization"], stats["utilization_percent"]) == ("1/4", 25.0)
    assert stats["memory_usage_bytes"] > 0 and stats["memory_usage"].endswith("B")
    assert (stats["default_ttl"], stats["max_size"], stats["memory_cache_size"]) == (60, 4, 4)


async def test_memory_original_methods(clock: FakeClock) -> None:
    """exists, get_ttl, size, get_keys, get_active_keys, invalidate_pattern and the stats
    methods answer in the original's shapes."""
    cache = InMemoryCache(default_ttl=60, max_size=10, clock=clock)
    for key in ("user:1", "user:2", "session:a"):
        await cache.set(key, key)
    assert await cache.exists("user:1") and await cache.get_ttl("user:1") == 60
    assert cache.size() == 3 and cache.get_active_keys() == cache.get_keys()
    assert await cache.invalidate_pattern("user:*", operation_context="test") == 2
    assert await cache.invalidate_pattern("[s]ession:a") == 0  # only * and ? are wildcards
    assert cache.get_invalidation_frequency_stats()["total_operations"] == 2
    assert cache.get_invalidation_recommendations() == []
    statistics = cache.get_cache_statistics()
    assert set(statistics) == {
        "active_entries",
        "total_entries",
        "memory_usage",
        "max_size",
        "utilization_percent",
    }
    status = await cache.get_cache_stats()
    assert status["redis"]["status"] == "disconnected"
    assert status["memory"]["entries"] == 1 and status["performance"]["cache_type"] == "memory_only"
    assert await cache.invalidate_pattern("") == 1
    assert cache.size() == 0


async def test_memory_clear_works_with_and_without_await() -> None:
    """``clear()`` clears at once (the original's synchronous call) and may be awaited."""
    cache = InMemoryCache()
    await cache.set("a", 1)
    cache.clear()
    assert cache.size() == 0
    await cache.set("b", 2)
    await cache.clear()
    assert cache.size() == 0


async def test_memory_awaitable_and_core_instances_count() -> None:
    """``await InMemoryCache()`` gives the cache; core memory tiers count as InMemoryCache."""
    cache = await CacheFactory().for_testing(use_memory_cache=True)
    assert isinstance(cache, InMemoryCache)
    assert isinstance(CoreInMemoryCache(), InMemoryCache)
    with pytest.raises(TypeError):
        InMemoryCache(60, 10, False, "extra")  # type: ignore[call-arg, misc]
