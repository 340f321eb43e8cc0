"""``HitHistory``: the hit ratio of the last minutes, sampled from a stack's counters.

Every ``interval`` seconds (and whenever a page asks) it reads the cumulative hits and
lookups of the stack (``get``, ``get_many``, ``get_or_set``, from the monitor; the memory
tier's own counters on a stack without one) and keeps the last ``keep`` samples; the ratio
of an interval is its hits over its lookups.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from cachekit.layers.wrapper import memory_tier
from cachekit.protocol import CacheInterface

LOOKUP_OPERATIONS: Final = ("get", "get_many", "get_or_set")


def hits_and_lookups(cache: CacheInterface) -> tuple[int, int]:
    """Cumulative ``(hits, lookups)`` of the stack."""
    monitor: Any = cache.monitor
    stats = getattr(monitor, "get_performance_stats", None)
    if callable(stats):
        operations = stats().get("operations", {})
        hits = misses = 0
        for name in LOOKUP_OPERATIONS:
            for tier in operations.get(name, {}).get("tiers", {}).values():
                hits += tier.get("hit", 0)
                misses += tier.get("miss", 0)
        return hits, hits + misses
    memory = memory_tier(cache)
    if memory is None:
        return 0, 0
    return memory.hits, memory.hits + memory.misses


class HitHistory:
    """The last ``keep`` samples of ``(time, hits, lookups)``."""

    def __init__(
        self,
        cache: CacheInterface,
        *,
        interval: float = 5.0,
        keep: int = 72,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache = cache
        self.interval = interval
        self._clock = clock
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=keep)

    def sample(self) -> tuple[int, int]:
        """Take a sample now; the cumulative ``(hits, lookups)``."""
        hits, lookups = hits_and_lookups(self.cache)
        self._samples.append((self._clock(), hits, lookups))
        return hits, lookups

    def points(self) -> list[tuple[float, float | None]]:
        """``(seconds ago, hit ratio of the interval ending then)``, oldest first."""
        now, samples, out = self._clock(), list(self._samples), []
        for (_, h0, l0), (t1, h1, l1) in itertools.pairwise(samples):
            out.append((now - t1, (h1 - h0) / (l1 - l0) if l1 > l0 else None))
        return out

    def recent(self, seconds: float = 60.0) -> float | None:
        """The hit ratio over the last ``seconds`` (None: no lookup then)."""
        samples = list(self._samples)
        if len(samples) < 2:
            return None
        now, last = self._clock(), samples[-1]
        first = next((s for s in samples if now - s[0] <= seconds), samples[0])
        if first is last:
            first = samples[-2]
        lookups = last[2] - first[2]
        return (last[1] - first[1]) / lookups if lookups > 0 else None
