"""``InMemoryCache``: the in-process tier, TTL + LRU bounded by entries and by bytes.

Every operation is O(1) amortised. Recency lives in an ``OrderedDict`` (``move_to_end`` on
a hit, ``popitem(last=False)`` to evict). Expiry is lazy: a read of an expired entry drops
it, and each ``set`` pops at most a few expired tops of a heap of ``(expires_at, seq,
key)``, so entries nobody reads again are reclaimed without ever scanning the dict.

``max_bytes`` bounds the memory the entries really hold, so each entry is charged what it
keeps alive, and callers never share mutable state with the cache:

- ``str`` and ``bytes`` are immutable: held as they are, charged their ``sys.getsizeof``;
  numbers, bools and None a fixed few bytes;
- a flat dict or list of such scalars with at most 32 items is held as a private shallow
  copy and handed out as a shallow copy (much cheaper than decoding), charged an upper
  bound of what its objects can take (container, a header per item, and five times its
  encoded length: a non-ASCII string can hold four bytes per character plus a UTF-8 copy);
- anything else (nested, larger) is held as its MessagePack bytes, charged their length,
  and decoded on every hit, which hands out a fresh object. msgspec decodes tuples and
  sets as lists.

With ``copies="shared"`` (``memory.copies``) a dict, list or tuple whose encoding is at
most ``SHARED_MAX_BYTES`` is held as the caller's object and every hit hands out that same
object, as ``cachetools`` and ``aiocache`` do: reads cost no copy, and a caller that mutates
what it got (or what it stored) changes what everyone reads, and what the entry is charged
for (its objects are measured once, at ``set``). Larger values are still held encoded.

A value whose encoding exceeds ``max_bytes`` (or ``max_value_bytes``) is refused with
``CacheValueError``: a cache that silently dropped it would look like a cache that works.

The cache holds no lock: asyncio runs one task at a time and no method awaits while it
touches the entries, so each operation is atomic.
"""

from __future__ import annotations

import heapq
import itertools
import math
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal

import msgspec

from cachekit.backends.glob import check_pattern, glob_matcher, key_bytes
from cachekit.errors import CacheValueError
from cachekit.protocol import TTL, UNSET, CacheInterface, check_ttl

_SCALARS: Final = frozenset({str, bytes, int, float, bool, type(None)})
_SCALAR_SIZE: Final = 36
"""Bytes charged for a number, bool or None (a 64-bit int object is 36 bytes)."""
_ENTRY_OVERHEAD: Final = 320
"""Bytes charged per entry on top of the key's characters and the value: the ordered dict's
slot and link, the key's header, the entry tuple with its expiry and size, and the expiry
heap's item (measured with tracemalloc on CPython 3.11: about 320 bytes)."""
_FLAT_MAX_ITEMS: Final = 32
"""Largest flat container held as a shallow copy; larger ones are held encoded."""
_FLAT_ITEM: Final = 160
"""Bytes charged per item of a shallow copy: the key's and the value's object headers."""
_FLAT_CONTENT: Final = 5
"""Bytes charged per encoded byte of a shallow copy (UCS-4 text plus its UTF-8 cache)."""
SHARED_MAX_BYTES: Final = 64 * 1024
"""Largest encoding of a container held as the caller's object with ``copies="shared"``
(its objects are walked once to charge them; larger values are held encoded)."""
_RECLAIM_BATCH: Final = 8
"""Expired heap tops a ``set`` reclaims at most, bounding the work of one call."""
_MAX_TYPED_DECODERS: Final = 64
_MAX_SHARED_TAGS: Final = 4096
"""Distinct tags kept as shared int objects (entries of one shape then share one)."""

_STR_HEADER: Final = sys.getsizeof("")
_BYTES_HEADER: Final = sys.getsizeof(b"")
_GC_HEADER: Final = sys.getsizeof({}) - {}.__sizeof__()

# How an entry's value is stored, its "tag": 0 as is, charged by a formula that gives the
# same answer when the entry leaves; 1 as MessagePack bytes; a number above 1 is a private
# flat copy charged that many bytes; a negative one a value as is charged -tag bytes.
# Keeping the charge in the tag (not in a field of its own) saves an int per entry.
_PLAIN: Final = 0
_PACKED: Final = 1

# (stored value, tag, expires_at or None)
_Entry = tuple[Any, int, float | None]


class InMemoryCache(CacheInterface):
    """A bounded in-process cache: TTL expiry plus LRU eviction by entry count and bytes.

    ``max_size`` bounds the number of entries and ``max_bytes`` (when given) the memory
    they hold; the least recently used entries are evicted until both hold. A value that
    encodes to more than ``max_bytes`` or ``max_value_bytes`` is refused with
    ``CacheValueError``. ``clock`` returns monotonic seconds; tests pass a fake one
    instead of sleeping.
    """

    tier = "memory"

    def __init__(
        self,
        default_ttl: float | None = 3600,
        max_size: int = 1000,
        *,
        max_bytes: int | None = None,
        max_value_bytes: int | None = None,
        copies: Literal["private", "shared"] = "private",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if default_ttl is not None and (
            isinstance(default_ttl, bool)
            or not isinstance(default_ttl, (int, float))
            or not default_ttl > 0
        ):
            raise CacheValueError(f"default_ttl must be > 0 seconds or None, got {default_ttl!r}")
        if not _is_positive_int(max_size):
            raise CacheValueError(f"max_size must be an integer >= 1, got {max_size!r}")
        if max_bytes is not None and not _is_positive_int(max_bytes):
            raise CacheValueError(f"max_bytes must be an integer >= 1 or None, got {max_bytes!r}")
        if max_value_bytes is not None and not _is_positive_int(max_value_bytes):
            raise CacheValueError(
                f"max_value_bytes must be an integer >= 1 or None, got {max_value_bytes!r}"
            )
        if copies not in ("private", "shared"):
            raise CacheValueError(f"copies must be 'private' or 'shared', got {copies!r}")
        self.copies = copies
        """``private``: callers get copies; ``shared``: small containers are handed out as held."""
        self._shared = copies == "shared"
        self.default_ttl = default_ttl
        self.max_size = max_size
        self.max_bytes = max_bytes
        self.max_value_bytes = max_value_bytes
        self.bytes_used = 0
        """Bytes charged for what the entries hold; a plain int gauges may read from another
        thread."""
        self._byte_limit: float = math.inf if max_bytes is None else max_bytes
        # Largest encoded value accepted: the smaller of the two bounds.
        self._value_limit: float = min(
            self._byte_limit, math.inf if max_value_bytes is None else max_value_bytes
        )
        self._clock = clock
        self._data: OrderedDict[str, _Entry] = OrderedDict()
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder().decode
        self._decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}
        self._tags: dict[int, int] = {}
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0

    @property
    def entries(self) -> int:
        """Entries held, counting expired ones not yet reclaimed; cheap and thread-safe."""
        return len(self._data)

    @property
    def evictions(self) -> int:
        """Entries evicted to respect the bounds so far; a plain int, safe to read anywhere."""
        return self._evictions

    @property
    def hits(self) -> int:
        """Lookups that found a value so far (plain int; telemetry reads it)."""
        return self._hits

    @property
    def misses(self) -> int:
        """Lookups that found nothing so far (plain int; telemetry reads it)."""
        return self._misses

    # -- the protocol ----------------------------------------------------------------
    async def get(self, key: str, *, type: Any = None) -> Any:
        """The value under ``key`` (a fresh copy when mutable), or None on a miss.

        With ``type`` the value is decoded into it (msgspec Structs, dataclasses,
        TypedDicts, ...); a value that does not fit the type counts as a miss and gives
        None, like an absent one, while the entry stays for other readers.
        """
        data = self._data
        entry = data.get(key)
        if entry is None:
            self._misses += 1
            return None
        value, tag, expires_at = entry
        if expires_at is not None and expires_at <= self._clock():
            self._drop(key, entry)
            self._expirations += 1
            self._misses += 1
            return None
        data.move_to_end(key)
        if type is not None:
            return self._typed(value, tag, type)
        self._hits += 1
        if tag == _PACKED:
            return self._decode(value)
        return value.copy() if tag > _PACKED else value

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        """Store ``value`` for ``ttl`` seconds (floats allowed; None never expires).

        Raises ``TypeError`` naming the type when msgspec cannot encode the value, and
        ``CacheValueError`` for a TTL <= 0 and for a value that encodes to more than
        ``max_bytes`` or ``max_value_bytes``.
        """
        seconds = self.default_ttl if ttl is UNSET else check_ttl(ttl, self.default_ttl)
        stored, tag = self._pack(value)
        self._store(key, stored, tag, seconds)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when a live entry was removed (an expired one is no hit)."""
        entry = self._data.get(key)
        return entry is not None and self._drop_checked(key, entry)

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds a live value; neither counts as a hit nor refreshes it."""
        entry = self._data.get(key)
        if entry is None or entry[2] is None or entry[2] > self._clock():
            return entry is not None
        self._drop_checked(key, entry)
        return False

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """Values of the keys that hit; misses (and stored None values) are left out."""
        found: dict[str, Any] = {}
        for key in keys:
            value = await self.get(key, type=type)
            if value is not None:
                found[key] = value
        return found

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        """Store several values with one TTL; nothing is stored if any value is refused."""
        seconds = check_ttl(ttl, self.default_ttl)
        packed = [(key, *self._pack(value)) for key, value in items.items()]
        for key, stored, tag in packed:
            self._store(key, stored, tag, seconds)

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove several keys; the number of entries removed."""
        removed = 0
        for key in keys:
            removed += await self.delete(key)
        return removed

    async def clear(self) -> None:
        """Remove every entry; the hit, miss and eviction counters are kept."""
        self._data.clear()
        self._heap.clear()
        self.bytes_used = 0

    async def delete_matching(self, pattern: str) -> int:
        """Remove the keys the Redis glob ``pattern`` matches (as ``SCAN MATCH`` would);
        the number of live entries removed. O(n): meant for invalidation, not hot paths."""
        match = glob_matcher(check_pattern(pattern), prefixed=True)
        doomed = [(key, entry) for key, entry in self._data.items() if match(key_bytes(key))]
        return sum(self._drop_checked(key, entry) for key, entry in doomed)

    # -- extras of the original API ----------------------------------------------------
    async def get_ttl(self, key: str) -> float | None:
        """Seconds ``key`` has left; None when it never expires and when it is missing."""
        entry = self._data.get(key)
        if entry is None or entry[2] is None:
            return None
        remaining = entry[2] - self._clock()
        if remaining <= 0:
            self._drop(key, entry)
            self._expirations += 1
            return None
        return remaining

    def size(self) -> int:
        """Live entries, after reclaiming every expired one still held."""
        self._reclaim(self._clock(), len(self._heap))
        return len(self._data)

    def get_keys(self) -> list[str]:
        """Live keys, least recently used first."""
        self._reclaim(self._clock(), len(self._heap))
        return list(self._data)

    def get_stats(self) -> dict[str, Any]:
        """Counters and occupancy: hits, misses, hit_ratio, evictions, expirations, ..."""
        self._reclaim(self._clock(), len(self._heap))
        lookups = self._hits + self._misses
        return {
            "hits": self._hits,
            "misses": self._misses,
            "hit_ratio": self._hits / lookups if lookups else 0.0,
            "evictions": self._evictions,
            "expirations": self._expirations,
            "entries": len(self._data),
            "bytes": self.bytes_used,
            "max_entries": self.max_size,
            "max_bytes": self.max_bytes,
        }

    # -- internals ---------------------------------------------------------------------
    def _typed(self, value: Any, tag: int, type: Any) -> Any:
        try:
            if tag == _PACKED:
                decoder = self._decoders.get(type)
                if decoder is None:
                    decoder = msgspec.msgpack.Decoder(type)
                    if len(self._decoders) < _MAX_TYPED_DECODERS:
                        self._decoders[type] = decoder
                result = decoder.decode(value)
            else:
                # convert() may hand back its input (type=Any), so give it a copy.
                result = msgspec.convert(value.copy() if tag > _PACKED else value, type)
        except msgspec.ValidationError:
            self._misses += 1
            return None
        self._hits += 1
        return result

    def _pack(self, value: Any) -> tuple[Any, int]:
        """(stored form, tag) of ``value`` (see ``_Entry``); copies what is mutable.

        Raises ``CacheValueError`` when the value encodes to more than the value limit.
        """
        cls = type(value)
        if cls is str or cls is bytes:
            if len(value) > self._value_limit / 4:  # maybe over: measure as Redis would
                self._check_size(len(key_bytes(value)) if cls is str else len(value), cls)
            if cls is str and not value.isascii():
                # Room for the UTF-8 copy an encoder may attach to the string later.
                charge = -(sys.getsizeof(value) + 4 * len(value))
                return value, self._tags.get(charge) or self._tag(charge)
            return value, _PLAIN
        if cls in _SCALARS:
            return value, _PLAIN
        try:
            # Encoding also vets flat containers and measures them, at C speed.
            packed = self._encode(value)
        except TypeError as exc:
            raise TypeError(f"cannot cache value of type {cls.__name__!r}: {exc}") from exc
        except (OverflowError, msgspec.EncodeError) as exc:
            raise CacheValueError(f"cannot cache this {cls.__name__!r} value: {exc}") from exc
        size = len(packed)
        if size > self._value_limit:
            self._check_size(size, cls)
        # Keys need no check: msgspec accepted them and a dict never mutates its keys.
        if self._shared and size <= SHARED_MAX_BYTES and cls in _CONTAINERS:
            # Room for the UTF-8 copies an encoder may attach to its strings later.
            charge = -(_held_size(value) + size)
            if -charge <= self._byte_limit:
                return value, self._tags.get(charge) or self._tag(charge)
        if (cls is dict or cls is list) and len(value) <= _FLAT_MAX_ITEMS:
            items = value.values() if cls is dict else value
            if _SCALARS.issuperset(map(type, items)):
                copy = value.copy()
                # __sizeof__ is sys.getsizeof without the GC header, at a sixth of the cost.
                held = copy.__sizeof__() + _GC_HEADER
                bound = held + _FLAT_ITEM * len(copy) + _FLAT_CONTENT * size
                if bound <= self._byte_limit:
                    return copy, self._tags.get(bound) or self._tag(bound)
        return packed, _PACKED

    def _tag(self, tag: int) -> int:
        """``tag`` as a shared int object: an int above 256 is 32 bytes of its own."""
        if len(self._tags) < _MAX_SHARED_TAGS:
            return self._tags.setdefault(tag, tag)
        return tag

    def _check_size(self, size: int, cls: type) -> None:
        """Refuse a value that encodes to ``size`` bytes when that is over a limit."""
        if size > self._byte_limit:
            limit = f"the memory tier's max_bytes ({self.max_bytes} bytes, memory.max_bytes)"
        elif size > self._value_limit:
            limit = f"max_value_bytes ({self.max_value_bytes} bytes)"
        else:
            return
        raise CacheValueError(
            f"cannot cache this {cls.__name__!r} value: it encodes to {size} bytes, over {limit}"
        )

    @staticmethod
    def _charge(key: str, stored: Any, tag: int) -> int:
        """Bytes an entry is charged: the same when it enters and when it leaves."""
        if tag > _PACKED:
            return tag + _ENTRY_OVERHEAD + len(key)
        if tag == _PACKED or type(stored) is bytes:
            return _BYTES_HEADER + len(stored) + _ENTRY_OVERHEAD + len(key)
        if tag < 0:
            return _ENTRY_OVERHEAD + len(key) - tag
        held = _STR_HEADER + len(stored) if type(stored) is str else _SCALAR_SIZE  # ASCII
        return held + _ENTRY_OVERHEAD + len(key)

    def _store(self, key: str, stored: Any, tag: int, seconds: float | None) -> None:
        data = self._data
        # The common tag (a flat copy) inline: set is the hot path of a write-heavy cache.
        size = tag + _ENTRY_OVERHEAD + len(key) if tag > _PACKED else self._charge(key, stored, tag)
        old = data.pop(key, None)
        if old is not None:
            self.bytes_used -= self._charge(key, old[0], old[1])
        now = self._clock()
        heap = self._heap
        if heap and heap[0][0] <= now:
            self._reclaim(now, _RECLAIM_BATCH)
        if size > self._byte_limit:
            return  # the value fits the limit, not with its key and bookkeeping: not kept
        expires_at = None if seconds is None else now + seconds
        data[key] = (stored, tag, expires_at)
        self.bytes_used += size
        if expires_at is not None:
            heapq.heappush(heap, (expires_at, next(self._seq), key))
            if len(heap) > 2 * len(data) + 64:
                self._rebuild_heap()
        while len(data) > self.max_size or self.bytes_used > self._byte_limit:
            evicted_key, evicted = data.popitem(last=False)
            self.bytes_used -= self._charge(evicted_key, evicted[0], evicted[1])
            self._evictions += 1

    def _drop(self, key: str, entry: _Entry) -> None:
        del self._data[key]
        self.bytes_used -= self._charge(key, entry[0], entry[1])

    def _drop_checked(self, key: str, entry: _Entry) -> bool:
        """Drop ``entry``; whether it was still live (an expired one counts as expired)."""
        self._drop(key, entry)
        if entry[2] is not None and entry[2] <= self._clock():
            self._expirations += 1
            return False
        return True

    def _reclaim(self, now: float, limit: int) -> None:
        """Pop up to ``limit`` expired heap tops, dropping the entries still expired."""
        heap, data = self._heap, self._data
        while limit > 0 and heap and heap[0][0] <= now:
            key = heapq.heappop(heap)[2]
            entry = data.get(key)
            if entry is not None and entry[2] is not None and entry[2] <= now:
                self._drop(key, entry)
                self._expirations += 1
            limit -= 1

    def _rebuild_heap(self) -> None:
        """Drop stale heap items (overwritten, deleted, evicted keys); amortised O(1)."""
        seq = self._seq
        heap = [(e[2], next(seq), k) for k, e in self._data.items() if e[2] is not None]
        heapq.heapify(heap)
        self._heap = heap


_CONTAINERS: Final = frozenset({dict, list, tuple})


def _held_size(value: Any) -> int:
    """Bytes the objects of ``value`` take, each object once (containers walked; what
    msgspec can encode has no other containers)."""
    seen: set[int] = set()
    total = 0
    pending = [value]
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        cls = type(obj)
        if cls is dict:
            pending.extend(obj.keys())
            pending.extend(obj.values())
        elif cls is list or cls is tuple:
            pending.extend(obj)
    return total


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
