"""One behavioural suite run against every backend: memory, fakeredis, real Redis, tiered,
and the topologies: a Redis Cluster (3 primaries + 3 replicas) and a Sentinel set (master,
replica, 3 sentinels), each also with the memory tier in front (coherence by tracking)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypedDict

import fakeredis
import msgspec
import pytest

from cachekit import CacheConfigBuilder, CacheInterface, CacheValueError, resolve
from tests.redis_server import RedisServer

BACKENDS = [
    "memory",
    "fakeredis",
    "redis",
    "tiered",
    "cluster",
    "cluster-tiered",
    "sentinel",
    "sentinel-tiered",
]


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


def _config(url: str, memory: bool) -> Any:
    namespace = "t" + uuid.uuid4().hex[:12]
    return (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_overrides({"namespace": namespace, "redis.url": url, "memory.enabled": memory})
        .build()
    )


@pytest.fixture(params=BACKENDS)
async def cache(
    request: pytest.FixtureRequest, shared_redis_server: RedisServer
) -> AsyncIterator[CacheInterface]:
    """Each backend in turn, connected, in a namespace of its own."""
    kind = request.param
    if kind == "memory":
        stack = resolve(CacheConfigBuilder().with_preset("development").build())
    elif kind == "fakeredis":
        client = fakeredis.FakeAsyncRedis()
        stack = resolve(_config("redis://fake:6379/0", memory=False), redis_client=client)
    elif kind == "redis":
        stack = resolve(_config(shared_redis_server.url, memory=False))
    elif kind == "tiered":
        stack = resolve(_config(shared_redis_server.url, memory=True))
    else:  # a topology, started once for the module on first use
        topology = request.getfixturevalue(
            "redis_cluster" if kind.startswith("cluster") else "sentinel_set"
        )
        stack = resolve(_config(topology.url, memory=kind.endswith("-tiered")))
    await stack.connect()
    yield stack
    await stack.clear()
    await stack.aclose()


async def test_contract_set_get_round_trip(cache: CacheInterface) -> None:
    """A stored dict reads back equal."""
    await cache.set("k", {"a": [1, 2, {"b": "c"}]})
    assert await cache.get("k") == {"a": [1, 2, {"b": "c"}]}


async def test_contract_missing_key_is_none(cache: CacheInterface) -> None:
    """A key never written misses."""
    assert await cache.get("nope") is None
    assert await cache.exists("nope") is False


@pytest.mark.parametrize("value", ["text", b"bytes", 42, 3.5, True, [1, "a"], {"n": None}])
async def test_contract_scalar_types_round_trip(cache: CacheInterface, value: Any) -> None:
    """Every supported plain type reads back equal."""
    await cache.set("v", value)
    assert await cache.get("v") == value


async def test_contract_delete_and_exists(cache: CacheInterface) -> None:
    """delete removes the key and reports whether it existed."""
    await cache.set("k", 1)
    assert await cache.exists("k") is True
    assert await cache.delete("k") is True
    assert await cache.delete("k") is False
    assert await cache.get("k") is None


async def test_contract_batch_operations(cache: CacheInterface) -> None:
    """set_many / get_many / delete_many act on several keys and skip misses."""
    await cache.set_many({"a": 1, "b": 2, "c": 3})
    assert await cache.get_many(["a", "b", "zz"]) == {"a": 1, "b": 2}
    assert await cache.delete_many(["a", "b", "zz"]) == 2
    assert await cache.get_many(["a", "b", "c"]) == {"c": 3}


@pytest.mark.parametrize("ttl", [0, -1, -0.5])
async def test_contract_non_positive_ttl_is_rejected(cache: CacheInterface, ttl: float) -> None:
    """ttl=0 or negative raises ValueError and stores nothing."""
    with pytest.raises(CacheValueError):
        await cache.set("k", 1, ttl=ttl)
    with pytest.raises(ValueError):
        await cache.set_many({"k": 1}, ttl=ttl)
    assert await cache.get("k") is None


async def test_contract_short_ttl_expires(cache: CacheInterface) -> None:
    """An entry with a short TTL is gone after it."""
    await cache.set("k", "v", ttl=0.15)
    assert await cache.get("k") == "v"
    await asyncio.sleep(0.3)
    assert await cache.get("k") is None
    assert await cache.exists("k") is False


async def test_contract_ttl_none_means_no_expiry(cache: CacheInterface) -> None:
    """ttl=None stores without expiry."""
    await cache.set("k", "forever", ttl=None)
    await asyncio.sleep(0.05)
    assert await cache.get("k") == "forever"


async def test_contract_typed_reads(cache: CacheInterface) -> None:
    """get(type=...) decodes into Structs, dataclasses and TypedDicts."""
    await cache.set("p", Point(1, 2))
    await cache.set("i", Item("bolt", 3))
    await cache.set("m", {"title": "Alien", "year": 1979})
    assert await cache.get("p", type=Point) == Point(1, 2)
    assert await cache.get("i", type=Item) == Item("bolt", 3)
    assert await cache.get("m", type=Movie) == {"title": "Alien", "year": 1979}
    assert await cache.get("p") == {"x": 1, "y": 2}


async def test_contract_unsupported_type_fails_at_set(cache: CacheInterface) -> None:
    """A value msgspec cannot encode raises TypeError naming the type."""

    class Opaque:
        pass

    with pytest.raises(TypeError, match="Opaque"):
        await cache.set("k", Opaque())


async def test_contract_returned_value_mutation_does_not_leak(cache: CacheInterface) -> None:
    """Mutating a returned value leaves the cached value unchanged."""
    original = {"items": [1, 2]}
    await cache.set("k", original)
    original["items"].append(99)
    got = await cache.get("k")
    got["items"].append(3)
    assert await cache.get("k") == {"items": [1, 2]}


async def test_contract_get_or_set_single_flight(cache: CacheInterface) -> None:
    """Concurrent get_or_set callers of a missing key run the loader once."""
    calls = 0
    gate = asyncio.Event()

    async def loader() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await gate.wait()
        return {"v": 1}

    tasks = [asyncio.create_task(cache.get_or_set("sf", loader)) for _ in range(10)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert results == [{"v": 1}] * 10
    assert await cache.get("sf") == {"v": 1}


async def test_contract_get_or_set_error_reaches_waiters_and_is_not_cached(
    cache: CacheInterface,
) -> None:
    """A loader error reaches every waiter and nothing is cached."""
    gate = asyncio.Event()

    async def loader() -> int:
        await gate.wait()
        raise RuntimeError("backend down")

    tasks = [asyncio.create_task(cache.get_or_set("err", loader)) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await cache.get("err") is None


async def test_contract_clear_removes_namespace_entries(cache: CacheInterface) -> None:
    """clear() empties this cache."""
    await cache.set_many({"a": 1, "b": 2})
    await cache.clear()
    assert await cache.get_many(["a", "b"]) == {}


async def test_contract_build_key_offered(cache: CacheInterface) -> None:
    """Every resolved cache offers build_key with collision-free keys."""
    keys = {cache.build_key(t, "summarize", None) for t in ("a|b", "a:b", "a_b")}
    assert len(keys) == 3


async def test_contract_aclose_twice_is_safe(cache: CacheInterface) -> None:
    """aclose() may be called twice."""
    await cache.aclose()
    await cache.aclose()
