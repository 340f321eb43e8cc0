"""``CacheInterface`` as the original declared it: a subclass implements four methods.

The original's abstract methods were ``get(key)``, ``set(key, value, ttl=None)``,
``delete(key)`` and ``exists(key)``. This subclass of the core protocol provides the rest
from those four (the batch forms, ``get_or_set``, ``get_result``), so a cache written
against the original can be instantiated and used wherever a cachekit cache goes. Its
``ttl`` is the original's: the provided methods pass ``None`` for "the default TTL"
(cachekit's own ``UNSET``) to the subclass's ``set``. Every core cache counts as one.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

from cachekit.compat._alias import counts_core
from cachekit.health import GetResult
from cachekit.protocol import TTL, UNSET, Loader
from cachekit.protocol import CacheInterface as CoreCacheInterface

__all__ = ["CacheInterface"]


def _legacy_ttl(ttl: TTL) -> Any:
    """The ``ttl`` the original's ``set`` expects: None for "the default"."""
    return None if ttl is UNSET else ttl


class CacheInterface(CoreCacheInterface):
    """The cache protocol with the original's four abstract methods.

    Subclasses implement ``get``, ``set``, ``delete`` and ``exists`` (they may take a
    ``type=`` keyword on ``get``; the provided methods pass it only when given).
    ``get_many``, ``set_many``, ``delete_many`` and ``get_or_set`` are built on them;
    ``clear`` raises ``NotImplementedError`` unless overridden (the original had none).
    """

    @classmethod
    def __subclasshook__(cls, subclass: type) -> Any:
        return counts_core(cls, CacheInterface, CoreCacheInterface, subclass)

    @abstractmethod
    async def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
        """The value stored under ``key``, or None."""

    @abstractmethod
    async def set(self, key: str, value: Any, ttl: Any = None) -> Any:
        """Store ``value`` under ``key`` (``ttl=None``: the cache's default)."""

    @abstractmethod
    async def delete(self, key: str) -> Any:
        """Remove ``key``."""

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds a value."""

    async def _get(self, key: str, type: Any) -> Any:
        return await (self.get(key) if type is None else self.get(key, type=type))

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """Values of the keys that hit, one ``get`` each."""
        found: dict[str, Any] = {}
        for key in keys:
            value = await self._get(key, type)
            if value is not None:
                found[key] = value
        return found

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        """Store several values, one ``set`` each."""
        for key, value in items.items():
            await self.set(key, value, _legacy_ttl(ttl))

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove several keys, one ``delete`` each; the number that existed."""
        removed = 0
        for key in keys:
            existed = await self.exists(key)
            await self.delete(key)
            removed += bool(existed)
        return removed

    async def clear(self) -> None:
        """Not part of the original's interface: override it to support ``clear``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement clear()")

    async def get_or_set(
        self, key: str, loader: Loader, ttl: TTL = UNSET, *, type: Any = None
    ) -> Any:
        """The cached value, or the loader's result stored under ``key`` (single flight)."""
        value = await self._get(key, type)
        if value is not None:
            return value
        return await self._load_once(key, loader, _legacy_ttl(ttl))

    async def get_result(self, key: str, *, type: Any = None) -> GetResult:
        """``hit`` or ``miss`` (a cache of this kind has no degraded mode of its own)."""
        value = await self._get(key, type)
        return GetResult("hit" if value is not None else "miss", value)
