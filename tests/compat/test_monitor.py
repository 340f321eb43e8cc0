"""``CachePerformanceMonitor`` built with the original's arguments: every ``record_*`` call,
the threshold attributes, and the original's keys in every statistics dict."""

from __future__ import annotations

import pytest

from cachekit import (
    CacheConfigBuilder,
    CachePerformanceMonitor,
    CacheValueError,
    CompressionMetric,
    InMemoryCache,
    InvalidationMetric,
    MemoryUsageMetric,
    PerformanceMetric,
    resolve,
)
from cachekit.telemetry.monitor import CachePerformanceMonitor as CoreMonitor
from tests.conftest import FakeClock

MIB = 1024 * 1024


class Wall:
    """A settable wall clock (seconds since the epoch)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def monitor(clock: FakeClock, wall: Wall, **kwargs: object) -> CachePerformanceMonitor:
    """A monitor on fake clocks, with the original's arguments."""
    return CachePerformanceMonitor(clock=clock, wall=wall, **kwargs)  # type: ignore[arg-type]


def test_monitor_original_constructor_sets_thresholds(clock: FakeClock) -> None:
    """``retention_hours``, ``max_measurements`` and the memory thresholds take effect."""
    m = monitor(
        clock,
        Wall(),
        retention_hours=2,
        max_measurements=3,
        memory_warning_threshold_bytes=MIB,
        memory_critical_threshold_bytes=2 * MIB,
    )
    assert (m.retention_hours, m.max_measurements) == (2, 3)
    assert (m.memory_warning_threshold_bytes, m.memory_critical_threshold_bytes) == (MIB, 2 * MIB)
    assert (m.config.memory_warning_bytes, m.config.memory_critical_bytes) == (MIB, 2 * MIB)
    assert (m.key_generation_threshold, m.cache_operation_threshold) == (0.1, 0.05)
    assert (m.invalidation_rate_warning_per_hour, m.invalidation_rate_critical_per_hour) == (
        50,
        100,
    )
    assert isinstance(m, CoreMonitor)
    assert isinstance(CoreMonitor(), CachePerformanceMonitor)
    with pytest.raises(CacheValueError):
        CachePerformanceMonitor(retention_hours=0)


def test_monitor_threshold_attributes_take_effect_when_set(clock: FakeClock) -> None:
    """Setting a threshold attribute changes the setting, the slow counts and the alerts."""
    m = monitor(clock, Wall())
    m.key_generation_threshold = 0.001
    m.cache_operation_threshold = 0.002
    m.invalidation_rate_warning_per_hour = 1
    assert m.config.slow_key_generation_seconds == 0.001
    assert m.rules.config.slow_operation_seconds == 0.002
    m.record_key_generation_time(0.01, 100, "summarize")
    m.record_cache_operation_time("get", 0.01, True)
    stats = m.get_performance_stats()
    assert stats["key_generation"]["slow_operations"] == 1
    assert stats["cache_operations"]["slow_operations"] == 1
    assert any(a.rule == "slow_key_generation" for a in m.active_alerts)
    m.record_invalidation_event("user:*", 2, 0.01)
    m.record_invalidation_event("user:*", 2, 0.01)
    level = m.get_invalidation_frequency_stats()["thresholds"]["current_alert_level"]
    assert level == "warning"
    with pytest.raises(CacheValueError):
        m.cache_operation_threshold = -1


def test_monitor_record_calls_keep_the_original_measurements(clock: FakeClock) -> None:
    """Each ``record_*`` call keeps the original's dataclass, ``additional_data`` included."""
    wall = Wall()
    m = monitor(clock, wall)
    m.record_key_generation_time(0.002, 1200, "summarize", additional_data={"text_tier": "large"})
    m.record_cache_operation_time("build_key", 0.003, True, 1200, additional_data={"x": 1})
    m.record_cache_operation_time("get", 0.001, False, additional_data={"cache_tier": "redis"})
    m.record_compression_ratio(1000, 250, 0.004, "set")
    metric = m.record_memory_usage({"k": "v" * 100}, {"memory_used_bytes": 5000, "keys": 7})
    m.record_invalidation_event("ai:summarize:*", 4, 0.02, "operation", "ctx", {"why": "test"})
    assert m.key_generation_times == [
        PerformanceMetric(0.002, 1200, wall.now, "summarize", {"text_tier": "large"})
    ]
    assert [op.operation_type for op in m.cache_operation_times] == ["build_key", "get"]
    assert m.compression_ratios == [CompressionMetric(1000, 250, 0.25, 0.004, wall.now, "set")]
    assert isinstance(metric, MemoryUsageMetric) and m.memory_usage_measurements == [metric]
    assert metric.cache_entry_count == 8 and metric.total_cache_size_bytes > 5000
    event = m.invalidation_events[0]
    assert isinstance(event, InvalidationMetric)
    assert (event.pattern, event.keys_invalidated, event.invalidation_type) == (
        "ai:summarize:*",
        4,
        "operation",
    )
    assert (m.cache_hits, m.cache_misses, m.total_operations) == (0, 1, 2)
    assert (m.total_invalidations, m.total_keys_invalidated) == (1, 4)


def test_monitor_lists_respect_retention_and_max_measurements(clock: FakeClock) -> None:
    """Old measurements drop out after ``retention_hours``; at most ``max_measurements`` stay."""
    wall = Wall()
    m = monitor(clock, wall, retention_hours=1, max_measurements=2)
    for duration in (0.1, 0.2, 0.3):
        m.record_key_generation_time(duration, 10)
    assert [x.duration for x in m.key_generation_times] == [0.2, 0.3]
    wall.now += 3601
    m.record_key_generation_time(0.4, 10)
    assert [x.duration for x in m.key_generation_times] == [0.4]


def test_monitor_free_text_patterns_are_kept_as_digests(clock: FakeClock) -> None:
    """A pattern of user text is recorded as a digest label, never verbatim."""
    m = monitor(clock, Wall())
    m.record_invalidation_event("private question about Alice?", 1, 0.0)
    assert m.invalidation_events[0].pattern.startswith("h:")
    assert "Alice" not in str(m.export_metrics())


def test_monitor_statistics_have_the_original_keys(clock: FakeClock) -> None:
    """``get_performance_stats`` and friends carry the original's keys next to cachekit's."""
    m = monitor(clock, Wall(), memory_warning_threshold_bytes=1000)
    for duration in (0.001, 0.001, 0.001, 0.001, 0.05):
        m.record_key_generation_time(duration, 50, "qa")
        m.record_cache_operation_time("get", duration, True)
    m.record_compression_ratio(1000, 500, 0.001)
    m.record_memory_usage({"a": "x" * 2000})
    m.record_invalidation_event("ai:qa:*", 0, 0.01)
    stats = m.get_performance_stats()
    assert {"timestamp", "retention_hours", "cache_hit_rate", "total_cache_operations"} <= set(
        stats
    )
    assert (stats["cache_hits"], stats["cache_misses"], stats["cache_hit_rate"]) == (5, 0, 100.0)
    assert {"total_operations", "avg_duration", "median_duration", "max_duration"} <= set(
        stats["key_generation"]
    )
    assert {"min_duration", "avg_text_length", "max_text_length", "slow_operations"} <= set(
        stats["key_generation"]
    )
    assert stats["cache_operations"]["by_operation_type"]["get"]["count"] == 5
    assert {"avg_compression_ratio", "total_bytes_saved", "overall_savings_percent"} <= set(
        stats["compression"]
    )
    memory = m.get_memory_usage_stats()
    assert {"current", "thresholds", "trends"} <= set(memory)
    assert memory["thresholds"]["warning_threshold_reached"] is True
    assert memory["current"]["cache_entry_count"] == 1
    assert m.get_memory_warnings()[0]["severity"] == "warning"
    invalidation = m.get_invalidation_frequency_stats()
    assert invalidation["patterns"]["most_common_patterns"] == {"ai:qa:*": 1}
    assert invalidation["patterns"]["invalidation_types"] == {"manual": 1}
    assert {"avg_keys_per_invalidation", "avg_duration", "max_duration"} <= set(
        invalidation["efficiency"]
    )
    advice = m.get_invalidation_recommendations()
    assert all({"severity", "issue", "message", "suggestions"} <= set(r) for r in advice)


def test_monitor_empty_statistics_say_so(clock: FakeClock) -> None:
    """Before any record, the original's ``no_measurements`` / ``no_invalidations`` flags."""
    m = monitor(clock, Wall())
    assert m.get_memory_usage_stats()["no_measurements"] is True
    assert m.get_invalidation_frequency_stats()["no_invalidations"] is True
    assert m.get_memory_warnings() == [] and m.get_invalidation_recommendations() == []


def test_monitor_recent_slow_operations_grouped_by_category(clock: FakeClock) -> None:
    """Slow measurements (2x the usual by default) come back under their category."""
    m = monitor(clock, Wall())
    for duration in (0.001, 0.001, 0.001, 0.001, 0.01):
        m.record_key_generation_time(duration, 10)
        m.record_cache_operation_time("set", duration, True)
    for seconds in (0.001, 0.001, 0.001, 0.001, 0.01):
        m.record_compression_ratio(100, 50, seconds)
    slow = m.get_recent_slow_operations()
    assert set(slow) == {"key_generation", "cache_operations", "compression"}
    assert [s["duration"] for s in slow["key_generation"]] == [0.01]
    assert slow["cache_operations"][0]["times_slower"] == pytest.approx(10.0)
    assert slow["compression"][0]["compression_time"] == 0.01
    assert m.get_recent_slow_operations(threshold_multiplier=100.0)["key_generation"] == []


async def test_monitor_record_operation_and_reset(clock: FakeClock) -> None:
    """``record_operation`` (milliseconds) counts; ``reset_stats`` empties everything."""
    m = monitor(clock, Wall())
    await m.record_operation("secure_connection_create", 12.5, True)
    assert m.cache_operation_times[0].duration == 0.0125
    m.record_cache_operation_time("get", 0.001, True)
    m.record_invalidation_event("k", 1, 0.0)
    m.reset_stats()
    assert (m.total_operations, m.cache_hits, m.total_invalidations) == (0, 0, 0)
    assert m.cache_operation_times == [] and m.invalidation_events == []


def test_monitor_export_metrics_has_raw_lists(clock: FakeClock) -> None:
    """``export_metrics`` has the original's raw measurement lists and counters."""
    m = monitor(clock, Wall())
    m.record_key_generation_time(0.001, 5)
    exported = m.export_metrics()
    assert exported["key_generation_times"][0]["text_length"] == 5
    assert {"cache_operation_times", "compression_ratios", "memory_usage_measurements"} <= set(
        exported
    )
    assert {"invalidation_events", "total_invalidations", "export_timestamp"} <= set(exported)


async def test_monitor_memory_usage_of_a_memory_tier_and_core_monitors() -> None:
    """``record_memory_usage`` takes a memory tier too; a stack's own monitor counts as one."""
    m = CachePerformanceMonitor()
    cache = InMemoryCache(default_ttl=60, max_size=10)
    await cache.set("k", 1)
    m.record_memory_usage(cache)
    assert m.memory_usage_measurements[0].memory_cache_entry_count == 1
    stack = resolve(CacheConfigBuilder().with_preset("development").build())
    assert isinstance(stack.monitor, CachePerformanceMonitor)
