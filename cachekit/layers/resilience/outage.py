"""``OutageJournal``: what a cache did in memory while Redis failed, settled afterwards.

While Redis fails, writes land in the memory tier and deletes reach only memory. Once
Redis answers again the journal settles with it, in this order:

1. invalidations are replayed on Redis: a ``clear``, then patterns, then keys. A delete
   is always safe to repeat (its worst case is a miss), even over a value another
   process wrote since;
2. entries memory took while Redis failed leave memory, so they never shadow values
   other processes wrote to Redis since. With ``recovery = "write_back"`` each is first
   offered to Redis with SET NX and its remaining TTL, so a value already there wins.

Bounded: dirty keys by the memory tier's size (a dirty key that must be forgotten is
dropped from memory too), deletes by 10,000 keys and 100 patterns (beyond, the oldest
are forgotten and counted in ``lost_invalidations``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Final

from cachekit.config.model import RecoveryPolicy
from cachekit.errors import CacheUnavailableError
from cachekit.protocol import LocalTier, RemoteTier

logger = logging.getLogger("cachekit.resilience")

MAX_DELETES: Final = 10_000
MAX_PATTERNS: Final = 100


class OutageJournal:
    """Dirty keys and pending invalidations of ``near`` (memory) against ``far`` (Redis)."""

    def __init__(
        self, near: LocalTier, far: RemoteTier, *, recovery: RecoveryPolicy, timeout: float
    ) -> None:
        self.near = near
        self.far = far
        self.recovery = recovery
        self.timeout = timeout
        self.lost_invalidations = 0
        """Invalidations made while Redis failed that could not be kept for replay."""
        self._dirty: dict[str, None] = {}
        self._deletes: dict[str, None] = {}
        self._patterns: dict[str, None] = {}
        self._clear = False

    def dirty_keys(self) -> list[str]:
        """The keys written to memory only, not yet settled with Redis."""
        return list(self._dirty)

    @property
    def pending(self) -> bool:
        """True when something waits to be settled with Redis."""
        return bool(self._dirty or self._deletes or self._patterns or self._clear)

    def summary(self) -> str | None:
        """One line on what waits to be settled, or None."""
        if not self.pending:
            return None
        invalidations = len(self._deletes) + len(self._patterns) + self._clear
        return f"to reconcile: {len(self._dirty)} writes, {invalidations} invalidations"

    # -- recording (memory has already been changed by the caller) -----------------------
    async def wrote(self, keys: Iterable[str]) -> None:
        """``keys`` were written to memory only."""
        dirty = self._dirty
        for key in keys:
            dirty.pop(key, None)
            dirty[key] = None
        while len(dirty) > self.near.max_size:
            # A dirty key the journal forgets must not stay in memory shadowing Redis.
            oldest = next(iter(dirty))
            del dirty[oldest]
            await self.near.delete(oldest)

    def deleted(self, keys: Iterable[str]) -> None:
        """``keys`` were deleted from memory only."""
        keys = list(keys)
        for key in keys:
            self._dirty.pop(key, None)
        self._keep_deletes(keys)

    def _keep_deletes(self, keys: Iterable[str]) -> None:
        deletes = self._deletes
        for key in keys:
            deletes.pop(key, None)
            deletes[key] = None
        while len(deletes) > MAX_DELETES:
            del deletes[next(iter(deletes))]
            self.lost_invalidations += 1

    def matched(self, pattern: str) -> None:
        """Keys matching ``pattern`` were deleted from memory only."""
        patterns = self._patterns
        patterns.pop(pattern, None)
        patterns[pattern] = None
        while len(patterns) > MAX_PATTERNS:
            del patterns[next(iter(patterns))]
            self.lost_invalidations += 1

    def cleared(self) -> None:
        """Memory was cleared: one namespace clear replaces every earlier record."""
        self._clear = True
        self._dirty.clear()
        self._deletes.clear()
        self._patterns.clear()

    # -- settling -----------------------------------------------------------------------
    async def settle(self) -> str | None:
        """Settle with Redis within ``timeout``; None on success, else why it failed.

        Dirty entries leave memory before the first await, whatever happens next; on
        failure the invalidations are kept for the next attempt and the entries offered
        for write-back are lost (write-back is best effort).
        """
        dirty = list(self._dirty)
        self._dirty.clear()
        entries: dict[str, tuple[Any, float | None]] = {}
        if self.recovery == "write_back":
            for key in dirty:
                value = await self.near.get(key)
                if value is not None:
                    entries[key] = (value, await self.near.get_ttl(key))
        await self.near.delete_many(dirty)
        clear, patterns, deletes = self._clear, list(self._patterns), list(self._deletes)
        self._clear = False
        self._patterns.clear()
        self._deletes.clear()
        try:
            async with asyncio.timeout(self.timeout):
                if clear:
                    await self.far.clear()
                for pattern in patterns:
                    await self.far.delete_matching(pattern)
                if deletes:
                    await self.far.delete_many(deletes)
                written = await self.far.add_many(entries) if entries else 0
        except CacheUnavailableError as exc:
            reason = f"reconciliation failed: {exc}"
        except TimeoutError:
            reason = f"reconciliation: no answer within {self.timeout:g}s"
        else:
            if dirty or deletes or patterns or clear:
                logger.info(
                    "cachekit settled an outage with redis: %d invalidations replayed, "
                    "%d writes dropped from memory, %d of them written back",
                    len(deletes) + len(patterns) + clear,
                    len(dirty),
                    written,
                )
            return None
        # Keep the invalidations for the next attempt; dirty keys written meanwhile stay
        # dirty, and the next settle replays the deletes before writing anything back.
        self._clear = self._clear or clear
        for pattern in patterns:
            self.matched(pattern)
        self._keep_deletes(deletes)
        return reason
