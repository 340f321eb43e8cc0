"""The original monitor's measurement records, and the statistics it built from them.

``PerformanceMetric``, ``CompressionMetric``, ``MemoryUsageMetric`` and
``InvalidationMetric`` are the original's dataclasses (same fields, same order); the
functions turn lists of them into the original's statistics sections. Timestamps are
wall-clock seconds, as in the original.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import mean, median
from typing import Any, Final

__all__ = [
    "CompressionMetric",
    "InvalidationMetric",
    "MemoryUsageMetric",
    "PerformanceMetric",
]

MIB: Final = 1024 * 1024


@dataclass
class PerformanceMetric:
    """One timed key generation or cache operation."""

    duration: float
    text_length: int
    timestamp: float
    operation_type: str = ""
    additional_data: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompressionMetric:
    """One value compressed: sizes, ratio (compressed / original) and time."""

    original_size: int
    compressed_size: int
    compression_ratio: float
    compression_time: float
    timestamp: float
    operation_type: str = ""

    def __post_init__(self) -> None:
        if self.compression_ratio == 0 and self.original_size > 0:
            self.compression_ratio = self.compressed_size / self.original_size


@dataclass
class MemoryUsageMetric:
    """One measurement of the cache's memory use (``record_memory_usage``)."""

    total_cache_size_bytes: int
    cache_entry_count: int
    avg_entry_size_bytes: float
    memory_cache_size_bytes: int
    memory_cache_entry_count: int
    process_memory_mb: float
    timestamp: float
    cache_utilization_percent: float
    warning_threshold_reached: bool = False
    additional_data: dict[str, Any] = field(default_factory=dict)


@dataclass
class InvalidationMetric:
    """One invalidation: the pattern (a bounded label), keys removed, time taken, kind."""

    pattern: str
    keys_invalidated: int
    duration: float
    timestamp: float
    invalidation_type: str = ""
    operation_context: str = ""
    additional_data: dict[str, Any] = field(default_factory=dict)


def deep_size(obj: Any) -> int:
    """Approximate bytes of ``obj`` and the dicts and lists inside it."""
    size = sys.getsizeof(obj)
    items: Iterable[Any] = ()
    if isinstance(obj, Mapping):
        size += sum(sys.getsizeof(k) for k in obj)
        items = obj.values()
    elif isinstance(obj, list | tuple):
        items = obj
    for item in items:
        size += deep_size(item) if isinstance(item, Mapping | list | tuple) else sys.getsizeof(item)
    return size


def process_memory_mb() -> float:
    """Resident memory of this process in MiB (0.0 where ``/proc`` is not available)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def iso(timestamp: float) -> str:
    """A wall-clock timestamp as the original printed it."""
    return datetime.fromtimestamp(timestamp).isoformat()


def timing_section(metrics: Sequence[PerformanceMetric], threshold: float) -> dict[str, Any]:
    """Count, mean / median / max / min duration and slow calls of ``metrics``."""
    durations = [m.duration for m in metrics]
    return {
        "total_operations": len(durations),
        "avg_duration": mean(durations),
        "median_duration": median(durations),
        "max_duration": max(durations),
        "min_duration": min(durations),
        "slow_operations": sum(1 for d in durations if d > threshold),
    }


def key_generation_section(
    metrics: Sequence[PerformanceMetric], threshold: float
) -> dict[str, Any]:
    """The original's ``key_generation`` statistics (text lengths included)."""
    lengths = [m.text_length for m in metrics]
    return {
        **timing_section(metrics, threshold),
        "avg_text_length": mean(lengths),
        "max_text_length": max(lengths),
    }


def operations_section(metrics: Sequence[PerformanceMetric], threshold: float) -> dict[str, Any]:
    """The original's ``cache_operations`` statistics, with a split by operation name."""
    by_type: dict[str, list[float]] = {}
    for metric in metrics:
        by_type.setdefault(metric.operation_type, []).append(metric.duration)
    return {
        **timing_section(metrics, threshold),
        "by_operation_type": {
            name: {"count": len(d), "avg_duration": mean(d), "max_duration": max(d)}
            for name, d in by_type.items()
        },
    }


def compression_section(metrics: Sequence[CompressionMetric]) -> dict[str, Any]:
    """The original's ``compression`` statistics."""
    ratios = [m.compression_ratio for m in metrics]
    times = [m.compression_time for m in metrics]
    original = sum(m.original_size for m in metrics)
    saved = original - sum(m.compressed_size for m in metrics)
    return {
        "total_operations": len(metrics),
        "avg_compression_ratio": mean(ratios),
        "median_compression_ratio": median(ratios),
        "best_compression_ratio": min(ratios),
        "worst_compression_ratio": max(ratios),
        "avg_compression_time": mean(times),
        "max_compression_time": max(times),
        "total_bytes_processed": original,
        "total_bytes_saved": saved,
        "overall_savings_percent": 100.0 * saved / original if original else 0.0,
    }


def memory_section(metrics: Sequence[MemoryUsageMetric], critical_bytes: int) -> dict[str, Any]:
    """The original's memory statistics of the last measurements (current, thresholds
    reached, trends); the caller adds the threshold values."""
    latest, recent = metrics[-1], metrics[-10:]
    totals = [m.total_cache_size_bytes for m in recent]
    memory = [m.memory_cache_size_bytes for m in recent]
    counts = [m.cache_entry_count for m in recent]
    trends: dict[str, Any] = {
        "total_measurements": len(metrics),
        "avg_total_cache_size_mb": mean(totals) / MIB,
        "max_total_cache_size_mb": max(totals) / MIB,
        "avg_memory_cache_size_mb": mean(memory) / MIB,
        "avg_entry_count": mean(counts),
        "max_entry_count": max(counts),
    }
    span = recent[-1].timestamp - recent[0].timestamp
    if len(recent) >= 2 and span > 0:
        trends["growth_rate_mb_per_hour"] = (totals[-1] - totals[0]) / span * 3600 / MIB
    return {
        "current": {
            "total_cache_size_mb": latest.total_cache_size_bytes / MIB,
            "memory_cache_size_mb": latest.memory_cache_size_bytes / MIB,
            "cache_entry_count": latest.cache_entry_count,
            "memory_cache_entry_count": latest.memory_cache_entry_count,
            "avg_entry_size_bytes": latest.avg_entry_size_bytes,
            "process_memory_mb": latest.process_memory_mb,
            "cache_utilization_percent": latest.cache_utilization_percent,
            "warning_threshold_reached": latest.warning_threshold_reached,
        },
        "thresholds": {
            "warning_threshold_reached": latest.warning_threshold_reached,
            "critical_threshold_reached": latest.total_cache_size_bytes >= critical_bytes,
        },
        "trends": trends,
    }


def slower_than_usual(values: Sequence[float], multiplier: float) -> tuple[float, float]:
    """``(baseline, threshold)``: the mean of the fastest 80% of ``values``, and
    ``multiplier`` times it (the original's rule for "significantly slower")."""
    ordered = sorted(values)
    base = ordered[: max(1, int(len(ordered) * 0.8))]
    baseline = sum(base) / len(base)
    return baseline, baseline * multiplier
