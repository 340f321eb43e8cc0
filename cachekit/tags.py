"""Tags: which keys carry a tag, so that ``invalidate_tags(["user:42"])`` finds them.

A tag index answers two calls (``TagIndex``): ``tag_keys`` records that a key carries some
tags (before its value is stored, so no value is ever stored untracked), and
``pop_tagged`` takes up to ``count`` keys off a tag (each key is handed out once, so two
processes invalidating the same tag never double-count, and a key tagged again meanwhile
stays in the index). ``CacheInterface.invalidate_tags`` pops a tag's keys in batches and
deletes them through the whole stack: every tier, the outage journal, and, through Redis,
every other process's memory tier (coherence reports the deletes).

Two indexes exist: the Redis tier's (one Redis set per tag, shared by every process; see
``RedisBackend.tag_keys``) and ``LocalTagIndex`` here, for stacks without Redis. Both cost
O(tags) per tagged write and O(keys under the tag) per invalidation, never a scan of the
keyspace. A key rewritten without a tag stays in that tag's set until the tag is
invalidated or its set expires: the invalidation then removes it too (a spurious miss,
never a stale read).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, Protocol

from cachekit.errors import CacheValueError
from cachekit.loaders import Loader, Uncacheable, call_loader, is_uncacheable

MAX_TAGS: Final = 32
"""Tags one entry may carry."""
MAX_TAG_LENGTH: Final = 250
TAG_BATCH: Final = 500
"""Keys an invalidation takes off a tag per round trip."""
FOREVER: Final = 10 * 365 * 86400.0
"""Seconds a tag's set lives when one of its entries never expires (Redis needs a number)."""
_COUNTED_TAGS: Final = 64


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """The distinct tags of ``tags``, in order; ``CacheValueError`` for a bad one.

    A tag is a non-empty string of at most 250 characters; an entry carries at most 32.
    A lone string is refused (``tags="a,b"`` is almost always a mistake for a list).
    """
    if isinstance(tags, (str, bytes)):
        raise CacheValueError(f"tags must be a list of strings, got the string {tags!r}")
    found = tuple(dict.fromkeys(tags))
    if len(found) > MAX_TAGS:
        raise CacheValueError(f"an entry carries at most {MAX_TAGS} tags, got {len(found)}")
    for tag in found:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LENGTH:
            raise CacheValueError(
                f"a tag is a string of 1 to {MAX_TAG_LENGTH} characters, got {tag!r}"
            )
    return found


class TagIndex(Protocol):
    """Where a stack records which keys carry which tags."""

    async def tag_keys(self, key: str, tags: Sequence[str], ttl: float | None) -> bool:
        """Record that ``key`` carries ``tags`` for at least ``ttl`` seconds (None: no
        expiry); False when it could not be recorded (the value must not be stored)."""
        ...

    async def pop_tagged(self, tag: str, count: int) -> list[str]:
        """Take up to ``count`` keys off ``tag`` (each key once); [] when none is left."""
        ...


class TagCounts:
    """Tagged writes and invalidated keys per tag, in this process (the status page).

    Bounded: the first 64 tags are counted by name, the others together as ``other``.
    """

    __slots__ = ("invalidated", "written")

    def __init__(self) -> None:
        self.written: Counter[str] = Counter()
        self.invalidated: Counter[str] = Counter()

    def _label(self, tag: str) -> str:
        known = len(self.written.keys() | self.invalidated.keys())
        if tag in self.written or tag in self.invalidated or known < _COUNTED_TAGS:
            return tag
        return "other"

    def wrote(self, tags: Iterable[str]) -> None:
        for tag in tags:
            self.written[self._label(tag)] += 1

    def removed(self, tag: str, keys: int) -> None:
        self.invalidated[self._label(tag)] += keys

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{tag: {"written": n, "invalidated": m}}``, busiest first."""
        tags = sorted(
            self.written.keys() | self.invalidated.keys(),
            key=lambda t: -(self.written[t] + self.invalidated[t]),
        )
        return {t: {"written": self.written[t], "invalidated": self.invalidated[t]} for t in tags}


class LocalTagIndex:
    """The tag index of a stack without Redis: tag → keys, in this process.

    ``exists`` is the cache's own ``exists``: members whose key is gone (evicted, expired,
    deleted) are pruned once the index has doubled since the last pruning, so it stays
    within a small multiple of what the cache holds at O(1) amortised cost per write.
    """

    def __init__(
        self,
        exists: Callable[[str], Awaitable[bool]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._exists = exists
        self._clock = clock
        self._members: dict[str, dict[str, float]] = {}
        self._size = 0
        self._prune_at = 1024

    @property
    def size(self) -> int:
        """Memberships held."""
        return self._size

    async def tag_keys(self, key: str, tags: Sequence[str], ttl: float | None) -> bool:
        expires = self._clock() + (FOREVER if ttl is None else ttl)
        for tag in tags:
            members = self._members.setdefault(tag, {})
            if key not in members:
                self._size += 1
            members[key] = max(expires, members.get(key, 0.0))
        if self._size >= self._prune_at:
            await self._prune()
        return True

    async def pop_tagged(self, tag: str, count: int) -> list[str]:
        members = self._members.get(tag)
        if not members:
            self._members.pop(tag, None)
            return []
        taken = [key for key, _ in zip(members, range(count), strict=False)]
        for key in taken:
            del members[key]
        self._size -= len(taken)
        if not members:
            del self._members[tag]
        return taken

    async def _prune(self) -> None:
        now = self._clock()
        for tag in list(self._members):
            members = self._members[tag]
            for key, expires in list(members.items()):
                if expires <= now or not await self._exists(key):
                    members.pop(key, None)
                    self._size -= 1
            if not members:
                self._members.pop(tag, None)
        self._prune_at = max(1024, 2 * self._size)


class _Monitor(Protocol):
    def record_invalidation(
        self, kind: str, operation: str, pattern_label: str, count: int
    ) -> None: ...


class Taggable(Protocol):
    """What the tag operations use of a cache stack (``CacheInterface`` has it all)."""

    @property
    def tag_counts(self) -> TagCounts: ...
    @property
    def monitor(self) -> Any: ...

    def tags(self) -> TagIndex: ...
    async def delete_many(self, keys: Iterable[str]) -> int: ...


def tagging_loader(
    cache: Taggable, key: str, loader: Loader, tags: Sequence[str], ttl: float | None
) -> Loader:
    """``loader``, recording ``key`` under ``tags`` once it returned a value to store (a
    value whose tags cannot be recorded is returned but not stored)."""
    if not tags:
        return loader

    async def load() -> Any:
        result = await call_loader(loader)
        if result is None or is_uncacheable(result):
            return result
        if not await cache.tags().tag_keys(key, tags, ttl):
            return Uncacheable(result)
        cache.tag_counts.wrote(tags)
        return result

    return load


async def invalidate(cache: Taggable, tags: Sequence[str]) -> int:
    """Pop each tag's keys in batches and delete them through ``cache``; the number removed.
    A batch whose delete fails goes back into the index before the error is raised."""
    index, removed = cache.tags(), 0
    for tag in tags:
        while keys := await index.pop_tagged(tag, TAG_BATCH):
            try:
                count = await cache.delete_many(keys)
            except BaseException:
                for key in keys:
                    await index.tag_keys(key, (tag,), None)
                raise
            removed += count
            cache.tag_counts.removed(tag, count)
    monitor: _Monitor | None = cache.monitor
    if monitor is not None:
        monitor.record_invalidation("tag", "none", "tag", removed)
    return removed
