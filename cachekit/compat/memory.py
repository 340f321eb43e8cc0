"""``InMemoryCache`` with the original's constructor and extra methods.

A subclass of the core memory tier (``cachekit.backends.memory.InMemoryCache``) that
takes ``fail_on_connection_error`` (ignored, as in the original: there is no
connection), and has the original's ``get_active_keys``, ``invalidate_pattern``,
``get_invalidation_frequency_stats``, ``get_invalidation_recommendations``,
``get_cache_statistics`` and ``get_cache_stats``. Every core memory tier counts as one
(``isinstance(memory_tier(stack), cachekit.InMemoryCache)``); those lack the extras.
"""

from __future__ import annotations

import time
from abc import ABCMeta
from collections.abc import Callable, Generator
from typing import Any

from cachekit.backends.glob import escape_glob
from cachekit.backends.memory import InMemoryCache as CoreInMemoryCache
from cachekit.compat._alias import counts_core

__all__ = ["InMemoryCache", "memory_text"]


def memory_text(size: int) -> str:
    """A byte count as the original printed it: ``512B``, ``1.5KB``, ``2.0MB``."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}MB"
    if size >= 1024:
        return f"{size / 1024:.1f}KB"
    return f"{size}B"


class InMemoryCache(CoreInMemoryCache, metaclass=ABCMeta):
    """A bounded in-process cache (TTL + LRU) with the original's extra methods.

    ``clear()`` works awaited (the protocol) and, as in the original, called without
    ``await``: it clears at once (the hit, miss and eviction counters are kept).
    ``await InMemoryCache(...)`` gives the cache (the original factory's
    ``await factory.for_testing(use_memory_cache=True)``).
    """

    def __init__(
        self,
        default_ttl: float | None = 3600,
        max_size: int = 1000,
        fail_on_connection_error: bool = False,
        *,
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(default_ttl, max_size, max_bytes=max_bytes, clock=clock)
        self.fail_on_connection_error = fail_on_connection_error
        self._invalidations = 0
        self._keys_invalidated = 0

    @classmethod
    def __subclasshook__(cls, subclass: type) -> Any:
        return counts_core(cls, InMemoryCache, CoreInMemoryCache, subclass)

    def __await__(self) -> Generator[Any, None, InMemoryCache]:
        return self._itself().__await__()

    async def _itself(self) -> InMemoryCache:
        return self

    def clear(self) -> _Done:  # type: ignore[override]
        """Remove every entry, now; the result may be awaited (or not, as in the original)."""
        step = CoreInMemoryCache.clear(self)
        try:
            step.send(None)  # the memory tier's clear never waits: it finishes here
        except StopIteration:
            return _Done()
        step.close()
        raise RuntimeError("InMemoryCache.clear() did not finish synchronously")

    def get_stats(self) -> dict[str, Any]:
        """cachekit's counters plus the original's keys: ``hit_rate`` (percent),
        ``total_entries`` / ``active_entries`` / ``expired_entries`` (expired entries are
        reclaimed first, so none are left), ``utilization`` and ``utilization_percent``,
        ``memory_usage_bytes`` and ``memory_usage`` (text), ``max_size``, ``default_ttl``,
        ``memory_cache_entries``, ``memory_cache_size``."""
        stats = super().get_stats()
        active, size, used = stats["entries"], self.max_size, stats["bytes"]
        stats.update(
            total_entries=active,
            expired_entries=0,
            active_entries=active,
            max_size=size,
            utilization=f"{active}/{size}",
            utilization_percent=100.0 * active / size,
            default_ttl=self.default_ttl,
            hit_rate=100.0 * stats["hit_ratio"],
            memory_usage_bytes=used,
            memory_usage=memory_text(used),
            memory_cache_entries=active,
            memory_cache_size=size,
        )
        return stats

    def get_active_keys(self) -> list[str]:
        """Keys of the entries that have not expired."""
        return self.get_keys()

    async def invalidate_pattern(self, pattern: str, operation_context: str = "") -> int:
        """Remove the keys matching the glob ``pattern`` (``*``, ``?``; an empty pattern
        removes everything); the number removed."""
        if not pattern:
            removed = self.size()
            await CoreInMemoryCache.clear(self)
        else:
            glob = "".join(
                "*" if c == "*" else "?" if c == "?" else escape_glob(c) for c in pattern
            )
            removed = await self.delete_matching(glob)
        self._invalidations += 1
        self._keys_invalidated += removed
        return removed

    def get_invalidation_frequency_stats(self) -> dict[str, Any]:
        """Invalidations made through ``invalidate_pattern`` (the original returned an
        empty structure of these keys)."""
        return {
            "frequency": {"total": self._invalidations},
            "patterns": {},
            "total_operations": self._invalidations,
            "performance": {"keys_invalidated": self._keys_invalidated},
        }

    def get_invalidation_recommendations(self) -> list[dict[str, Any]]:
        """No recommendations for a memory-only cache (as in the original)."""
        return []

    def get_cache_statistics(self) -> dict[str, Any]:
        """Entries, memory use and utilisation."""
        stats = self.get_stats()
        return {
            "active_entries": stats["active_entries"],
            "total_entries": stats["total_entries"],
            "memory_usage": stats["memory_usage"],
            "max_size": self.max_size,
            "utilization_percent": stats["utilization_percent"],
        }

    async def get_cache_stats(self) -> dict[str, Any]:
        """The original's status shape: ``redis`` (never used), ``memory``, ``performance``."""
        stats = self.get_stats()
        return {
            "redis": {"status": "disconnected", "message": "InMemoryCache does not use Redis"},
            "memory": {
                "status": "active",
                "entries": stats["active_entries"],
                "max_size": self.max_size,
                "utilization_percent": stats["utilization_percent"],
                "memory_usage": stats["memory_usage"],
            },
            "performance": {
                "status": "active",
                "hit_rate": round(stats["hit_ratio"], 4),
                "total_operations": self.hits + self.misses,
                "hits": self.hits,
                "misses": self.misses,
                "cache_type": "memory_only",
            },
        }


class _Done:
    """An awaitable that is already done (what the synchronous ``clear()`` returns)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator
