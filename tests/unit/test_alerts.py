"""Alert rules (hysteresis, cooldown, windows) and the monitor's analytics."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from cachekit import CacheConfigBuilder, CacheValueError, resolve
from cachekit.telemetry.alerts import Alert, AlertEngine, below, graded
from cachekit.telemetry.invalidations import bounded_label
from cachekit.telemetry.monitor import CachePerformanceMonitor, default_config
from tests.conftest import FakeClock


def monitor(clock: FakeClock, **overrides: Any) -> CachePerformanceMonitor:
    """A monitor on ``clock`` with the preset thresholds and ``overrides``."""
    return CachePerformanceMonitor(clock=clock, **overrides)


def fired(m: CachePerformanceMonitor) -> list[tuple[str, str]]:
    return [(a.rule, a.level) for a in m.recent_alerts]


# -- the engine -------------------------------------------------------------------------
def test_graded_holds_a_level_until_the_clear_ratio() -> None:
    """A level, once reached, holds until the value falls to clear x threshold."""
    assert graded(11, 10, 20, None, 0.8) == "warning"
    assert graded(9, 10, 20, None, 0.8) is None
    assert graded(9, 10, 20, "warning", 0.8) == "warning"
    assert graded(8, 10, 20, "warning", 0.8) is None
    assert graded(21, 10, 20, "warning", 0.8) == "critical"
    assert graded(17, 10, 20, "critical", 0.8) == "critical"
    assert graded(15, 10, 20, "critical", 0.8) == "warning"


def test_below_fires_under_the_floor_and_clears_above_floor_over_ratio() -> None:
    """A floor rule fires under the floor and clears only above floor / clear."""
    assert below(0.1, 0.2, None, 0.8)
    assert not below(0.21, 0.2, None, 0.8)
    assert below(0.21, 0.2, "warning", 0.8)
    assert not below(0.26, 0.2, "warning", 0.8)


def test_alert_engine_fires_once_while_a_value_flaps_above_the_threshold(clock: FakeClock) -> None:
    """Repeated breaches of a firing rule emit nothing new."""
    engine = AlertEngine(cooldown=300, clock=clock)
    for _ in range(5):
        engine.update("memory", "warning", value=1, threshold=1, message="m")
    assert [a.level for a in engine.recent] == ["warning"]


def test_alert_engine_emits_resolved_only_for_an_alert_that_fired(clock: FakeClock) -> None:
    """Clearing emits a resolved alert after a firing, and nothing for a suppressed one."""
    engine = AlertEngine(cooldown=300, clock=clock)
    engine.update("memory", "warning", value=1, threshold=1, message="up")
    engine.update("memory", None, value=0, threshold=1, message="down")
    engine.update("memory", "warning", value=1, threshold=1, message="up again")  # cooled down
    engine.update("memory", None, value=0, threshold=1, message="down again")
    assert [a.level for a in engine.recent] == ["warning", "resolved"]
    assert engine.suppressed == 1


def test_alert_engine_fires_again_after_the_cooldown(clock: FakeClock) -> None:
    """The same rule and level fire again once the cooldown has passed."""
    engine = AlertEngine(cooldown=60, clock=clock)
    engine.update("memory", "warning", value=1, threshold=1, message="up")
    engine.update("memory", None, value=0, threshold=1, message="down")
    clock.advance(61)
    engine.update("memory", "warning", value=1, threshold=1, message="up")
    assert [a.level for a in engine.recent] == ["warning", "resolved", "warning"]


def test_alert_engine_escalation_fires_the_higher_level(clock: FakeClock) -> None:
    """Warning then critical emits both; falling back to warning emits nothing."""
    engine = AlertEngine(cooldown=300, clock=clock)
    engine.update("memory", "warning", value=1, threshold=1, message="w")
    engine.update("memory", "critical", value=2, threshold=2, message="c")
    engine.update("memory", "warning", value=1, threshold=1, message="w")
    assert [a.level for a in engine.recent] == ["warning", "critical"]
    assert [a.level for a in engine.active] == ["warning"]


def test_alert_engine_sink_errors_are_logged_not_raised(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing sink does not stop the others nor the caller."""
    engine = AlertEngine(cooldown=300, clock=clock)
    got: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("sink down")

    engine.sinks.extend([broken, got.append])
    with caplog.at_level(logging.ERROR, logger="cachekit.alerts"):
        engine.update("memory", "warning", value=1, threshold=1, message="m")
    assert len(got) == 1
    assert "alert sink failed" in caplog.text


# -- the rules through the monitor ------------------------------------------------------
def test_monitor_slow_operation_alert_clears_after_a_quiet_window(clock: FakeClock) -> None:
    """A slow call fires a warning; a window without one clears it."""
    m = monitor(clock, alert_window_seconds=60)
    m.slow_operation(0, 1, 0.2)
    m.slow_operation(0, 1, 0.3)
    clock.advance(30)
    m.evaluate()
    assert fired(m) == [("slow_operation", "warning")]
    clock.advance(31)
    m.evaluate()
    assert fired(m) == [("slow_operation", "warning"), ("slow_operation", "resolved")]
    assert "get (redis) took 200.0 ms" in m.recent_alerts[0].message


def test_monitor_slow_key_generation_fires_over_the_threshold(clock: FakeClock) -> None:
    """Key generation over 100 ms (the preset's threshold) fires; under it does not."""
    m = monitor(clock)
    m.record_key_generation_time(0.05)
    assert fired(m) == []
    m.record_key_generation_time(0.15)
    assert fired(m) == [("slow_key_generation", "warning")]


async def test_monitor_memory_alert_levels_follow_the_memory_tier() -> None:
    """The memory tier's bytes against 50 / 100 MiB-style thresholds: warning, critical."""
    config = (
        CacheConfigBuilder()
        .with_preset("development")
        .with_overrides(
            {
                "monitoring.memory_warning_bytes": 2_000,
                "monitoring.memory_critical_bytes": 20_000,
                "memory.max_bytes": 1_000_000,
            }
        )
        .build()
    )
    cache = resolve(config)
    assert cache.monitor is not None
    await cache.set("a", "x" * 5_000)
    cache.monitor.evaluate()
    assert cache.monitor.engine.level("memory") == "warning"
    await cache.set("b", "x" * 30_000)
    cache.monitor.evaluate()
    assert cache.monitor.engine.level("memory") == "critical"
    await cache.clear()
    cache.monitor.evaluate()
    assert fired(cache.monitor)[-1] == ("memory", "resolved")
    assert cache.monitor.get_memory_warnings() == []


def test_monitor_invalidation_rate_counts_a_sliding_hour(clock: FakeClock) -> None:
    """Over 50 invalidations in an hour warn, over 100 are critical; old ones drop out."""
    m = monitor(clock)
    for n in range(51):
        m.record_invalidation("operation", "summarize", f"operation:op{n % 10}", 2)
    assert m.engine.level("invalidation_rate") == "warning"
    for n in range(50):
        m.record_invalidation("operation", "summarize", f"operation:op{n % 10}", 2)
    assert m.engine.level("invalidation_rate") == "critical"
    clock.advance(3601)
    m.evaluate()
    assert m.engine.level("invalidation_rate") is None
    stats = m.get_invalidation_frequency_stats()
    assert stats["rates"]["last_hour"] == 0
    assert stats["rates"]["last_24_hours"] == 101
    assert stats["efficiency"]["avg_keys_per_invalidation"] == 2


def test_monitor_dominant_pattern_fires_and_is_recommended(clock: FakeClock) -> None:
    """One label above half of the hour's invalidations fires and is advised against."""
    m = monitor(clock)
    for n in range(12):
        label = "operation:summarize" if n < 8 else f"operation:other{n}"
        m.record_invalidation("operation", "summarize", label, 1)
    assert m.engine.level("invalidation_pattern") == "warning"
    issues = [r["issue"] for r in m.get_invalidation_recommendations()]
    assert issues == ["dominant_pattern"]
    top = m.get_invalidation_frequency_stats()["patterns"]["most_common"][0]
    assert top == {"pattern": "operation:summarize", "count": 8, "share": 8 / 12}


def test_monitor_recommends_against_empty_and_broad_invalidations(clock: FakeClock) -> None:
    """Invalidations that remove nothing, or hundreds of keys, are pointed out."""
    empty, broad = monitor(clock), monitor(clock)
    for n in range(10):
        empty.record_invalidation("pattern", "none", f"pattern:p{n}", 0)
        broad.record_invalidation("pattern", "none", f"pattern:p{n}", 500)
    assert [r["issue"] for r in empty.get_invalidation_recommendations()] == ["empty_invalidations"]
    assert [r["issue"] for r in broad.get_invalidation_recommendations()] == ["broad_invalidations"]


def test_monitor_hit_ratio_alert_needs_enough_lookups_and_recovers(clock: FakeClock) -> None:
    """A hit ratio under the floor fires once the window holds enough lookups, and
    clears when hits come back above floor / clear ratio."""
    m = monitor(clock, hit_ratio_floor=0.5, hit_ratio_window_seconds=60, hit_ratio_min_lookups=20)
    for _ in range(10):
        m.record_cache_operation_time("get", 0.001, False)
    m.evaluate()
    assert m.engine.level("hit_ratio") is None  # 10 lookups: no verdict
    for _ in range(10):
        m.record_cache_operation_time("get", 0.001, False)
    m.evaluate()
    assert m.engine.level("hit_ratio") == "warning"
    clock.advance(61)
    m.evaluate()
    for _ in range(40):
        m.record_cache_operation_time("get", 0.001, True)
    clock.advance(1)
    m.evaluate()
    assert fired(m) == [("hit_ratio", "warning"), ("hit_ratio", "resolved")]


def test_monitor_degraded_alert_fires_after_the_duration_and_resolves(clock: FakeClock) -> None:
    """Serving without Redis fires a critical alert only after degraded_alert_seconds."""
    m = monitor(clock, degraded_alert_seconds=60)
    m.set_degraded(True)
    clock.advance(30)
    m.evaluate()
    assert fired(m) == []
    clock.advance(31)
    m.evaluate()
    assert fired(m) == [("degraded", "critical")]
    m.set_degraded(False)
    assert fired(m) == [("degraded", "critical"), ("degraded", "resolved")]
    assert m.recorder.degraded == 0


def test_monitor_alert_callback_receives_alerts_until_unsubscribed(clock: FakeClock) -> None:
    """A Python callback gets each alert; after unsubscribing it gets no more."""
    m = monitor(clock, alert_cooldown_seconds=0, alert_window_seconds=1)
    got: list[Alert] = []
    unsubscribe = m.add_alert_callback(got.append)
    m.slow_operation(2, 0, 1.0)
    unsubscribe()
    clock.advance(2)
    m.evaluate()
    assert [(a.rule, a.level, a.scope) for a in got] == [
        ("slow_operation", "warning", "get_or_set")
    ]


# -- analytics --------------------------------------------------------------------------
def test_monitor_defaults_come_from_the_preset_files() -> None:
    """A bare monitor uses the base preset's monitoring section."""
    m = CachePerformanceMonitor()
    assert m.config == default_config()
    assert m.config.slow_operation_seconds == 0.05
    assert m.config.memory_warning_bytes == 50 * 1024 * 1024


def test_monitor_rejects_an_invalid_override() -> None:
    """Overrides are validated like settings."""
    with pytest.raises(CacheValueError, match="monitoring"):
        CachePerformanceMonitor(slow_operation_seconds=-1)


def test_monitor_record_invalidation_event_keeps_free_text_as_a_digest(clock: FakeClock) -> None:
    """The original's hook takes a raw pattern; only a digest label is kept and exported."""
    m = monitor(clock)
    m.record_invalidation_event("*secret user text*", 3, invalidation_type="manual")
    labels = [p["pattern"] for p in m.get_invalidation_frequency_stats()["patterns"]["most_common"]]
    assert labels == [bounded_label("*secret user text*")]
    assert labels[0].startswith("h:")
    assert "secret" not in repr(m.recorder.invalidations)


def test_monitor_performance_stats_summarise_operations(clock: FakeClock) -> None:
    """Counts, hit rate and mean durations by operation and tier."""
    m = monitor(clock)
    m.record_cache_operation_time("get", 0.002, True, tier="redis")
    m.record_cache_operation_time("get", 0.004, False, tier="redis")
    m.record_cache_operation_time("set", 0.001, False)
    stats = m.get_performance_stats()
    assert stats["cache_hit_rate"] == 50.0
    redis = stats["operations"]["get"]["tiers"]["redis"]
    assert (redis["count"], redis["hit"], redis["miss"]) == (2, 1, 1)
    assert redis["avg_duration"] == pytest.approx(0.003)
    assert stats["operations"]["set"]["tiers"]["memory"]["ok"] == 1
    summary = m.get_performance_summary()
    assert summary["avg_duration_ms"]["get/redis"] == pytest.approx(3.0)


def test_monitor_record_cache_operation_time_names_the_allowed_operations() -> None:
    """An unknown operation is refused with the list of known ones."""
    with pytest.raises(CacheValueError, match="get_or_set"):
        CachePerformanceMonitor().record_cache_operation_time("fetch", 0.1, True)


def test_monitor_reset_stats_restarts_analytics_but_not_exported_counts(clock: FakeClock) -> None:
    """After reset the analytics start from zero; the cumulative counters keep counting."""
    m = monitor(clock)
    m.record_cache_operation_time("get", 0.001, True)
    m.record_invalidation("pattern", "none", "pattern", 4)
    m.reset_stats()
    stats = m.get_performance_stats()
    assert stats["lookups"] == 0
    assert stats["invalidation"]["efficiency"]["total_invalidations"] == 0
    assert sum(m.recorder.counts) == 1
    assert m.recorder.invalidations == {("pattern", "none"): [1, 4]}


def test_monitor_compression_statistics(clock: FakeClock) -> None:
    """Compression records feed the average ratio and the bytes saved."""
    m = monitor(clock)
    m.record_compression_ratio(1000, 250)
    m.record_compression_ratio(1000, 750)
    compression = m.get_performance_stats()["compression"]
    assert compression == {"values_compressed": 2, "avg_ratio": 0.5, "bytes_saved": 1000}
