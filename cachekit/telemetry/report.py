"""Plain-data reports the monitor builds from its counters (what ``cachekit stats`` shows)."""

from __future__ import annotations

from typing import Any

from cachekit.config.model import MonitoringConfig
from cachekit.protocol import LocalTier
from cachekit.telemetry.metrics import OPERATIONS, RESULTS, TIERS, Recorder, series, slot


def operations_table(
    rec: Recorder, counts: list[int], seconds: list[float], timed: list[int]
) -> dict[str, Any]:
    """Operations by name and answering tier: counts by result, mean and slowest duration."""
    operations: dict[str, Any] = {}
    for op, name in enumerate(OPERATIONS):
        tiers: dict[str, Any] = {}
        for tier, tier_name in enumerate(TIERS):
            by_result = {r: counts[slot(op, i, tier)] for i, r in enumerate(RESULTS)}
            total = sum(by_result.values())
            if total:
                s = series(op, tier)
                tiers[tier_name] = {
                    "count": total,
                    **{k: v for k, v in by_result.items() if v},
                    # None: not timed (a memory-only stack's get skips the wrapper)
                    "avg_duration": seconds[s] / timed[s] if timed[s] else None,
                    "max_duration": rec.slowest[s] if timed[s] else None,
                }
        if tiers:
            operations[name] = {
                "count": sum(t["count"] for t in tiers.values()),
                "tiers": tiers,
            }
    return operations


def memory_usage(memory: LocalTier | None, cfg: MonitoringConfig) -> dict[str, Any]:
    """The memory tier's size, bounds and evictions against the thresholds."""
    used = memory.bytes_used if memory is not None else 0
    return {
        "current": {
            "memory_tier_bytes": used,
            "memory_tier_mb": used / 1048576,
            "memory_tier_entries": memory.entries if memory is not None else 0,
            "max_entries": memory.max_size if memory is not None else None,
            "max_bytes": memory.max_bytes if memory is not None else None,
            "evictions": memory.evictions if memory is not None else 0,
        },
        "thresholds": {
            "warning_bytes": cfg.memory_warning_bytes,
            "critical_bytes": cfg.memory_critical_bytes,
            "warning_threshold_reached": used > cfg.memory_warning_bytes,
            "critical_threshold_reached": used > cfg.memory_critical_bytes,
        },
    }


def memory_warnings(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Warnings when the memory tier is above a threshold (empty when fine)."""
    used = stats["current"]["memory_tier_bytes"]
    for severity in ("critical", "warning"):
        if stats["thresholds"][f"{severity}_threshold_reached"]:
            limit = stats["thresholds"][f"{severity}_bytes"]
            return [
                {
                    "severity": severity,
                    "message": f"memory tier holds {used / 1048576:.1f} MiB, over "
                    f"{limit / 1048576:.0f} MiB",
                    "recommendations": [
                        "lower memory.max_bytes or memory.max_entries",
                        "store less per entry (compress, trim responses)",
                    ],
                }
            ]
    return []
