"""``TieredCache``: the memory tier in front of Redis, kept coherent with it.

Reads go to memory first, then Redis; a Redis hit is promoted into memory with the
entry's *remaining* TTL, so it expires from memory when it expires in Redis. Writes go
through to both; deletes remove from both. ``Coherence`` decides what memory may hold
(see ``cachekit.layers.coherence``): a read that raced a change of its key is served but
not promoted, memory is bypassed while it cannot be vouched for, and a write drops the
memory copy before it is sent, so whatever becomes of the write (cancelled, timed out),
no copy outlives it.

The memory tier's operations never suspend (they are in-process), so a promotion that
``Coherence.admit`` allows is stored before any other task runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cachekit.layers.coherence import Coherence
from cachekit.protocol import TTL, UNSET, CacheInterface, LocalTier, RemoteTier, check_ttl
from cachekit.tags import TagIndex


class TieredCache(CacheInterface):
    """Memory (``near``) in front of Redis (``far``); ``coherence`` (default: ``local``
    rules) decides what memory may hold."""

    def __init__(
        self, near: LocalTier, far: RemoteTier, *, coherence: Coherence | None = None
    ) -> None:
        super().__init__()
        self.near = near
        self.far = far
        self.default_ttl = far.default_ttl
        self.coherence = coherence or Coherence(near, "local", max_stale=0.0)

    def _default_tags(self) -> TagIndex:
        return self.far.tags()  # shared by every process: Redis holds the index

    async def get(self, key: str, *, type: Any = None) -> Any:
        value = await self.get_near(key, type=type)
        if value is not None:
            return value
        return await self.get_far(key, type=type)

    async def get_near(self, key: str, *, type: Any = None) -> Any:
        """The memory tier's copy, when memory may answer (else None)."""
        if not self.coherence.trusted:
            return None
        return await self.near.get(key, type=type)

    async def get_far(self, key: str, *, type: Any = None) -> Any:
        """The second half of ``get``: read Redis and promote a hit into memory."""
        return (await self.get_far_with_ttl(key, type=type))[0]

    async def get_far_with_ttl(self, key: str, *, type: Any = None) -> tuple[Any, float | None]:
        """``get_far``, with the entry's remaining seconds (None: no expiry)."""
        coherence = self.coherence
        ticket = coherence.ticket()
        value = remaining = None
        try:
            value, remaining = await self.far.get_with_ttl(key, type=type)
        finally:
            admitted = coherence.admit([key] if value is not None else [], ticket)
        if admitted and _promotable(remaining):
            await self.near.set(key, value, coherence.ttl(remaining))
        return value, remaining

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        coherence = self.coherence
        coherence.changed((key,))
        await self.near.delete(key)
        ticket = coherence.ticket()
        stored = False
        try:
            await self.far.set(key, value, seconds)
            stored = True
        finally:
            admitted = coherence.admit([key] if stored else [], ticket)
        if stored:
            coherence.wrote((key,))
        if admitted:
            await self.near.set(key, value, coherence.ttl(seconds))

    async def delete(self, key: str) -> bool:
        self.coherence.changed((key,))
        near = await self.near.delete(key)
        far = await self.far.delete(key)
        return near or far

    async def exists(self, key: str) -> bool:
        if self.coherence.trusted and await self.near.exists(key):
            return True
        return await self.far.exists(key)

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        coherence = self.coherence
        found = await self.near.get_many(wanted, type=type) if coherence.trusted else {}
        missing = [k for k in wanted if k not in found]
        if not missing:
            return found
        ticket = coherence.ticket()
        hits: dict[str, tuple[Any, float | None]] = {}
        try:
            hits = await self.far.get_many_with_ttl(missing, type=type)
        finally:
            admitted = set(coherence.admit(list(hits), ticket))
        for key, (value, remaining) in hits.items():
            if key in admitted and _promotable(remaining):
                await self.near.set(key, value, coherence.ttl(remaining))
            found[key] = value
        return found

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        coherence = self.coherence
        coherence.changed(items)
        await self.near.delete_many(items)
        ticket = coherence.ticket()
        stored = False
        try:
            await self.far.set_many(items, seconds)
            stored = True
        finally:
            admitted = coherence.admit(list(items) if stored else [], ticket)
        if admitted:
            await self.near.set_many({k: items[k] for k in admitted}, coherence.ttl(seconds))

    async def delete_many(self, keys: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(keys))
        self.coherence.changed(wanted)
        await self.near.delete_many(wanted)
        return await self.far.delete_many(wanted)

    async def delete_matching(self, pattern: str) -> int:
        """Remove matching keys from Redis (SCAN) and the memory tier's matching copies;
        no read that overlapped the removal puts a matching key back in memory."""
        coherence = self.coherence
        coherence.flushed()
        await self.near.delete_matching(pattern)
        try:
            removed = await self.far.delete_matching(pattern)
        finally:
            coherence.flushed()
            await self.near.delete_matching(pattern)
        return removed

    async def clear(self) -> None:
        coherence = self.coherence
        coherence.flushed()
        await self.near.clear()
        try:
            await self.far.clear()
        finally:
            coherence.flushed()
            await self.near.clear()

    async def connect(self) -> bool:
        return await self.far.connect()

    async def aclose(self) -> None:
        await self.far.aclose()
        await self.near.aclose()


def _promotable(remaining: float | None) -> bool:
    """Whether an entry with ``remaining`` seconds to live goes into memory: PTTL can be
    0 in the last millisecond, and a TTL of 0 is no TTL (the value is still returned)."""
    return remaining is None or remaining > 0
