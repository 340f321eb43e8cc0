"""``CachePerformanceMonitor`` with the original's constructor, records and statistics.

A subclass of the core monitor (``cachekit.telemetry.monitor``): everything the core
counts (and exports over OpenTelemetry) it still counts, and on top it keeps the
original's measurement lists (``key_generation_times``, ``cache_operation_times``,
``compression_ratios``, ``memory_usage_measurements``, ``invalidation_events``, bounded by
``max_measurements`` and ``retention_hours``), its counters, its threshold attributes
(which change the monitoring settings they stand for when set) and the original's keys
in every statistics dict, next to cachekit's. Given to a cache as
``performance_monitor``, it is that stack's monitor (``cachekit.compat.stack``).
"""

from __future__ import annotations

import time
from abc import ABCMeta
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, Final

import msgspec

from cachekit.compat._alias import counts_core
from cachekit.compat.metrics import (
    MIB,
    CompressionMetric,
    InvalidationMetric,
    MemoryUsageMetric,
    PerformanceMetric,
    compression_section,
    deep_size,
    iso,
    key_generation_section,
    memory_section,
    operations_section,
    process_memory_mb,
    slower_than_usual,
)
from cachekit.config.model import MonitoringConfig
from cachekit.errors import CacheValueError
from cachekit.telemetry.invalidations import bounded_label
from cachekit.telemetry.metrics import OPERATIONS, Recorder
from cachekit.telemetry.monitor import CachePerformanceMonitor as CoreMonitor

__all__ = ["CachePerformanceMonitor"]

# The original's threshold attributes and the monitoring settings they stand for.
THRESHOLDS: Final = {
    "key_generation_threshold": "slow_key_generation_seconds",
    "cache_operation_threshold": "slow_operation_seconds",
    "invalidation_rate_warning_per_hour": "invalidation_warning_per_hour",
    "invalidation_rate_critical_per_hour": "invalidation_critical_per_hour",
    "memory_warning_threshold_bytes": "memory_warning_bytes",
    "memory_critical_threshold_bytes": "memory_critical_bytes",
}


def _threshold(name: str) -> property:
    setting = THRESHOLDS[name]

    def read(self: CachePerformanceMonitor) -> Any:
        return getattr(self.config, setting)

    def write(self: CachePerformanceMonitor, value: Any) -> None:
        self.set_thresholds(**{setting: value})

    return property(read, write, doc=f"``monitoring.{setting}`` (settable).")


class CachePerformanceMonitor(CoreMonitor, metaclass=ABCMeta):
    """Cache analytics and alerts, with the original's API.

    ``CachePerformanceMonitor(retention_hours=1, max_measurements=1000,
    memory_warning_threshold_bytes=..., memory_critical_threshold_bytes=...)``; thresholds
    left out come from the presets. ``config=`` (a ``MonitoringConfig``) and keyword
    overrides of single settings work as for the core monitor. Every core monitor counts
    as one of these.
    """

    key_generation_threshold = _threshold("key_generation_threshold")
    cache_operation_threshold = _threshold("cache_operation_threshold")
    invalidation_rate_warning_per_hour = _threshold("invalidation_rate_warning_per_hour")
    invalidation_rate_critical_per_hour = _threshold("invalidation_rate_critical_per_hour")
    memory_warning_threshold_bytes = _threshold("memory_warning_threshold_bytes")
    memory_critical_threshold_bytes = _threshold("memory_critical_threshold_bytes")

    def __init__(
        self,
        retention_hours: float | MonitoringConfig = 1,
        max_measurements: int = 1000,
        memory_warning_threshold_bytes: int | None = None,
        memory_critical_threshold_bytes: int | None = None,
        *,
        config: MonitoringConfig | None = None,
        recorder: Recorder | None = None,
        namespace: str = "cachekit",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> None:
        if isinstance(retention_hours, MonitoringConfig):  # the core's positional config
            config, retention_hours = retention_hours, 1
        if not retention_hours > 0 or max_measurements < 1:
            raise CacheValueError("retention_hours must be > 0 and max_measurements >= 1")
        if memory_warning_threshold_bytes is not None:
            overrides["memory_warning_bytes"] = memory_warning_threshold_bytes
        if memory_critical_threshold_bytes is not None:
            overrides["memory_critical_bytes"] = memory_critical_threshold_bytes
        super().__init__(
            config, recorder=recorder, namespace=namespace, clock=clock, wall=wall, **overrides
        )
        self.retention_hours = retention_hours
        self.max_measurements = max_measurements
        self.key_generation_times: list[PerformanceMetric] = []
        self.cache_operation_times: list[PerformanceMetric] = []
        self.compression_ratios: list[CompressionMetric] = []
        self.memory_usage_measurements: list[MemoryUsageMetric] = []
        self.invalidation_events: list[InvalidationMetric] = []
        self._other_operations = 0
        self._total_invalidations = 0
        self._total_keys_invalidated = 0

    @classmethod
    def __subclasshook__(cls, subclass: type) -> Any:
        return counts_core(cls, CachePerformanceMonitor, CoreMonitor, subclass)

    def set_thresholds(self, **settings: Any) -> None:
        """Change monitoring settings (``slow_operation_seconds=0.01``); the alert rules
        and every later record use them. Raises ``CacheValueError`` for invalid values."""
        try:
            config = msgspec.convert(
                {**msgspec.to_builtins(self.config), **settings}, MonitoringConfig
            )
        except msgspec.ValidationError as exc:
            raise CacheValueError(f"invalid monitoring setting: {exc}") from None
        self.config = config
        self.rules.config = config

    # -- keeping the lists bounded -------------------------------------------------------
    def _keep(self, measurements: list[Any], item: Any) -> None:
        measurements.append(item)
        cutoff = self._wall() - self.retention_hours * 3600
        if measurements[0].timestamp <= cutoff:
            measurements[:] = [m for m in measurements if m.timestamp > cutoff]
        if len(measurements) > self.max_measurements:
            del measurements[: len(measurements) - self.max_measurements]

    # -- the original's counters ---------------------------------------------------------
    @property
    def cache_hits(self) -> int:
        """Lookups that hit since the start (or ``reset_stats``)."""
        return self._lookups()[0]

    @property
    def cache_misses(self) -> int:
        """Lookups that missed since the start (or ``reset_stats``)."""
        hits, lookups = self._lookups()
        return lookups - hits

    @property
    def total_operations(self) -> int:
        """Operations recorded since the start (or ``reset_stats``), of any name."""
        counts = self.recorder.snapshot()
        base = self._base_counts
        return sum(c - b for c, b in zip(counts, base, strict=True)) + self._other_operations

    @property
    def total_invalidations(self) -> int:
        """Invalidations recorded since the start (or ``reset_stats``)."""
        return self._total_invalidations

    @property
    def total_keys_invalidated(self) -> int:
        """Keys those invalidations removed."""
        return self._total_keys_invalidated

    def _calculate_hit_rate(self) -> float:
        hits, lookups = self._lookups()
        return 100.0 * hits / lookups if lookups else 0.0

    # -- records -------------------------------------------------------------------------
    def record_key_generation_time(
        self,
        duration: float,
        text_length: int = 0,
        operation_type: str = "",
        additional_data: Mapping[str, Any] | None = None,
        *,
        sampled: bool | None = None,
    ) -> None:
        """One key generation of ``duration`` seconds for a text of ``text_length``."""
        super().record_key_generation_time(duration, text_length, operation_type, sampled=sampled)
        metric = PerformanceMetric(
            duration, text_length, self._wall(), operation_type, dict(additional_data or {})
        )
        self._keep(self.key_generation_times, metric)

    def record_cache_operation_time(
        self,
        operation: str,
        duration: float,
        cache_hit: bool,
        text_length: int = 0,
        additional_data: Mapping[str, Any] | None = None,
        *,
        tier: str | None = None,
    ) -> None:
        """One cache ``operation`` (any name: ``get``, ``build_key``, ...) of ``duration``
        seconds; a ``get`` counts as a hit or a miss. The tier is ``tier``, else the
        ``cache_tier`` of ``additional_data`` (``l1`` / ``memory`` or ``redis``)."""
        data = dict(additional_data or {})
        self._keep(
            self.cache_operation_times,
            PerformanceMetric(duration, text_length, self._wall(), operation, data),
        )
        where = tier or ("redis" if data.get("cache_tier") == "redis" else "memory")
        if operation in OPERATIONS:
            super().record_cache_operation_time(operation, duration, cache_hit, tier=where)
        else:
            self._other_operations += 1

    def record_compression_ratio(
        self,
        original_size: int,
        compressed_size: int,
        compression_time: float = 0.0,
        operation_type: str = "",
    ) -> None:
        """One value of ``original_size`` bytes stored as ``compressed_size`` bytes."""
        super().record_compression_ratio(
            original_size, compressed_size, compression_time, operation_type
        )
        ratio = compressed_size / original_size if original_size > 0 else 1.0
        metric = CompressionMetric(
            original_size, compressed_size, ratio, compression_time, self._wall(), operation_type
        )
        self._keep(self.compression_ratios, metric)

    def record_memory_usage(
        self,
        memory_cache: Any,
        redis_stats: Mapping[str, Any] | None = None,
        additional_data: Mapping[str, Any] | None = None,
    ) -> MemoryUsageMetric:
        """One measurement of the memory tier (a dict of entries as in the original, or a
        memory tier: its own byte count is used) plus ``redis_stats``
        (``memory_used_bytes``, ``keys``); the warning threshold is judged on the total."""
        if isinstance(memory_cache, Mapping):
            size, entries = deep_size(memory_cache), len(memory_cache)
        else:
            size, entries = int(memory_cache.bytes_used), int(memory_cache.entries)
        total, count = size, entries
        if redis_stats and "memory_used_bytes" in redis_stats:
            total += int(redis_stats["memory_used_bytes"])
            count += int(redis_stats.get("keys", 0))
        warning = self.config.memory_warning_bytes
        metric = MemoryUsageMetric(
            total_cache_size_bytes=total,
            cache_entry_count=count,
            avg_entry_size_bytes=size / entries if entries else 0.0,
            memory_cache_size_bytes=size,
            memory_cache_entry_count=entries,
            process_memory_mb=process_memory_mb(),
            timestamp=self._wall(),
            cache_utilization_percent=100.0 * total / warning,
            warning_threshold_reached=total >= warning,
            additional_data=dict(additional_data or {}),
        )
        self._keep(self.memory_usage_measurements, metric)
        return metric

    def record_invalidation(
        self, kind: str, operation: str, pattern_label: str, count: int
    ) -> None:
        """One invalidation reported by a cache layer (see the core monitor)."""
        self._invalidated(bounded_label(pattern_label or kind), count, 0.0, kind, operation, {})
        super().record_invalidation(kind, operation, pattern_label, count)

    def record_invalidation_event(
        self,
        pattern: str,
        keys_invalidated: int,
        duration: float = 0.0,
        invalidation_type: str = "manual",
        operation_context: str = "",
        additional_data: Mapping[str, Any] | None = None,
    ) -> None:
        """The original's invalidation record; the pattern is kept as a bounded label
        (free text becomes a digest, as everywhere telemetry sees patterns)."""
        label = bounded_label(pattern)
        self._invalidated(
            label,
            keys_invalidated,
            duration,
            invalidation_type,
            operation_context,
            dict(additional_data or {}),
        )
        CoreMonitor.record_invalidation(
            self, invalidation_type, operation_context or "none", label, keys_invalidated
        )

    def _invalidated(
        self, label: str, keys: int, duration: float, kind: str, context: str, data: dict[str, Any]
    ) -> None:
        self._total_invalidations += 1
        self._total_keys_invalidated += max(0, keys)
        metric = InvalidationMetric(label, keys, duration, self._wall(), kind, context, data)
        self._keep(self.invalidation_events, metric)

    async def record_operation(self, name: str, duration_ms: float, success: bool) -> None:
        """The original's generic timing hook (milliseconds)."""
        self.record_cache_operation_time(
            name, duration_ms / 1000.0, success, additional_data={"source": "integration"}
        )

    # -- statistics (the core's keys, and the original's next to them) ---------------------
    def get_invalidation_frequency_stats(self) -> dict[str, Any]:
        """Rates, thresholds, patterns and efficiency (cachekit's and the original's keys)."""
        stats = super().get_invalidation_frequency_stats()
        recent = self.invalidation_events[-50:]
        stats["total_invalidations"] = self._total_invalidations
        stats["total_keys_invalidated"] = self._total_keys_invalidated
        stats["warning_threshold_per_hour"] = self.config.invalidation_warning_per_hour
        stats["critical_threshold_per_hour"] = self.config.invalidation_critical_per_hour
        if not self._total_invalidations:
            stats["no_invalidations"] = True
        patterns: dict[str, int] = {}
        kinds: dict[str, int] = {}
        for event in recent:
            patterns[event.pattern] = patterns.get(event.pattern, 0) + 1
            kinds[event.invalidation_type] = kinds.get(event.invalidation_type, 0) + 1
        ranked = sorted(patterns.items(), key=lambda item: item[1], reverse=True)[:10]
        stats["patterns"]["most_common_patterns"] = dict(ranked)
        stats["patterns"]["invalidation_types"] = kinds
        durations = [e.duration for e in recent]
        stats["efficiency"]["avg_duration"] = sum(durations) / len(durations) if durations else 0
        stats["efficiency"]["max_duration"] = max(durations, default=0)
        return stats

    def get_memory_usage_stats(self) -> dict[str, Any]:
        """The memory tier against the thresholds (cachekit's keys), and the original's
        measurements (``record_memory_usage``): current, thresholds, trends."""
        stats = super().get_memory_usage_stats()
        cfg = self.config
        stats["warning_threshold_mb"] = cfg.memory_warning_bytes / MIB
        stats["critical_threshold_mb"] = cfg.memory_critical_bytes / MIB
        stats["thresholds"]["warning_threshold_mb"] = cfg.memory_warning_bytes / MIB
        stats["thresholds"]["critical_threshold_mb"] = cfg.memory_critical_bytes / MIB
        if not self.memory_usage_measurements:
            stats["no_measurements"] = True
            return stats
        measured = memory_section(self.memory_usage_measurements, cfg.memory_critical_bytes)
        stats["current"].update(measured["current"])
        for key, reached in measured["thresholds"].items():
            stats["thresholds"][key] = stats["thresholds"][key] or reached
        stats["trends"] = measured["trends"]
        return stats

    def get_memory_warnings(self) -> list[dict[str, Any]]:
        """Warnings from the memory tier and from the last measurement (most severe first)."""
        warnings = super().get_memory_warnings()
        if self.memory_usage_measurements and not warnings:
            latest = self.memory_usage_measurements[-1]
            cfg = self.config
            for severity, limit in (
                ("critical", cfg.memory_critical_bytes),
                ("warning", cfg.memory_warning_bytes),
            ):
                if latest.total_cache_size_bytes >= limit:
                    warnings.append(
                        {
                            "severity": severity,
                            "message": f"cache memory usage is "
                            f"{latest.total_cache_size_bytes / MIB:.1f} MB, over the "
                            f"{severity} threshold of {limit / MIB:.1f} MB",
                            "recommendations": [
                                "lower memory.max_bytes or memory.max_entries",
                                "shorten TTLs or store less per entry",
                            ],
                        }
                    )
                    break
        return warnings

    def get_performance_stats(self) -> dict[str, Any]:
        """cachekit's statistics with the original's sections and counters added
        (``total_cache_operations``, ``cache_hits``, ``key_generation.total_operations``,
        ``cache_operations``, ``compression.avg_compression_ratio``, ...)."""
        stats = super().get_performance_stats()
        stats["retention_hours"] = self.retention_hours
        stats["total_cache_operations"] = self.total_operations
        stats["cache_hits"], stats["cache_misses"] = self.cache_hits, self.cache_misses
        cfg = self.config
        if self.key_generation_times:
            stats["key_generation"].update(
                key_generation_section(self.key_generation_times, cfg.slow_key_generation_seconds)
            )
        if self.cache_operation_times:
            stats["cache_operations"] = operations_section(
                self.cache_operation_times, cfg.slow_operation_seconds
            )
        if self.compression_ratios:
            stats["compression"].update(compression_section(self.compression_ratios))
        return stats

    def get_recent_slow_operations(  # type: ignore[override]
        self, threshold_multiplier: float = 2.0
    ) -> dict[str, list[dict[str, Any]]]:
        """Recorded measurements ``threshold_multiplier`` times slower than the mean of the
        fastest 80%, by category (``key_generation``, ``cache_operations``,
        ``compression``); the stack's slow calls (over ``slow_operation_seconds``) are in
        ``cache_operations`` too. The original's shape: a dict, not the core's list."""
        out: dict[str, list[dict[str, Any]]] = {
            "key_generation": [],
            "cache_operations": [],
            "compression": [],
        }
        for name, metrics in (
            ("key_generation", self.key_generation_times),
            ("cache_operations", self.cache_operation_times),
        ):
            if not metrics:
                continue
            baseline, limit = slower_than_usual([m.duration for m in metrics], threshold_multiplier)
            out[name] = [
                {
                    "duration": m.duration,
                    "text_length": m.text_length,
                    "operation_type": m.operation_type,
                    "timestamp": iso(m.timestamp),
                    "times_slower": m.duration / baseline if baseline > 0 else float("inf"),
                }
                for m in metrics
                if m.duration >= limit
            ]
        if self.compression_ratios:
            times = [m.compression_time for m in self.compression_ratios]
            baseline, limit = slower_than_usual(times, threshold_multiplier)
            out["compression"] = [
                {
                    "compression_time": m.compression_time,
                    "original_size": m.original_size,
                    "compression_ratio": m.compression_ratio,
                    "operation_type": m.operation_type,
                    "timestamp": iso(m.timestamp),
                    "times_slower": m.compression_time / baseline if baseline > 0 else float("inf"),
                }
                for m in self.compression_ratios
                if m.compression_time >= limit
            ]
        for slow in super().get_recent_slow_operations():
            out["cache_operations"].append(
                {
                    "duration": slow["duration"],
                    "text_length": 0,
                    "operation_type": slow["operation"],
                    "tier": slow["tier"],
                    "timestamp": iso(slow["at"]),
                    "times_slower": slow["duration"] / slow["threshold"],
                }
            )
        return out

    def reset_stats(self) -> None:
        """Start afresh: the core's analytics, the lists and the counters."""
        super().reset_stats()
        for measurements in (
            self.key_generation_times,
            self.cache_operation_times,
            self.compression_ratios,
            self.memory_usage_measurements,
            self.invalidation_events,
        ):
            measurements.clear()
        self._other_operations = self._total_invalidations = self._total_keys_invalidated = 0

    def export_metrics(self) -> dict[str, Any]:
        """cachekit's export, plus the original's raw measurement lists and counters."""
        return {
            **super().export_metrics(),
            "key_generation_times": [asdict(m) for m in self.key_generation_times],
            "cache_operation_times": [asdict(m) for m in self.cache_operation_times],
            "compression_ratios": [asdict(m) for m in self.compression_ratios],
            "memory_usage_measurements": [asdict(m) for m in self.memory_usage_measurements],
            "invalidation_events": [asdict(m) for m in self.invalidation_events],
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "total_operations": self.total_operations,
            "total_invalidations": self._total_invalidations,
            "total_keys_invalidated": self._total_keys_invalidated,
            "export_timestamp": iso(self._wall()),
        }
