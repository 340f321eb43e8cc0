"""``TieredCache``: the memory tier in front of Redis.

Reads go to memory first, then Redis; a Redis hit is promoted into memory with the
entry's *remaining* TTL, so it expires from memory when it expires in Redis. Writes go
through to both; deletes remove from both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cachekit.protocol import TTL, UNSET, CacheInterface, LocalTier, RemoteTier, check_ttl


class TieredCache(CacheInterface):
    """Memory (``near``) in front of Redis (``far``)."""

    def __init__(self, near: LocalTier, far: RemoteTier) -> None:
        super().__init__()
        self.near = near
        self.far = far
        self.default_ttl = far.default_ttl

    async def get(self, key: str, *, type: Any = None) -> Any:
        value = await self.near.get(key, type=type)
        if value is not None:
            return value
        return await self.get_far(key, type=type)

    async def get_far(self, key: str, *, type: Any = None) -> Any:
        """The second half of ``get``: read Redis and promote a hit into memory."""
        value, remaining = await self.far.get_with_ttl(key, type=type)
        if value is not None and _promotable(remaining):
            await self.near.set(key, value, remaining)
        return value

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        await self.far.set(key, value, seconds)
        await self.near.set(key, value, seconds)

    async def delete(self, key: str) -> bool:
        near = await self.near.delete(key)
        far = await self.far.delete(key)
        return near or far

    async def exists(self, key: str) -> bool:
        return await self.near.exists(key) or await self.far.exists(key)

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        found = await self.near.get_many(wanted, type=type)
        missing = [k for k in wanted if k not in found]
        if missing:
            for key, (value, remaining) in (
                await self.far.get_many_with_ttl(missing, type=type)
            ).items():
                if _promotable(remaining):
                    await self.near.set(key, value, remaining)
                found[key] = value
        return found

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        await self.far.set_many(items, seconds)
        await self.near.set_many(items, seconds)

    async def delete_many(self, keys: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(keys))
        await self.near.delete_many(wanted)
        return await self.far.delete_many(wanted)

    async def delete_matching(self, pattern: str) -> int:
        """Remove matching keys from Redis (SCAN) and the memory tier's matching copies."""
        removed = await self.far.delete_matching(pattern)
        await self.near.delete_matching(pattern)
        return removed

    async def clear(self) -> None:
        await self.far.clear()
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
