"""``RedisBackend``: the Redis tier. Namespaced keys, batch commands, SCAN-based clear.

It raises cachekit errors (``CacheUnavailableError`` and subclasses) when Redis fails;
degradation to memory is the job of the resilience wrapper, not of this class. Entries
that do not decode (corrupt, foreign, unknown format version) are misses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis.asyncio as aioredis

from cachekit._codec import Codec, CodecError
from cachekit._config import CacheConfig
from cachekit._connection import make_client
from cachekit._protocol import TTL, UNSET, CacheInterface, check_ttl
from cachekit._redis_errors import map_redis_errors

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})
_SCAN_COUNT = 500


def escape_glob(text: str) -> str:
    """``text`` with Redis glob metacharacters escaped, so it matches only literally."""
    return text.translate(_GLOB_SPECIAL)


def _expiry(ttl: float | None) -> tuple[int | None, int | None]:
    """``(ex, px)`` for SET: whole seconds as EX, fractions as PX milliseconds."""
    if ttl is None:
        return None, None
    if float(ttl).is_integer():
        return int(ttl), None
    return None, max(1, round(ttl * 1000))


class RedisBackend(CacheInterface):
    """Values in Redis under ``config.key_prefix``, encoded by the safe codec."""

    def __init__(self, config: CacheConfig, *, client: aioredis.Redis | None = None) -> None:
        super().__init__()
        self.config = config
        self._config = config
        self.default_ttl = config.ttl.default
        self.prefix = config.key_prefix
        self.codec = Codec.from_config(config.compression)
        self._client = client
        self._owns_client = client is None
        self.corrupt_entries = 0

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client, created on first use (no I/O until a command runs)."""
        if self._client is None:
            self._client = make_client(self._config)
        return self._client

    def _decode(self, raw: bytes | str | None, type: Any) -> Any:
        if raw is None:
            return None
        try:
            return self.codec.decode(raw if isinstance(raw, bytes) else raw.encode(), type)
        except CodecError:
            self.corrupt_entries += 1
            return None

    async def connect(self) -> bool:
        """PING Redis; raises ``CacheUnavailableError`` (or a subclass) when unreachable."""
        with map_redis_errors("PING"):
            await self.client.ping()
        return True

    async def aclose(self) -> None:
        """Close the client this backend created (a client passed in belongs to the caller)."""
        if not self._owns_client:
            return
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def get(self, key: str, *, type: Any = None) -> Any:
        with map_redis_errors("GET"):
            raw = await self.client.get(self.prefix + key)
        return self._decode(raw, type)

    async def get_with_ttl(self, key: str, *, type: Any = None) -> tuple[Any, float | None]:
        """The value and its remaining TTL in seconds (None: no expiry) in one round trip."""
        name = self.prefix + key
        with map_redis_errors("GET"):
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(name)
                pipe.pttl(name)
                raw, pttl = await pipe.execute()
        value = self._decode(raw, type)
        if value is None or pttl == -2:
            return None, None
        return value, None if pttl < 0 else pttl / 1000.0

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        data = self.codec.encode(value)
        ex, px = _expiry(seconds)
        with map_redis_errors("SET"):
            await self.client.set(self.prefix + key, data, ex=ex, px=px)

    async def delete(self, key: str) -> bool:
        with map_redis_errors("UNLINK"):
            removed: int = await self.client.unlink(self.prefix + key)
        return removed > 0

    async def exists(self, key: str) -> bool:
        with map_redis_errors("EXISTS"):
            count: int = await self.client.exists(self.prefix + key)
        return count > 0

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with map_redis_errors("MGET"):
            raws = await self.client.mget([self.prefix + k for k in wanted])
        found = {}
        for key, raw in zip(wanted, raws, strict=True):
            value = self._decode(raw, type)
            if value is not None:
                found[key] = value
        return found

    async def get_many_with_ttl(
        self, keys: Iterable[str], *, type: Any = None
    ) -> dict[str, tuple[Any, float | None]]:
        """Hits with their remaining TTLs, in one pipelined round trip."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with map_redis_errors("MGET"):
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.mget([self.prefix + k for k in wanted])
                for key in wanted:
                    pipe.pttl(self.prefix + key)
                raws, *pttls = await pipe.execute()
        found: dict[str, tuple[Any, float | None]] = {}
        for key, raw, pttl in zip(wanted, raws, pttls, strict=True):
            value = self._decode(raw, type)
            if value is not None and pttl != -2:
                found[key] = (value, None if pttl < 0 else pttl / 1000.0)
        return found

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        if not items:
            return
        encoded = [(self.prefix + k, self.codec.encode(v)) for k, v in items.items()]
        ex, px = _expiry(seconds)
        with map_redis_errors("SET"):
            async with self.client.pipeline(transaction=False) as pipe:
                for name, data in encoded:
                    pipe.set(name, data, ex=ex, px=px)
                await pipe.execute()

    async def delete_many(self, keys: Iterable[str]) -> int:
        names = [self.prefix + k for k in dict.fromkeys(keys)]
        if not names:
            return 0
        with map_redis_errors("UNLINK"):
            removed: int = await self.client.unlink(*names)
        return removed

    async def delete_matching(self, pattern: str) -> int:
        """UNLINK every key of this namespace matching ``pattern`` (a Redis glob, already
        escaped by the caller where it holds user text), found by SCAN, never KEYS."""
        removed = 0
        with map_redis_errors("SCAN"):
            batch: list[bytes] = []
            async for name in self.client.scan_iter(
                match=escape_glob(self.prefix) + pattern, count=_SCAN_COUNT
            ):
                batch.append(name)
                if len(batch) >= _SCAN_COUNT:
                    removed += await self.client.unlink(*batch)
                    batch.clear()
            if batch:
                removed += await self.client.unlink(*batch)
        return removed

    async def clear(self) -> None:
        await self.delete_matching("*")
