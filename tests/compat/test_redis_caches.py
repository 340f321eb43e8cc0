"""``GenericRedisCache`` and ``AIResponseCache`` built with the original's constructor
arguments, every public method of the original called on a real redis-server."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from cachekit import (
    AIResponseCache,
    CacheConfigBuilder,
    CacheInterface,
    CachePerformanceMonitor,
    GenericRedisCache,
    SecurityConfig,
    SecurityValidationResult,
    resolve,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

STATUS_KEYS = {
    "timestamp",
    "security_level",
    "configuration",
    "last_validation",
    "security_events_count",
    "recommendations_count",
}
TEST_KEYS = {
    "timestamp",
    "configuration_valid",
    "connection_successful",
    "authentication_working",
    "encryption_active",
    "overall_secure",
    "test_details",
    "errors",
}


async def test_generic_redis_cache_original_arguments_and_methods(
    redis_server: RedisServer,
) -> None:
    """The original's positional constructor works and every public method answers in
    the original's shape."""
    monitor = CachePerformanceMonitor()
    cache = GenericRedisCache(redis_server.url, 120, True, 50, 500, 6, monitor, None, False)
    assert (cache.redis_url, cache.default_ttl, cache.memory_cache_size) == (
        redis_server.url,
        120,
        50,
    )
    assert (cache.compression_threshold, cache.compression_level) == (500, 6)
    assert cache.performance_monitor is monitor and cache.fail_on_connection_error is False
    events: list[tuple[str, Any]] = []
    for event in ("get_success", "get_miss", "set_success", "delete_success"):
        cache.register_callback(event, lambda *args, e=event: events.append((e, args[0])))
    assert await cache.connect() is True
    await cache.set("page", {"html": "<p>hi</p>"}, ttl=60)
    assert await cache.get("page") == {"html": "<p>hi</p>"}
    assert await cache.exists("page") is True
    assert await cache.delete("page") is True
    assert await cache.get("page") is None
    assert await cache.exists("page") is False
    assert [e for e, _ in events] == ["set_success", "get_success", "delete_success", "get_miss"]
    assert monitor.cache_hits == 1 and monitor.cache_misses == 1
    assert monitor.get_performance_stats()["total_cache_operations"] >= 5
    status = cache.get_security_status()
    assert set(status) >= STATUS_KEYS and status["security_level"] == "LOW"
    assert all(isinstance(line, str) for line in cache.get_security_recommendations())
    verdict = await cache.validate_security()
    assert isinstance(verdict, SecurityValidationResult)
    assert verdict.detailed_checks["connectivity"] == "OK"
    assert "No authentication configured" in verdict.vulnerabilities
    assert "cachekit security report" in await cache.generate_security_report()
    tested = await cache.test_security_configuration()
    assert set(tested) >= TEST_KEYS and tested["connection_successful"] is True
    await cache.set("again", 1)
    await cache.clear(operation_context="test_clear")
    assert await cache.get("again") is None
    assert list(cache.memory_cache) == [] and cache.memory_cache_order == []
    await cache.disconnect()
    await cache.disconnect()  # safe twice, like aclose


async def test_generic_redis_cache_is_awaitable_and_connects(redis_server: RedisServer) -> None:
    """``await cache`` connects it and gives it back (the original's awaited factory); its
    own monitor has the original's counters."""
    cache = await GenericRedisCache(redis_server.url)
    try:
        health = await cache.health()
        assert health.status == "ok"
        monitor = cache.performance_monitor
        assert isinstance(monitor, CachePerformanceMonitor) and monitor is cache.monitor
        await cache.set("k", 1)
        assert await cache.get("k") == 1
        assert (monitor.cache_hits, monitor.cache_misses) == (1, 0)
    finally:
        await cache.aclose()


async def test_generic_redis_cache_legacy_security_keywords(redis_server: RedisServer) -> None:
    """The original's security keywords (``redis_password``, timeouts) reach the config."""
    cache = GenericRedisCache(
        redis_server.url, redis_password="s3cret-Pw-0123", connection_timeout=3, max_retries=2
    )
    config = cache.config
    assert config is not None
    assert (config.redis.password, config.redis.connect_timeout, config.redis.retries) == (
        "s3cret-Pw-0123",
        3,
        2,
    )
    assert "s3cret" not in repr(cache) and "s3cret" not in str(cache.get_security_status())


async def test_generic_redis_cache_security_config_fields_reach_the_connection(
    redis_server: RedisServer,
) -> None:
    """A ``SecurityConfig`` with the original's fields sets the connection's settings."""
    security = SecurityConfig(connection_timeout=2.5, socket_timeout=1.5, max_retries=0)
    cache = GenericRedisCache(redis_server.url, security_config=security)
    config = cache.config
    assert config is not None
    assert (config.redis.connect_timeout, config.redis.socket_timeout) == (2.5, 1.5)
    assert cache.security_config is security


async def test_ai_response_cache_original_arguments_and_methods(redis_server: RedisServer) -> None:
    """The original's positional constructor works, the cache is a GenericRedisCache, and
    every public method answers in the original's shape."""
    monitor = CachePerformanceMonitor()
    cache = AIResponseCache(
        redis_server.url,
        600,
        10,
        hashlib.sha256,
        1000,
        6,
        {"small": 50, "medium": 500, "large": 5000},
        20,
        None,
        True,
        monitor,
        {"summarize": 300},
        None,
        False,
    )
    assert isinstance(cache, GenericRedisCache) and isinstance(cache, CacheInterface)
    assert (cache.default_ttl, cache.text_hash_threshold, cache.memory_cache_size) == (600, 10, 20)
    assert cache.operation_ttls["summarize"] == 300 and cache.performance_monitor is monitor
    assert await cache.connect() is True
    key = cache.build_key("Document to process", "summarize", {"max_length": 100})
    other = cache.build_key("x" * 600, "sentiment", {})
    await cache.set(key, {"summary": "Brief summary"}, ttl=3600)
    await cache.set(other, {"label": "positive"})
    assert await cache.get(key) == {"summary": "Brief summary"}
    assert await cache.get(cache.build_key("absent", "summarize", {})) is None
    assert cache.get_cache_hit_ratio() == 50.0
    stats = await cache.get_cache_stats()
    assert {"redis", "memory", "performance", "ai_metrics"} <= set(stats)
    assert stats["redis"]["status"] == "connected"
    assert {"memory_cache_entries", "memory_cache_size_limit", "memory_cache_utilization"} <= set(
        stats["memory"]
    )
    metrics = cache.ai_metrics
    assert metrics["cache_hits_by_operation"]["summarize"] == 1
    assert metrics["cache_misses_by_operation"]["summarize"] == 1
    assert sum(metrics["text_tier_distribution"].values()) == 3
    summary = cache.get_performance_summary()
    assert {"hit_ratio", "total_operations", "cache_hits", "cache_misses"} <= set(summary)
    assert {"recent_avg_cache_operation_time", "text_tier_distribution"} <= set(summary)
    ai_summary = cache.get_ai_performance_summary()
    assert ai_summary["overall_hit_rate"] == 50.0
    assert {"hit_rate_by_operation", "key_generation_stats", "inherited_stats"} <= set(ai_summary)
    assert ai_summary["key_generation_stats"]["total_keys_generated"] == 3
    tiers = cache.get_text_tier_statistics()
    assert tiers["tier_configuration"] == {"small": 50, "medium": 500, "large": 5000}
    assert {"tier_distribution", "tier_performance_analysis", "data_completeness"} <= set(tiers)
    performance = cache.get_operation_performance()
    assert performance["operations"]["summarize"]["configured_ttl"] == 300
    assert {"p50", "p95", "p99"} == set(performance["operations"]["summarize"]["percentiles"])
    assert performance["summary"]["total_operations_measured"] >= 3
    assert isinstance(cache.memory_cache, dict)
    assert cache.memory_cache_order == list(cache.memory_cache)
    assert await cache.invalidate_pattern("summarize") == 1
    assert await cache.invalidate_by_operation("sentiment", operation_context="test") == 1
    assert monitor.get_invalidation_frequency_stats()["total_invalidations"] == 2
    await cache.set(key, "again")
    await cache.clear(operation_context="test_clear")
    assert await cache.get(key) is None
    await cache.disconnect()


async def test_ai_response_cache_from_resolve_counts_as_both(redis_server: RedisServer) -> None:
    """The AI layer ``resolve`` builds counts as an AIResponseCache and a GenericRedisCache."""
    config = CacheConfigBuilder().with_preset("ai-development").with_redis(redis_server.url)
    stack = resolve(config.build())
    assert isinstance(stack, AIResponseCache)
    assert isinstance(stack, GenericRedisCache)
    await stack.aclose()
