"""``CacheInterface``: a subclass implementing only the original's abstract methods can be
instantiated, and the rest of the protocol is provided."""

from __future__ import annotations

from typing import Any

import pytest

from cachekit import CacheInterface, CacheKeyGenerator, InMemoryCache, resolve
from cachekit.protocol import CacheInterface as CoreCacheInterface


class DictCache(CacheInterface):
    """A cache written against the original's interface (``ttl=None``: the default)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self.ttls: list[Any] = []

    async def get(self, key: str) -> Any:
        return self.data.get(key)

    async def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        self.ttls.append(ttl)
        self.data[key] = value

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def exists(self, key: str) -> bool:
        return key in self.data


async def test_interface_four_methods_are_enough() -> None:
    """get/set/delete/exists make a working cache; the batch forms and get_or_set follow."""
    cache = DictCache()
    await cache.set("a", 1, ttl=60)
    assert await cache.get("a") == 1 and await cache.exists("a")
    assert await cache.get_or_set("b", lambda: 2) == 2
    assert await cache.get_or_set("b", lambda: 3) == 2
    await cache.set_many({"c": 3, "d": 4})
    assert await cache.get_many(["a", "b", "c", "x"]) == {"a": 1, "b": 2, "c": 3}
    assert await cache.delete_many(["a", "x"]) == 1
    assert cache.ttls == [60, None, None, None]  # UNSET reaches the subclass as None
    assert (await cache.get_result("b")).status == "hit"
    assert (await cache.get_result("zz")).status == "miss"
    assert cache.build_key("text", "summarize") == CacheKeyGenerator().generate_cache_key(
        "text", "summarize"
    )
    async with cache:
        assert await cache.health() is not None
    with pytest.raises(NotImplementedError):
        await cache.clear()


def test_interface_is_still_abstract_in_the_original_methods() -> None:
    """A subclass missing one of the four cannot be instantiated."""

    class NoExists(CacheInterface):
        async def get(self, key: str) -> Any:
            return None

        async def set(self, key: str, value: Any, ttl: int | None = None) -> None:
            return None

        async def delete(self, key: str) -> None:
            return None

    with pytest.raises(TypeError, match="exists"):
        NoExists()  # type: ignore[abstract]


def test_interface_core_caches_count_as_one() -> None:
    """Every core cache, and every resolved stack, is a ``CacheInterface``."""
    assert isinstance(InMemoryCache(), CacheInterface)
    assert isinstance(resolve(), CacheInterface)
    assert issubclass(DictCache, CoreCacheInterface)
