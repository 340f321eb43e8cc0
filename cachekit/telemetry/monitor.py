"""``CachePerformanceMonitor``: analytics and alerts of a cache stack, on OpenTelemetry.

The resolved stack has one at ``cache.monitor`` (when ``monitoring.enabled``); it reads
the plain counters the ``Instrumented`` layer keeps and adds what needs history:
invalidation frequency and patterns, the hit ratio over a window, slow calls, and the
alert rules of ``cachekit.telemetry.alerts``. Other layers report events to it::

    cache.monitor.record_invalidation("operation", "summarize", "operation:summarize", 12)

Built on its own (``CachePerformanceMonitor()``) it takes its thresholds from the preset
files and accepts the original's ``record_*`` calls.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from cachekit.config.model import MonitoringConfig
from cachekit.errors import CacheValueError
from cachekit.telemetry.alerts import Alert, AlertEngine, AlertRules, AlertSink
from cachekit.telemetry.invalidations import HOUR, InvalidationLog, bounded_label, recommendations
from cachekit.telemetry.metrics import (
    COMPRESSED,
    LOOKUPS,
    OPERATIONS,
    RAW_BYTES,
    RESULTS,
    SAVED_BYTES,
    STORED_BYTES,
    TIERS,
    Recorder,
    series,
    slot,
)
from cachekit.telemetry.report import memory_usage, memory_warnings, operations_table

if TYPE_CHECKING:
    from cachekit.telemetry.metrics import Instruments

_SLOW_KEPT: Final = 50
_SNAPSHOT_SPACING: Final = 1.0
"""Seconds between two hit-ratio snapshots kept for the window."""


def default_config() -> MonitoringConfig:
    """The ``monitoring`` section of the base preset (the one place defaults live)."""
    from cachekit.config.presets import BASE, read_preset

    data, _ = read_preset(BASE)
    return msgspec.convert(data["monitoring"], MonitoringConfig)


class CachePerformanceMonitor:
    """Cache analytics (performance summary, invalidation statistics, recommendations)
    and threshold alerts.

    ``config`` defaults to the ``monitoring`` section of the presets; keyword
    ``overrides`` replace single settings (``slow_operation_seconds=0.01``). ``clock``
    (monotonic seconds) drives the windows; tests pass a fake one.
    """

    def __init__(
        self,
        config: MonitoringConfig | None = None,
        *,
        recorder: Recorder | None = None,
        namespace: str = "cachekit",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> None:
        config = config or default_config()
        if overrides:
            try:
                config = msgspec.convert(
                    {**msgspec.to_builtins(config), **overrides}, MonitoringConfig
                )
            except msgspec.ValidationError as exc:
                raise CacheValueError(f"invalid monitoring setting: {exc}") from None
        self.config = config
        self.recorder = recorder or Recorder(namespace)
        self.engine = AlertEngine(cooldown=config.alert_cooldown_seconds, clock=clock, wall=wall)
        self.rules = AlertRules(config, self.engine)
        self._clock = clock
        self._wall = wall
        self._started = clock()
        self._instruments: Instruments | None = None
        self._alert_counter: AlertSink | None = None
        self._flush: Callable[[int], bool] | None = None
        self._keygen_countdown = 1  # the first key generation is recorded, then 1 in N
        self._ratio_countdown = 1  # likewise the first compression ratio
        self.invalidations = InvalidationLog()
        # (time, hits, lookups) snapshots; the first marks the start of the counts.
        self._window: deque[tuple[float, int, int]] = deque([(self._started, 0, 0)])
        self._slow: deque[dict[str, Any]] = deque(maxlen=_SLOW_KEPT)
        self._degraded_since: float | None = None
        self._untracked_since: float | None = None
        self._base_counts = [0] * len(self.recorder.counts)
        self._base_seconds = [0.0] * len(self.recorder.seconds)
        self._base_timed = [0] * len(self.recorder.timed)
        self._base_totals = [0] * len(self.recorder.totals)
        self._base_keygen = [0, 0.0]
        self._base_loads = [0, 0.0]

    # -- wiring -------------------------------------------------------------------------
    def bind(self, instruments: Instruments, flush: Callable[[int], bool] | None = None) -> None:
        """Count fired alerts on ``instruments`` (the ``cachekit.alerts`` counter);
        ``flush`` exports what the stack's own providers hold (``force_flush``)."""
        self._instruments = instruments
        self._flush = flush
        namespace = self.recorder.namespace
        counter = instruments.alerts
        if self._alert_counter in self.engine.sinks:
            self.engine.sinks.remove(self._alert_counter)

        def count(alert: Alert) -> None:
            if alert.level != "resolved":
                counter.add(
                    1,
                    {
                        "cache.namespace": namespace,
                        "cache.alert.rule": alert.rule,
                        "cache.alert.level": alert.level,
                    },
                )

        self._alert_counter = count
        self.engine.sinks.append(count)

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export now what cachekit's own providers hold (blocking: from async code, run
        it in a thread). True when nothing failed; it says nothing about delivery."""
        return self._flush(timeout_millis) if self._flush is not None else True

    def add_alert_callback(self, callback: AlertSink) -> Callable[[], None]:
        """Call ``callback(alert)`` for every firing and clearing; returns the unsubscribe.

        Callbacks run on the event loop, inline: keep them short. Their errors are logged.
        """
        self.engine.sinks.append(callback)

        def unsubscribe() -> None:
            if callback in self.engine.sinks:
                self.engine.sinks.remove(callback)

        return unsubscribe

    # -- events -------------------------------------------------------------------------
    def record_invalidation(
        self, kind: str, operation: str, pattern_label: str, count: int
    ) -> None:
        """One invalidation that removed ``count`` keys.

        ``kind`` (``operation``, ``pattern``, ``all``, ``clear``, ...), ``operation`` and
        ``pattern_label`` must be bounded labels chosen by code (``"operation:summarize"``),
        never user text: free text is replaced by a digest before it reaches telemetry.
        """
        kind, operation = bounded_label(kind), bounded_label(operation or "none")
        label = bounded_label(pattern_label or kind)
        keys = max(0, count)
        rec = self.recorder
        slot_key = rec.invalidation_label(kind, operation)
        values = rec.invalidations.get(slot_key)
        if values is None:
            values = rec.invalidations[slot_key] = [0, 0]
        values[0] += 1
        values[1] += keys
        self.invalidations.record(self._clock(), kind, operation, label, keys)
        self.evaluate()

    def record_invalidation_event(
        self,
        pattern: str,
        keys_invalidated: int,
        duration: float = 0.0,
        invalidation_type: str = "manual",
        operation_context: str = "",
    ) -> None:
        """The original's invalidation hook; the pattern is kept only as a digest label."""
        self.record_invalidation(
            invalidation_type, operation_context or "none", bounded_label(pattern), keys_invalidated
        )

    def record_cache_operation_time(
        self,
        operation: str,
        duration: float,
        cache_hit: bool,
        text_length: int = 0,
        *,
        tier: str = "memory",
    ) -> None:
        """The original's hook: one ``operation`` that took ``duration`` seconds."""
        try:
            op, tier_index = OPERATIONS.index(operation), TIERS.index(tier)
        except ValueError:
            raise CacheValueError(
                f"operation must be one of {', '.join(OPERATIONS)} and tier one of "
                f"{', '.join(TIERS)}, got {operation!r} / {tier!r}"
            ) from None
        result = RESULTS.index("hit" if cache_hit else "miss") if op in LOOKUPS else 2
        rec = self.recorder
        rec.counts[slot(op, result, tier_index)] += 1
        s = series(op, tier_index)
        rec.seconds[s] += duration
        rec.timed[s] += 1
        rec.slowest[s] = max(rec.slowest[s], duration)
        if duration > self.config.slow_operation_seconds:
            self.slow_operation(op, tier_index, duration)

    def record_key_generation_time(
        self,
        duration: float,
        text_length: int = 0,
        operation_type: str = "",
        *,
        sampled: bool | None = None,
    ) -> None:
        """One key generation that took ``duration`` seconds. Every one is counted; the
        histogram gets the slow ones and 1 in ``duration_sample_every`` of the rest
        (``sampled``: the caller's own choice instead)."""
        keygen = self.recorder.keygen
        keygen[0] += 1
        keygen[1] += duration
        if duration > keygen[2]:
            keygen[2] = duration
        slow = duration > self.config.slow_key_generation_seconds
        if slow:
            self.rules.slow_key_generation(duration, self._clock())
        if slow or sampled:
            sampled = True
        elif sampled is None:
            self._keygen_countdown -= 1
            sampled = not self._keygen_countdown
            if sampled:
                self._keygen_countdown = self.config.duration_sample_every
        if sampled and self._instruments is not None:
            self._instruments.key_generation.record(duration, self.recorder.base_attributes)

    def record_compression_ratio(
        self,
        original_size: int,
        compressed_size: int,
        compression_time: float = 0.0,
        operation_type: str = "",
    ) -> None:
        """One value of ``original_size`` bytes stored as ``compressed_size`` bytes; the
        totals are exact, the ratio histogram gets 1 in ``duration_sample_every``."""
        totals = self.recorder.totals
        totals[COMPRESSED] += 1
        totals[RAW_BYTES] += original_size
        totals[STORED_BYTES] += compressed_size
        totals[SAVED_BYTES] += max(0, original_size - compressed_size)
        self._ratio_countdown -= 1
        if not self._ratio_countdown:
            self._ratio_countdown = self.config.duration_sample_every
            if self._instruments is not None and original_size > 0:
                self._instruments.compression_ratio.record(
                    compressed_size / original_size, self.recorder.base_attributes
                )

    def slow_operation(self, op: int, tier: int, seconds: float) -> None:
        """A call over ``slow_operation_seconds`` (the ``Instrumented`` layer reports it)."""
        self._slow.append(
            {
                "operation": OPERATIONS[op],
                "tier": TIERS[tier],
                "duration": seconds,
                "threshold": self.config.slow_operation_seconds,
                "at": self._wall(),
            }
        )
        self.rules.slow_operation(OPERATIONS[op], TIERS[tier], seconds, self._clock())

    def set_degraded(self, degraded: bool) -> None:
        """The stack started (True) or stopped (False) serving without Redis."""
        if degraded and self._degraded_since is None:
            self._degraded_since = self._clock()
        elif not degraded and self._degraded_since is not None:
            self._degraded_since = None
        self.recorder.degraded = int(degraded)
        self.evaluate()

    # -- alerts -------------------------------------------------------------------------
    def evaluate(self) -> list[Alert]:
        """Check every windowed rule now; the alerts this emitted."""
        now = self._clock()
        before = self.engine.emitted
        memory, counts = self.recorder.memory, self.recorder.coherence
        untracked = counts is not None and counts.configured == "tracking" and not counts.trusted
        if not untracked:
            self._untracked_since = None
        elif self._untracked_since is None:
            self._untracked_since = now
        self.rules.evaluate(
            now,
            memory_bytes=memory.bytes_used if memory is not None else None,
            window=self._hit_window(now),
            invalidations_last_hour=self.invalidations.last_hour(now),
            top_pattern=self.invalidations.top_pattern(),
            degraded_for=None if self._degraded_since is None else now - self._degraded_since,
            untracked_for=None if self._untracked_since is None else now - self._untracked_since,
        )
        emitted = self.engine.emitted - before
        return list(self.engine.recent)[-emitted:] if emitted else []

    @property
    def active_alerts(self) -> list[Alert]:
        """Alerts firing now."""
        return self.engine.active

    @property
    def recent_alerts(self) -> list[Alert]:
        """The last alerts emitted (firings and clearings), oldest first."""
        return list(self.engine.recent)

    def _lookups(self) -> tuple[int, int]:
        counts, base = self.recorder.snapshot(), self._base_counts
        hits = lookups = 0
        for op in LOOKUPS:
            for tier in range(len(TIERS)):
                h = counts[slot(op, 0, tier)] - base[slot(op, 0, tier)]
                m = counts[slot(op, 1, tier)] - base[slot(op, 1, tier)]
                hits += h
                lookups += h + m
        return hits, lookups

    def _hit_window(self, now: float) -> tuple[int, int] | None:
        hits, lookups = self._lookups()
        window = self._window
        if len(window) > 1 and now - window[-1][0] < _SNAPSHOT_SPACING:
            window[-1] = (window[-1][0], hits, lookups)  # coalesce bursts of evaluations
        else:
            window.append((now, hits, lookups))
        span = self.config.hit_ratio_window_seconds
        while len(window) > 1 and window[1][0] <= now - span:
            window.popleft()
        _, first_hits, first_lookups = window[0]
        return hits - first_hits, lookups - first_lookups

    # -- analytics ----------------------------------------------------------------------
    def get_performance_stats(self) -> dict[str, Any]:
        """Hit rate, operations and durations by operation and tier, key generation,
        loads, compression, memory, invalidations and alerts. Plain data, no keys."""
        rec = self.recorder
        counts = [c - b for c, b in zip(rec.snapshot(), self._base_counts, strict=True)]
        seconds = [c - b for c, b in zip(rec.seconds, self._base_seconds, strict=True)]
        timed = [c - b for c, b in zip(rec.timed, self._base_timed, strict=True)]
        operations = operations_table(rec, counts, seconds, timed)
        hits, lookups = self._lookups()
        keygen_n = rec.keygen[0] - self._base_keygen[0]
        loads_n = rec.loads[0] - self._base_loads[0]
        totals = [t - b for t, b in zip(rec.totals, self._base_totals, strict=True)]
        return {
            "timestamp": self._wall(),
            "uptime_seconds": self._clock() - self._started,
            "cache_hit_rate": 100.0 * hits / lookups if lookups else 0.0,
            "lookups": lookups,
            "total_operations": sum(counts),
            "operations": operations,
            "key_generation": {
                "count": keygen_n,
                "avg_duration": (rec.keygen[1] - self._base_keygen[1]) / keygen_n
                if keygen_n
                else 0.0,
                "max_duration": rec.keygen[2],
            },
            "loads": {
                "count": loads_n,
                "avg_duration": (rec.loads[1] - self._base_loads[1]) / loads_n if loads_n else 0.0,
            },
            "compression": {
                "values_compressed": totals[COMPRESSED],
                "avg_ratio": totals[STORED_BYTES] / totals[RAW_BYTES] if totals[RAW_BYTES] else 1.0,
                "bytes_saved": totals[SAVED_BYTES],
            },
            "memory_usage": self.get_memory_usage_stats(),
            "invalidation": self.get_invalidation_frequency_stats(),
            "alerts": {
                "active": [a.to_dict() for a in self.active_alerts],
                "recent": [a.to_dict() for a in self.recent_alerts[-10:]],
                "suppressed": self.engine.suppressed,
            },
            "slow_operations": list(self._slow),
        }

    def get_performance_summary(self) -> dict[str, Any]:
        """The headline numbers: hit rate, operations, mean durations, alerts, advice."""
        stats = self.get_performance_stats()
        return {
            "cache_hit_rate": stats["cache_hit_rate"],
            "lookups": stats["lookups"],
            "total_operations": stats["total_operations"],
            "avg_duration_ms": {
                f"{name}/{tier}": round(t["avg_duration"] * 1000, 3)
                for name, op in stats["operations"].items()
                for tier, t in op["tiers"].items()
                if t["avg_duration"] is not None
            },
            "invalidations_last_hour": stats["invalidation"]["rates"]["last_hour"],
            "memory_tier_bytes": stats["memory_usage"]["current"]["memory_tier_bytes"],
            "active_alerts": [f"{a['level']}: {a['message']}" for a in stats["alerts"]["active"]],
            "recommendations": [r["message"] for r in self.get_invalidation_recommendations()]
            + [w["message"] for w in self.get_memory_warnings()],
        }

    def get_invalidation_frequency_stats(self) -> dict[str, Any]:
        """Invalidation rates, thresholds and current level, patterns, efficiency."""
        now = self._clock()
        return self.invalidations.stats(self.config, now, (now - self._started) / HOUR)

    def get_invalidation_recommendations(self) -> list[dict[str, Any]]:
        """Advice from invalidation frequency, patterns and efficiency (empty when fine)."""
        return recommendations(self.get_invalidation_frequency_stats(), self.config)

    def get_memory_usage_stats(self) -> dict[str, Any]:
        """The memory tier's size, bounds and evictions against the thresholds."""
        return memory_usage(self.recorder.memory, self.config)

    def get_memory_warnings(self) -> list[dict[str, Any]]:
        """Warnings when the memory tier is above a threshold (empty when fine)."""
        return memory_warnings(self.get_memory_usage_stats())

    def get_recent_slow_operations(self) -> list[dict[str, Any]]:
        """The last slow calls (operation, tier, duration, threshold), oldest first."""
        return list(self._slow)

    def reset_stats(self) -> None:
        """Start the analytics afresh (exported counters keep counting: they are cumulative)."""
        rec = self.recorder
        self._base_counts = rec.snapshot()
        self._base_seconds = list(rec.seconds)
        self._base_timed = list(rec.timed)
        self._base_totals = list(rec.totals)
        self._base_keygen = [rec.keygen[0], rec.keygen[1]]
        self._base_loads = [rec.loads[0], rec.loads[1]]
        rec.slowest[:] = [0.0] * len(rec.slowest)
        rec.keygen[2] = 0.0
        self.invalidations = InvalidationLog()
        self._slow.clear()
        self._started = self._clock()
        self._window = deque([(self._started, 0, 0)])
        self.engine.reset()

    def export_metrics(self) -> dict[str, Any]:
        """Every statistic above in one plain dict (the original's export)."""
        return {
            **self.get_performance_stats(),
            "recommendations": self.get_invalidation_recommendations(),
            "memory_warnings": self.get_memory_warnings(),
        }
