"""``NullCache``: what the ``disabled`` preset resolves to. Every get misses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cachekit.protocol import TTL, UNSET, CacheInterface, check_ttl


class NullCache(CacheInterface):
    """Stores nothing: gets miss, sets are checked and dropped, get_or_set always loads."""

    def __init__(self, default_ttl: float | None = None) -> None:
        super().__init__()
        self.default_ttl = default_ttl

    async def get(self, key: str, *, type: Any = None) -> Any:
        return None

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        check_ttl(ttl, self.default_ttl)

    async def delete(self, key: str) -> bool:
        return False

    async def exists(self, key: str) -> bool:
        return False

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        return {}

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        check_ttl(ttl, self.default_ttl)

    async def delete_many(self, keys: Iterable[str]) -> int:
        return 0

    async def clear(self) -> None:
        return None

    async def delete_matching(self, pattern: str) -> int:
        return 0
