"""The original ``AIResponseCache``'s statistics methods, built from the AI layer's counters.

``ai_metrics``, ``get_cache_stats`` (the original's ``redis`` / ``memory`` /
``performance`` / ``ai_metrics`` keys on top of cachekit's), ``get_cache_hit_ratio``,
``get_performance_summary``, ``get_ai_performance_summary``, ``get_text_tier_statistics``
and ``get_operation_performance``. Hits, misses and tiers come from the AI layer's stats
(``cachekit.layers.ai.stats``); durations from the last 1,000 calls this layer timed.
Nothing here reads Redis keys: key counts that would need a full scan are ``None``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, Final, cast

from cachekit.compat.surface import OriginalSurface
from cachekit.errors import CacheError
from cachekit.layers.ai.cache import operation_of
from cachekit.layers.ai.stats import TIERS, AIStats
from cachekit.protocol import TTL, UNSET

__all__ = ["AIStatsViews"]

_KEPT: Final = 1000
"""Timed calls kept for ``get_operation_performance`` (the original kept 1,000)."""
_MIN_REQUESTS: Final = 10
"""Lookups of an operation before the recommendations judge its hit rate."""


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


class AIStatsViews(OriginalSurface):
    """The original's statistics over ``self.stats`` (an ``AIStats``)."""

    stats: AIStats
    _timed: deque[dict[str, Any]]

    def _timed_calls(self) -> deque[dict[str, Any]]:
        timed = getattr(self, "_timed", None)
        if timed is None:
            timed = self._timed = deque(maxlen=_KEPT)
        return timed

    async def get(self, key: str, *, type: Any = None) -> Any:
        start = time.perf_counter()
        value = await super().get(key, type=type)
        self._timed_calls().append(
            {
                "operation": operation_of(key) or "other",
                "cache_operation": "get",
                "duration": time.perf_counter() - start,
                "success": value is not None,
            }
        )
        return value

    async def set(self, key: str, value: Any, ttl: TTL = UNSET, **kwargs: Any) -> None:
        start = time.perf_counter()
        await super().set(key, value, ttl, **kwargs)
        self._timed_calls().append(
            {
                "operation": operation_of(key) or "other",
                "cache_operation": "set",
                "duration": time.perf_counter() - start,
                "success": True,
            }
        )

    async def clear(self, operation_context: str = "") -> None:
        """Remove every entry of this cache's namespace and report it as an invalidation
        of kind ``clear`` (``operation_context`` labels it, as in the original)."""
        await super().clear()
        monitor = self.monitor
        if monitor is not None:
            monitor.record_invalidation("clear", operation_context or "none", "clear", 0)

    # -- the original's dicts ---------------------------------------------------------
    @property
    def ai_metrics(self) -> dict[str, Any]:
        """Hits and misses by operation, keys built by text tier, the last timed calls,
        invalidations by kind (a fresh dict each time)."""
        ops = self.stats.operations
        return {
            "cache_hits_by_operation": {op: s.hits for op, s in ops.items()},
            "cache_misses_by_operation": {op: s.misses for op, s in ops.items()},
            "cache_stores_by_operation": {op: s.sets for op, s in ops.items()},
            "text_tier_distribution": dict(self.stats.keys_by_tier),
            "operation_performance": list(self._timed_calls()),
            "invalidations": dict(self.stats.invalidations),
        }

    async def _redis_status(self) -> dict[str, Any]:
        if not self.redis_url:
            return {"status": "unavailable", "keys": 0, "reason": "no redis.url"}
        budget = self.config.budget.connect if self.config is not None else 5.0
        try:
            async with asyncio.timeout(budget):
                report = await self.health()
        except (TimeoutError, CacheError) as exc:
            return {"status": "error", "error": str(exc) or type(exc).__name__}
        status = {"ok": "connected", "degraded": "degraded"}.get(report.status, "unavailable")
        return {
            "status": status,
            "keys": None,
            "memory_used": None,
            "memory_used_bytes": None,
            "connected_clients": None,
            "reasons": list(report.reasons),
        }

    async def get_cache_stats(self) -> dict[str, Any]:
        """cachekit's AI stats plus the original's ``redis``, ``memory``, ``performance``
        and ``ai_metrics`` sections. No secrets."""
        stats: dict[str, Any] = await cast(Any, super()).get_cache_stats()
        entries, limit = len(self.memory_cache), self.memory_cache_size
        stats["memory"] = {
            **(stats.get("memory") or {}),
            "memory_cache_entries": entries,
            "memory_cache_size_limit": limit,
            "memory_cache_utilization": f"{entries}/{limit}",
        }
        stats["redis"] = await self._redis_status()
        monitor = self.performance_monitor
        stats["performance"] = monitor.get_performance_stats() if monitor is not None else {}
        stats["ai_metrics"] = self.ai_metrics
        return stats

    def _totals(self) -> tuple[int, int]:
        hits = sum(s.hits for s in self.stats.operations.values())
        misses = sum(s.misses for s in self.stats.operations.values())
        return hits, misses

    def get_cache_hit_ratio(self) -> float:
        """Hits over lookups, in percent (0.0 before the first lookup)."""
        hits, misses = self._totals()
        return 100.0 * hits / (hits + misses) if hits + misses else 0.0

    def get_performance_summary(self) -> dict[str, Any]:
        """The original's headline numbers: hit ratio, operations, hits and misses by
        operation, keys by text tier, recent mean call time."""
        hits, misses = self._totals()
        recent = [r["duration"] for r in list(self._timed_calls())[-10:]]
        metrics = self.ai_metrics
        return {
            "hit_ratio": self.get_cache_hit_ratio(),
            "total_operations": hits + misses + sum(s.sets for s in self.stats.operations.values()),
            "cache_hits": hits,
            "cache_misses": misses,
            "recent_avg_cache_operation_time": sum(recent) / len(recent) if recent else 0.0,
            "ai_operation_metrics": metrics["cache_hits_by_operation"],
            "ai_miss_metrics": metrics["cache_misses_by_operation"],
            "text_tier_distribution": metrics["text_tier_distribution"],
            "recent_ai_operations": len(metrics["operation_performance"]),
        }

    def _key_generation_stats(self) -> dict[str, Any]:
        built = dict(self.stats.keys_by_tier)
        total = sum(built.values())
        monitor = self.monitor
        average = 0.0
        if monitor is not None and hasattr(monitor, "get_performance_stats"):
            average = (
                monitor.get_performance_stats().get("key_generation", {}).get("avg_duration", 0.0)
            )
        return {
            "total_keys_generated": total,
            "average_generation_time": average,
            "text_size_distribution": built,
            "operation_distribution": {
                op: s.hits + s.misses for op, s in self.stats.operations.items()
            },
            "recent_performance": {},
            "monitor_available": monitor is not None,
        }

    def _recommendations(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for op, s in self.stats.operations.items():
            lookups = s.hits + s.misses
            if lookups < _MIN_REQUESTS:
                continue
            rate = 100.0 * s.hits / lookups
            if rate < 30 or rate > 90:
                low = rate < 30
                out.append(
                    {
                        "type": "hit_rate",
                        "priority": "high" if low else "low",
                        "title": f"{'Low' if low else 'Excellent'} hit rate for {op} operation",
                        "description": f"{op!r}: {rate:.1f}% hits over {lookups} lookups",
                        "action": f"review ai.operation_ttls.{op} and the options that vary"
                        if low
                        else f"consider a longer ai.operation_ttls.{op}",
                    }
                )
        if self.memory_cache_size:
            use = 100.0 * len(self.memory_cache) / self.memory_cache_size
            if use > 90:
                out.append(
                    {
                        "type": "memory",
                        "priority": "high",
                        "title": "Memory cache near capacity",
                        "description": f"memory tier {use:.0f}% full",
                        "action": "raise memory.max_entries (memory_cache_size)",
                    }
                )
        order = {"high": 0, "medium": 1, "low": 2}
        return sorted(out, key=lambda r: order[r["priority"]])

    def get_ai_performance_summary(self) -> dict[str, Any]:
        """Hit rates overall and by operation (percent), keys by text tier, key
        generation, recommendations and the monitor's statistics."""
        hits, misses = self._totals()
        monitor = self.performance_monitor
        return {
            "total_operations": hits + misses,
            "overall_hit_rate": round(self.get_cache_hit_ratio(), 2),
            "hit_rate_by_operation": {
                op: round(100.0 * s.hits / (s.hits + s.misses), 2)
                for op, s in self.stats.operations.items()
                if s.hits + s.misses
            },
            "text_tier_distribution": dict(self.stats.keys_by_tier),
            "key_generation_stats": self._key_generation_stats(),
            "optimization_recommendations": self._recommendations(),
            "inherited_stats": monitor.get_performance_stats() if monitor is not None else {},
        }

    def get_text_tier_statistics(self) -> dict[str, Any]:
        """The tier bounds, keys built per tier, hit rate per tier, and which tiers have
        data yet."""
        distribution = dict(self.stats.keys_by_tier)
        recorded = [tier for tier in TIERS if distribution.get(tier)]
        return {
            "tier_configuration": dict(cast(Any, self).text_size_tiers),
            "tier_distribution": distribution,
            "tier_performance_analysis": {
                "tier_hit_rates": {
                    tier: 100.0 * self.stats.tiers[tier].hit_ratio for tier in TIERS
                },
                "tier_lookups": {
                    tier: self.stats.tiers[tier].hits + self.stats.tiers[tier].misses
                    for tier in TIERS
                },
            },
            "data_completeness": {
                "expected_tiers": list(TIERS),
                "recorded_tiers": recorded,
                "missing_tiers": [tier for tier in TIERS if tier not in recorded],
                "completeness_percentage": round(100.0 * len(recorded) / len(TIERS), 1),
            },
        }

    def get_operation_performance(self) -> dict[str, Any]:
        """Durations of the last timed calls by operation (ms: mean, min, max, p50, p95,
        p99), with each operation's TTL."""
        by_operation: dict[str, list[float]] = {}
        for record in self._timed_calls():
            by_operation.setdefault(record["operation"], []).append(record["duration"] * 1000)
        operations: dict[str, Any] = {}
        for op, durations in by_operation.items():
            operations[op] = {
                "avg_duration_ms": round(sum(durations) / len(durations), 2),
                "min_duration_ms": round(min(durations), 2),
                "max_duration_ms": round(max(durations), 2),
                "percentiles": {
                    name: round(_percentile(durations, share), 2)
                    for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
                },
                "total_operations": len(durations),
                "configured_ttl": cast(Any, self).operation_ttl(op),
                "sample_count": len(durations),
            }
        every = [d for durations in by_operation.values() for d in durations]
        ranked = sorted(operations, key=lambda op: operations[op]["avg_duration_ms"])
        return {
            "operations": operations,
            "summary": {
                "total_operations_measured": len(every),
                "total_operation_types": len(operations),
                "overall_avg_duration_ms": round(sum(every) / len(every), 2) if every else 0.0,
                "fastest_operation": ranked[0] if ranked else None,
                "slowest_operation": ranked[-1] if ranked else None,
            },
        }
