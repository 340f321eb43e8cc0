"""``CacheKeyGenerator`` with the original's constructor: a hashlib constructor as the hash,
a ``performance_monitor`` that sees every key generated, ``get_key_generation_stats``.

The keys themselves are cachekit's (collision-free, no user text in them; see
``cachekit.keys``), not the original's ``ai_cache:op:...|txt:...`` strings.
"""

from __future__ import annotations

import time
from abc import ABCMeta
from collections.abc import Callable, Mapping
from typing import Any

from cachekit.compat._alias import counts_core
from cachekit.compat.monitor import CachePerformanceMonitor
from cachekit.errors import CacheValueError
from cachekit.keys import CacheKeyGenerator as CoreKeyGenerator

__all__ = ["CacheKeyGenerator", "hash_name"]


def hash_name(algorithm: str | Callable[..., Any]) -> str:
    """A hash name from a name or a hashlib constructor (the original passed ``hashlib.sha256``)."""
    if isinstance(algorithm, str):
        return algorithm
    try:
        name = algorithm().name
    except Exception as exc:
        raise CacheValueError(f"hash_algorithm {algorithm!r} is not a hashlib constructor") from exc
    return str(name)


class CacheKeyGenerator(CoreKeyGenerator, metaclass=ABCMeta):
    """Keys for AI operations, built as the original's generator was.

    ``CacheKeyGenerator(text_hash_threshold=1000, hash_algorithm=hashlib.sha256,
    performance_monitor=monitor)``: ``hash_algorithm`` may be a hashlib constructor or a
    name; ``performance_monitor`` gets ``record_key_generation_time`` for every key.
    Every core generator counts as one of these.
    """

    def __init__(
        self,
        text_hash_threshold: int = 1000,
        hash_algorithm: str | Callable[..., Any] = "sha256",
        performance_monitor: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(text_hash_threshold, hash_name(hash_algorithm), **options)
        self.performance_monitor = performance_monitor

    @classmethod
    def __subclasshook__(cls, subclass: type) -> Any:
        return counts_core(cls, CacheKeyGenerator, CoreKeyGenerator, subclass)

    def generate_cache_key(
        self,
        text: str,
        operation: str,
        options: Mapping[str, Any] | None = None,
        *,
        question: str | None = None,
    ) -> str:
        """The key of ``operation`` applied to ``text`` with ``options`` (see the core)."""
        monitor = self.performance_monitor
        if monitor is None:
            return super().generate_cache_key(text, operation, options, question=question)
        start = time.perf_counter()
        key = super().generate_cache_key(text, operation, options, question=question)
        elapsed = time.perf_counter() - start
        if CachePerformanceMonitor in type(monitor).__mro__:  # the original's record, with details
            details = {
                "text_tier": self.text_tier(text),
                "has_options": bool(options),
                "has_question": bool(question or (options or {}).get("question")),
            }
            monitor.record_key_generation_time(elapsed, len(text), operation, details)
        else:
            monitor.record_key_generation_time(elapsed, len(text), operation)
        return key

    def get_key_generation_stats(self) -> dict[str, Any]:
        """Keys generated (from the monitor's recorded times): count, mean time, text
        sizes, operations, the last ten (the original's keys; empty without a monitor)."""
        times = list(getattr(self.performance_monitor, "key_generation_times", []) or [])
        stats: dict[str, Any] = {
            "total_keys_generated": len(times),
            "average_generation_time": 0.0,
            "text_size_distribution": {},
            "operation_distribution": {},
            "recent_performance": {},
            "monitor_available": self.performance_monitor is not None,
        }
        if not times:
            return stats
        sizes = [m.text_length for m in times]
        operations: dict[str, int] = {}
        for metric in times:
            operations[metric.operation_type] = operations.get(metric.operation_type, 0) + 1
        recent = times[-10:]
        stats.update(
            average_generation_time=sum(m.duration for m in times) / len(times),
            text_size_distribution={
                "small": sum(1 for n in sizes if n <= self.text_hash_threshold),
                "large": sum(1 for n in sizes if n > self.text_hash_threshold),
                "average_size": sum(sizes) / len(sizes),
                "max_size": max(sizes),
            },
            operation_distribution=operations,
            recent_performance={
                "recent_average_time": sum(m.duration for m in recent) / len(recent),
                "recent_measurements": len(recent),
            },
        )
        return stats
