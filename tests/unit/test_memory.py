"""Tests of ``InMemoryCache``: TTL, LRU by entries and bytes, copies, typed reads, stats."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, TypedDict

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cachekit.backends.memory import InMemoryCache
from cachekit.errors import CacheValueError
from cachekit.protocol import UNSET
from tests.conftest import FakeClock


class Point(msgspec.Struct):
    x: int
    y: int


@dataclasses.dataclass
class Item:
    name: str
    qty: int


class Movie(TypedDict):
    title: str
    year: int


class Opaque:
    pass


def make(clock: FakeClock, **kwargs: Any) -> InMemoryCache:
    return InMemoryCache(clock=clock, **kwargs)


# -- construction ------------------------------------------------------------------------
def test_memory_positional_arguments_keep_original_order() -> None:
    """``InMemoryCache(default_ttl, max_size)`` works as in the original."""
    cache = InMemoryCache(60, 5)
    assert cache.default_ttl == 60
    assert cache.get_stats()["max_entries"] == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_size": 0},
        {"max_size": True},
        {"max_bytes": 0},
        {"default_ttl": 0},
        {"default_ttl": -1},
        {"default_ttl": "60"},
    ],
)
def test_memory_constructor_rejects_invalid_bounds(kwargs: dict[str, Any]) -> None:
    """Non-positive bounds or TTLs raise CacheValueError naming the argument."""
    with pytest.raises(CacheValueError, match=next(iter(kwargs))):
        InMemoryCache(**kwargs)


# -- round trips -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "text",
        "",
        b"\x00bytes",
        0,
        2**70,
        3.5,
        True,
        [1, "a", None],
        {"a": 1, "b": "x"},
        {"a": [1, 2, {"b": "c"}]},
        [[1], {"k": 2.5}],
        {1: "int key"},
    ],
)
async def test_memory_round_trip_reads_back_equal(clock: FakeClock, value: Any) -> None:
    """Every supported value reads back equal to what was stored."""
    cache = make(clock)
    await cache.set("k", value)
    assert await cache.get("k") == value


async def test_memory_tuple_reads_back_as_list(clock: FakeClock) -> None:
    """A tuple inside a container comes back as a list, as msgspec decodes it."""
    cache = make(clock)
    await cache.set("k", {"t": (1, 2)})
    assert await cache.get("k") == {"t": [1, 2]}


async def test_memory_none_value_is_stored_but_reads_as_miss(clock: FakeClock) -> None:
    """A stored None exists, yet get cannot tell it from a miss."""
    cache = make(clock)
    await cache.set("k", None)
    assert await cache.exists("k") is True
    assert await cache.get("k") is None


# -- TTL ---------------------------------------------------------------------------------
async def test_memory_ttl_expires_at_the_boundary(clock: FakeClock) -> None:
    """An entry lives until just before its TTL and is gone exactly at it."""
    cache = make(clock)
    await cache.set("k", "v", ttl=10)
    clock.advance(9.999)
    assert await cache.get("k") == "v"
    clock.advance(0.001)
    assert await cache.get("k") is None
    assert cache.entries == 0


async def test_memory_ttl_accepts_floats(clock: FakeClock) -> None:
    """A fractional TTL (as a tiered cache passes) is honoured."""
    cache = make(clock)
    await cache.set("k", "v", ttl=0.25)
    assert await cache.get_ttl("k") == pytest.approx(0.25)
    clock.advance(0.25)
    assert await cache.exists("k") is False


async def test_memory_ttl_none_never_expires(clock: FakeClock) -> None:
    """ttl=None stores without expiry even with a default TTL set."""
    cache = make(clock, default_ttl=5)
    await cache.set("k", "forever", ttl=None)
    clock.advance(1e9)
    assert await cache.get("k") == "forever"
    assert await cache.get_ttl("k") is None


@pytest.mark.parametrize("ttl", [0, -1, -0.5, True, "10"])
async def test_memory_ttl_invalid_is_rejected(clock: FakeClock, ttl: Any) -> None:
    """ttl=0, negative or non-numeric raises CacheValueError (a ValueError) and stores nothing."""
    cache = make(clock)
    with pytest.raises(CacheValueError):
        await cache.set("k", 1, ttl=ttl)
    with pytest.raises(ValueError):
        await cache.set_many({"k": 1}, ttl=ttl)
    assert await cache.exists("k") is False


async def test_memory_ttl_left_out_uses_default(clock: FakeClock) -> None:
    """A set without ttl expires after default_ttl seconds."""
    cache = make(clock, default_ttl=5)
    await cache.set("k", "v")
    await cache.set_many({"m": "v"}, ttl=UNSET)
    assert await cache.get_ttl("k") == 5
    clock.advance(4.5)
    assert await cache.get_many(["k", "m"]) == {"k": "v", "m": "v"}
    clock.advance(0.5)
    assert await cache.get_many(["k", "m"]) == {}


async def test_memory_ttl_default_none_means_no_expiry(clock: FakeClock) -> None:
    """With default_ttl=None a set without ttl never expires."""
    cache = make(clock, default_ttl=None)
    await cache.set("k", "v")
    clock.advance(1e9)
    assert await cache.get("k") == "v"


async def test_memory_get_ttl_reports_remaining_seconds(clock: FakeClock) -> None:
    """get_ttl gives the seconds left, and None for missing or expired keys."""
    cache = make(clock)
    await cache.set("k", "v", ttl=10)
    clock.advance(4)
    assert await cache.get_ttl("k") == pytest.approx(6)
    assert await cache.get_ttl("missing") is None
    clock.advance(6)
    assert await cache.get_ttl("k") is None


async def test_memory_exists_respects_ttl(clock: FakeClock) -> None:
    """exists is True while the entry lives and False once it expires."""
    cache = make(clock)
    await cache.set("k", "v", ttl=1)
    assert await cache.exists("k") is True
    clock.advance(1)
    assert await cache.exists("k") is False


# -- bounds ------------------------------------------------------------------------------
async def test_memory_lru_evicts_least_recently_used(clock: FakeClock) -> None:
    """Past max_size the least recently used entry goes; a get refreshes recency."""
    cache = make(clock, max_size=3)
    await cache.set_many({"a": 1, "b": 2, "c": 3})
    assert await cache.get("a") == 1
    await cache.set("d", 4)
    assert cache.get_keys() == ["c", "a", "d"]
    assert await cache.get("b") is None
    assert cache.get_stats()["evictions"] == 1


async def test_memory_bytes_bound_evicts_oldest(clock: FakeClock) -> None:
    """Past max_bytes the oldest entries go until the byte total fits again."""
    probe = make(clock)
    await probe.set("k0", "x" * 400)
    one_entry = probe.bytes_used
    cache = make(clock, max_bytes=2 * one_entry)
    for i in range(3):
        await cache.set(f"k{i}", "x" * 400)
    assert cache.get_keys() == ["k1", "k2"]
    assert cache.bytes_used == 2 * one_entry
    await cache.set("k1", "x" * 2 * 400)
    assert cache.get_keys() == ["k1"]
    assert cache.bytes_used <= 2 * one_entry


async def test_memory_oversize_value_is_refused(clock: FakeClock) -> None:
    """A value that encodes to more than max_bytes raises CacheValueError naming the limit,
    and the cache is left as it was."""
    cache = make(clock, max_bytes=5000)
    await cache.set("k", "small")
    await cache.set("other", "kept")
    for big in ({"blob": "x" * 6000}, "x" * 6000, b"x" * 6000, list(range(3000))):
        with pytest.raises(CacheValueError, match=r"max_bytes \(5000 bytes"):
            await cache.set("k", big)
    assert await cache.get("k") == "small"
    assert cache.get_keys() == ["other", "k"]


async def test_memory_bytes_used_returns_to_zero(clock: FakeClock) -> None:
    """Byte accounting balances across overwrite, delete, expiry and clear."""
    cache = make(clock)
    await cache.set("a", {"x": [1, 2, 3]}, ttl=1)
    await cache.set("a", "again", ttl=1)
    await cache.set("b", [1, 2])
    await cache.delete("b")
    clock.advance(1)
    assert cache.size() == 0
    assert cache.bytes_used == 0
    await cache.set("c", "v")
    await cache.clear()
    assert (cache.entries, cache.bytes_used) == (0, 0)


async def test_memory_expired_entries_are_reclaimed_by_sets(clock: FakeClock) -> None:
    """Sets reclaim expired entries nobody reads again, so the dict stays small."""
    cache = make(clock, max_size=1_000_000)
    for i in range(10_000):
        await cache.set(f"k{i}", i, ttl=1)
        clock.advance(0.5)
        assert cache.entries <= 3
    assert cache.get_stats()["evictions"] == 0


async def test_memory_set_reclaims_a_bounded_batch(clock: FakeClock) -> None:
    """One set reclaims only a few expired entries, so its cost stays bounded."""
    cache = make(clock)
    for i in range(100):
        await cache.set(f"k{i}", i, ttl=1)
    clock.advance(1)
    await cache.set("new", 0)
    assert 90 < cache.entries < 100
    assert cache.size() == 1


async def test_memory_heap_stays_bounded_under_overwrites(clock: FakeClock) -> None:
    """Overwriting keys with long TTLs does not grow the expiry heap without bound."""
    cache = make(clock)
    for i in range(10_000):
        await cache.set(f"k{i % 10}", i, ttl=3600)
    assert cache.entries == 10
    assert len(cache._heap) <= 2 * 10 + 64


async def test_memory_size_and_keys_skip_expired(clock: FakeClock) -> None:
    """size and get_keys count live entries only, least recently used first."""
    cache = make(clock)
    await cache.set("short", 1, ttl=1)
    await cache.set("long", 2, ttl=100)
    await cache.set("forever", 3, ttl=None)
    clock.advance(1)
    assert cache.size() == 2
    assert cache.get_keys() == ["long", "forever"]


# -- isolation from callers --------------------------------------------------------------
MUTABLE_VALUES = [{"a": 1, "b": "x"}, {"items": [1, 2]}, [1, 2, 3], [[1], [2]]]


def mutate(value: Any) -> None:
    """Change a container and the first list nested in it, in place."""
    inner = list(value.values()) if isinstance(value, dict) else value
    if isinstance(value, dict):
        value["new"] = 1
    else:
        value.append(99)
    for item in inner:
        if isinstance(item, list):
            item.append(99)
            break


@pytest.mark.parametrize("value", MUTABLE_VALUES)
async def test_memory_mutating_returned_value_does_not_leak(clock: FakeClock, value: Any) -> None:
    """Changing a value handed out by get leaves the cached value unchanged."""
    cache = make(clock)
    expected = msgspec.json.decode(msgspec.json.encode(value))
    await cache.set("k", value)
    mutate(await cache.get("k"))
    assert await cache.get("k") == expected


@pytest.mark.parametrize("value", MUTABLE_VALUES)
async def test_memory_mutating_original_does_not_leak(clock: FakeClock, value: Any) -> None:
    """Changing the object passed to set, after the set, leaves the cached value unchanged."""
    cache = make(clock)
    value = msgspec.json.decode(msgspec.json.encode(value))
    expected = msgspec.json.decode(msgspec.json.encode(value))
    await cache.set("k", value)
    mutate(value)
    assert await cache.get("k") == expected


# -- typed reads and encoding ------------------------------------------------------------
async def test_memory_typed_get_decodes_struct_dataclass_and_typeddict(clock: FakeClock) -> None:
    """get(type=...) decodes into a msgspec Struct, a dataclass and a TypedDict."""
    cache = make(clock)
    await cache.set("p", Point(1, 2))
    await cache.set("i", Item("bolt", 3))
    await cache.set("m", {"title": "Alien", "year": 1979})
    await cache.set("nested", {"title": "Alien", "year": 1979, "cast": ["Sigourney"]})
    assert await cache.get("p", type=Point) == Point(1, 2)
    assert await cache.get("i", type=Item) == Item("bolt", 3)
    assert await cache.get("m", type=Movie) == {"title": "Alien", "year": 1979}
    assert await cache.get("m", type=Item) is None
    assert await cache.get("p") == {"x": 1, "y": 2}
    assert await cache.get_many(["p", "i"], type=Point) == {"p": Point(1, 2)}


async def test_memory_typed_get_of_scalar_converts(clock: FakeClock) -> None:
    """A stored scalar is converted to the requested type."""
    cache = make(clock)
    await cache.set("n", 5)
    await cache.set("s", "five")
    assert await cache.get("n", type=int) == 5
    assert await cache.get("n", type=float) == 5.0
    assert await cache.get("s", type=str) == "five"


async def test_memory_typed_get_mismatch_is_a_miss(clock: FakeClock) -> None:
    """A value that does not fit the requested type reads as None and counts as a miss."""
    cache = make(clock)
    await cache.set("s", "five")
    await cache.set("d", {"x": "not an int", "y": 2})
    assert await cache.get("s", type=int) is None
    assert await cache.get("d", type=Point) is None
    assert await cache.get("d") == {"x": "not an int", "y": 2}
    stats = cache.get_stats()
    assert (stats["hits"], stats["misses"]) == (1, 2)


async def test_memory_typed_get_any_returns_a_copy(clock: FakeClock) -> None:
    """get(type=Any) still hands out a copy of a flat container."""
    cache = make(clock)
    await cache.set("k", [1, 2])
    got = await cache.get("k", type=Any)
    got.append(3)
    assert await cache.get("k") == [1, 2]


async def test_memory_unsupported_type_raises_type_error(clock: FakeClock) -> None:
    """A value msgspec cannot encode raises TypeError naming the type, storing nothing."""
    cache = make(clock)
    with pytest.raises(TypeError, match="'Opaque'"):
        await cache.set("k", Opaque())
    with pytest.raises(TypeError, match="'dict'"):
        await cache.set("k", {"inner": Opaque()})
    assert await cache.exists("k") is False


async def test_memory_out_of_range_int_in_container_raises_value_error(clock: FakeClock) -> None:
    """An integer MessagePack cannot hold, inside a container, raises CacheValueError."""
    cache = make(clock)
    with pytest.raises(CacheValueError, match="list"):
        await cache.set("k", [2**70])


async def test_memory_set_many_is_all_or_nothing(clock: FakeClock) -> None:
    """set_many with one unencodable value stores none of the values."""
    cache = make(clock)
    with pytest.raises(TypeError):
        await cache.set_many({"a": 1, "b": Opaque(), "c": 3})
    assert cache.entries == 0


# -- batch operations and housekeeping ---------------------------------------------------
async def test_memory_batch_operations_skip_misses(clock: FakeClock) -> None:
    """set_many, get_many and delete_many act on several keys and skip misses."""
    cache = make(clock)
    await cache.set_many({"a": 1, "b": [2], "c": "3"})
    assert await cache.get_many(["a", "b", "zz"]) == {"a": 1, "b": [2]}
    assert await cache.delete_many(["a", "b", "zz"]) == 2
    assert await cache.get_many(["a", "b", "c"]) == {"c": "3"}


async def test_memory_delete_reports_removal(clock: FakeClock) -> None:
    """delete returns True only when it removed an entry."""
    cache = make(clock)
    await cache.set("k", 1)
    assert await cache.delete("k") is True
    assert await cache.delete("k") is False


async def test_memory_clear_removes_everything(clock: FakeClock) -> None:
    """clear empties the cache and its expiry bookkeeping."""
    cache = make(clock)
    await cache.set_many({"a": 1, "b": 2}, ttl=10)
    await cache.clear()
    assert await cache.get_many(["a", "b"]) == {}
    assert cache.size() == 0


async def test_memory_stats_count_operations(clock: FakeClock) -> None:
    """get_stats counts hits, misses, evictions and expirations and reports occupancy."""
    cache = make(clock, max_size=2, max_bytes=10_000)
    await cache.set("a", 1, ttl=1)
    await cache.set("b", "two")
    await cache.get("a")
    await cache.get("b")
    await cache.get("b")
    await cache.get("zz")
    await cache.set("c", 3)
    clock.advance(5)
    await cache.get("a")
    stats = cache.get_stats()
    assert stats == {
        "hits": 3,
        "misses": 2,
        "hit_ratio": 0.6,
        "evictions": 1,
        "expirations": 0,
        "entries": 2,
        "bytes": cache.bytes_used,
        "max_entries": 2,
        "max_bytes": 10_000,
    }
    assert isinstance(cache.entries, int)
    assert isinstance(cache.bytes_used, int)


async def test_memory_stats_count_expirations(clock: FakeClock) -> None:
    """An expired entry found by a read counts as an expiration and a miss."""
    cache = make(clock)
    await cache.set("a", 1, ttl=1)
    clock.advance(1)
    assert await cache.get("a") is None
    stats = cache.get_stats()
    assert (stats["expirations"], stats["misses"], stats["hit_ratio"]) == (1, 1, 0.0)


# -- get_or_set and lifecycle ------------------------------------------------------------
async def test_memory_get_or_set_single_flight(clock: FakeClock) -> None:
    """Concurrent get_or_set callers of a missing key await one loader run."""
    cache = make(clock)
    calls = 0
    gate = asyncio.Event()

    async def loader() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await gate.wait()
        return {"v": 1}

    tasks = [asyncio.create_task(cache.get_or_set("sf", loader)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert results == [{"v": 1}] * 10
    assert await cache.get("sf") == {"v": 1}


async def test_memory_get_or_set_error_reaches_waiters_uncached(clock: FakeClock) -> None:
    """A loader error reaches every waiter, nothing is cached, and the next call retries."""
    cache = make(clock)
    gate = asyncio.Event()
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise RuntimeError("backend down")

    tasks = [asyncio.create_task(cache.get_or_set("err", failing)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await cache.exists("err") is False
    assert await cache.get_or_set("err", lambda: 7) == 7


async def test_memory_aclose_twice_is_safe(clock: FakeClock) -> None:
    """aclose may be called twice."""
    cache = make(clock)
    await cache.aclose()
    await cache.aclose()


async def test_memory_async_with_yields_usable_cache(clock: FakeClock) -> None:
    """``async with`` connects, yields the cache itself and closes it."""
    async with make(clock) as cache:
        await cache.set("k", "v")
        assert await cache.get("k") == "v"


# -- model-based -------------------------------------------------------------------------
KEYS = st.sampled_from(["a", "b", "c", "d"])
VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63),
    st.text(max_size=5),
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.text(max_size=3), st.lists(st.booleans(), max_size=2), max_size=3),
)
TTLS = st.sampled_from([UNSET, None, 0.5, 1, 2.5, 10])


class MemoryCacheMachine(RuleBasedStateMachine):
    """The cache agrees with a dict of (value, expires_at) under random operations."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.cache = InMemoryCache(default_ttl=3, max_size=100, clock=self.clock)
        self.model: dict[str, tuple[Any, float | None]] = {}

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def live(self, key: str) -> bool:
        if key not in self.model:
            return False
        expires_at = self.model[key][1]
        if expires_at is not None and expires_at <= self.clock.now:
            del self.model[key]
            return False
        return True

    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def set(self, key: str, value: Any, ttl: Any) -> None:
        self.run(self.cache.set(key, value, ttl))
        seconds = 3 if ttl is UNSET else ttl
        self.model[key] = (value, None if seconds is None else self.clock.now + seconds)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        expected = self.model[key][0] if self.live(key) else None
        assert self.run(self.cache.get(key)) == expected

    @rule(key=KEYS)
    def exists(self, key: str) -> None:
        assert self.run(self.cache.exists(key)) is self.live(key)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        assert self.run(self.cache.delete(key)) is self.live(key)
        self.model.pop(key, None)

    @rule(key=KEYS)
    def get_ttl(self, key: str) -> None:
        expires_at = self.model[key][1] if self.live(key) else None
        expected = None if expires_at is None else expires_at - self.clock.now
        assert self.run(self.cache.get_ttl(key)) == expected

    @rule(seconds=st.sampled_from([0.5, 1, 3]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def sizes_agree(self) -> None:
        live = [key for key in list(self.model) if self.live(key)]
        assert self.cache.size() == len(live)
        assert sorted(self.cache.get_keys()) == sorted(live)

    def teardown(self) -> None:
        self.loop.close()


MemoryCacheMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
test_memory_matches_model = MemoryCacheMachine.TestCase


async def test_memory_refuses_values_over_max_value_bytes(clock: FakeClock) -> None:
    """``max_value_bytes`` caps one value's encoding below ``max_bytes``, with a clear error."""
    cache = make(clock, max_bytes=10**6, max_value_bytes=1000)
    await cache.set("ok", {"blob": "x" * 900})
    with pytest.raises(CacheValueError, match=r"max_value_bytes \(1000 bytes\)"):
        await cache.set("big", {"blob": "x" * 1100})
    with pytest.raises(CacheValueError, match="max_value_bytes"):
        await cache.set_many({"fine": 1, "big": "é" * 600})  # 1,200 bytes as UTF-8
    assert cache.get_keys() == ["ok"]
    with pytest.raises(CacheValueError, match="max_value_bytes"):
        InMemoryCache(max_value_bytes=0)


@pytest.mark.parametrize(
    "make_value",
    [
        lambda i: 1000 + i,
        lambda i: f"{i:>10}" + "x" * 90,
        lambda i: {"user_id": i, "name": f"user-{i}", "active": True},
        lambda i: {f"k{j}": "a" * 30 + "\N{GRINNING FACE}" + str(i) for j in range(30)},
        lambda i: list(range(i, i + 32)),
        lambda i: list(range(i, i + 500)),
        lambda i: {"nested": [i, {"deep": [str(i)] * 20}]},
        lambda i: {str(j): j * 1.5 for j in range(i % 7, 400)},
    ],
    ids=["int", "str", "small-dict", "emoji-dict", "flat-list", "long-list", "nested", "wide"],
)
async def test_memory_charge_bounds_what_is_held(make_value: Any) -> None:
    """For every value shape, the bytes charged are at least what the entries keep alive
    (measured by tracemalloc) divided by 1.5: ``max_bytes`` bounds real memory."""
    import gc
    import tracemalloc

    cache = InMemoryCache(max_size=10**6)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2000):
            await cache.set(f"session:{i}", make_value(i))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= 1.5 * cache.bytes_used, (held, cache.bytes_used)


async def test_memory_every_reader_gets_a_private_copy(clock: FakeClock) -> None:
    """Mutating a value read from the cache (or the one stored) changes no other reader's."""
    cache = make(clock)
    flat, nested = {"a": 1}, {"a": [1, {"b": 2}]}
    await cache.set("flat", flat)
    await cache.set("nested", nested)
    flat["a"] = 99
    nested["a"][1]["b"] = 99  # type: ignore[index]
    first = await cache.get("nested")
    first["a"][1]["b"] = 42
    assert await cache.get("flat") == {"a": 1}
    assert await cache.get("nested") == {"a": [1, {"b": 2}]}
