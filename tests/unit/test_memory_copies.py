"""``memory.copies``: private copies by default, the held object itself with ``shared``."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from cachekit import CacheConfigBuilder, CacheConfigError, InMemoryCache, resolve
from cachekit.backends.memory import SHARED_MAX_BYTES
from cachekit.backends.memory import InMemoryCache as CoreMemory
from cachekit.errors import CacheValueError
from cachekit.layers.wrapper import memory_tier


def nested() -> dict[str, Any]:
    return {"id": 7, "tags": ["a", "b"], "address": {"city": "London"}, "orders": [{"q": 1}]}


async def test_private_copies_by_default_protect_the_entry() -> None:
    cache = CoreMemory()
    value = nested()
    await cache.set("k", value)
    value["tags"].append("changed after set")
    first = await cache.get("k")
    assert first == nested()
    first["address"]["city"] = "changed after get"
    assert await cache.get("k") == nested()
    assert await cache.get("k") is not await cache.get("k")


async def test_shared_copies_hand_out_the_held_object() -> None:
    cache = CoreMemory(copies="shared")
    value = nested()
    await cache.set("k", value)
    got = await cache.get("k")
    assert got is value
    assert await cache.get("k") is got
    flat = {"a": 1}
    await cache.set("flat", flat)
    assert await cache.get("flat") is flat


async def test_shared_entries_are_charged_their_objects_and_released_whole() -> None:
    cache = CoreMemory(copies="shared")
    value = {"rows": [{"n": i, "s": "x" * 50} for i in range(100)]}
    await cache.set("k", value)
    held = sum(sys.getsizeof(row) + sys.getsizeof(row["s"]) for row in value["rows"])
    assert cache.bytes_used > held  # the rows, their strings, the list, the dict, the key
    await cache.delete("k")
    assert cache.bytes_used == 0


async def test_shared_entries_respect_max_bytes() -> None:
    cache = CoreMemory(copies="shared", max_bytes=64 * 1024)
    for i in range(100):
        await cache.set(f"k{i}", {"rows": ["y" * 100 for _ in range(20)], "i": i})
    assert cache.bytes_used <= 64 * 1024
    assert cache.evictions > 0


async def test_shared_large_values_are_still_held_encoded() -> None:
    cache = CoreMemory(copies="shared")
    value = {"blob": ["z" * 1000 for _ in range(2 * SHARED_MAX_BYTES // 1000)]}
    await cache.set("big", value)
    got = await cache.get("big")
    assert got == value and got is not value


def test_copies_is_validated() -> None:
    with pytest.raises(CacheValueError, match="copies"):
        CoreMemory(copies="deep")  # type: ignore[arg-type]
    with pytest.raises(CacheConfigError, match=r"memory\.copies"):
        CacheConfigBuilder().with_preset("simple").with_overrides(
            {"memory.copies": "deep"}
        ).build()


async def test_the_setting_reaches_the_memory_tier() -> None:
    config = (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_overrides(
            {"memory.copies": "shared", "monitoring.enabled": False, "redis.url": ""}
        )
        .build()
    )
    cache = resolve(config)
    memory = memory_tier(cache)
    assert isinstance(memory, InMemoryCache | CoreMemory)
    assert memory.copies == "shared"
    value = nested()
    await cache.set("k", value)
    assert await cache.get("k") is value
    plain = CacheConfigBuilder().with_preset("simple").with_overrides({"redis.url": ""}).build()
    default = memory_tier(resolve(plain))
    assert default is not None and getattr(default, "copies", None) == "private"
