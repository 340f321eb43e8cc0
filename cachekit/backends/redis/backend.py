"""``RedisBackend``: the Redis tier. Namespaced keys, batch commands, SCAN-based clear.

It raises cachekit errors (``CacheUnavailableError`` and subclasses) when Redis fails;
degradation to memory is the job of the resilience wrapper, not of this class. Entries
that do not decode (corrupt, foreign, unknown format version) are misses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis.asyncio as aioredis

from cachekit.backends.codec import Codec, CodecError
from cachekit.backends.integrity import SealedCodec
from cachekit.backends.redis.autopipeline import AutoPipeline, supports_auto_pipeline
from cachekit.backends.redis.connection import make_client
from cachekit.backends.redis.errors import connect_hints, map_redis_errors
from cachekit.config.model import CacheConfig
from cachekit.protocol import TTL, UNSET, CacheInterface, check_ttl

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


def _set_command(name: str, data: bytes, ttl: float | None, *, nx: bool = False) -> tuple[Any, ...]:
    """The SET command for ``name``: EX for whole seconds, PX for fractions, NX on demand."""
    ex, px = _expiry(ttl)
    expiry = ("EX", ex) if ex is not None else ("PX", px) if px is not None else ()
    return ("SET", name, data, *expiry, *(("NX",) if nx else ()))


class RedisBackend(CacheInterface):
    """Values in Redis under ``config.key_prefix``, encoded by the safe codec."""

    def __init__(self, config: CacheConfig, *, client: aioredis.Redis | None = None) -> None:
        super().__init__()
        self.config = config
        self._config = config
        self.default_ttl = config.ttl.default
        self.prefix = config.key_prefix
        self.codec = Codec.from_config(config.compression)
        # Signed / encrypted entries bound to their key when security keys are configured.
        self.sealed = SealedCodec.from_config(config)
        self._client = client
        self._owns_client = client is None
        self._pipeline: AutoPipeline | None = None
        self.corrupt_entries = 0

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client, created on first use (no I/O until a command runs)."""
        if self._client is None:
            self._client = make_client(self._config)
        return self._client

    async def _command(self, *args: Any) -> Any:
        """Run one command; auto-pipelined (``redis.auto_pipeline``), it shares a round
        trip with the commands other tasks issue in the same event-loop tick."""
        pipeline = self._pipeline or self.auto_pipeline
        if pipeline is None:
            return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        return await pipeline.execute(*args)

    async def _commands(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Run several commands in one round trip; their replies in order."""
        pipeline = self._pipeline or self.auto_pipeline
        if pipeline is None:
            async with self.client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return await pipe.execute()
        return await pipeline.execute_many(commands)

    @property
    def auto_pipeline(self) -> AutoPipeline | None:
        """The batcher every command goes through, created on first use; None when
        ``redis.auto_pipeline`` is off or the client is not a plain pooled one."""
        if self._pipeline is None and self._config.redis.auto_pipeline:
            client = self.client
            if supports_auto_pipeline(client):
                self._pipeline = AutoPipeline(client)
        return self._pipeline

    def _encode(self, name: str, value: Any) -> bytes:
        if self.sealed is not None:
            return self.sealed.encode(value, name=name)
        return self.codec.encode(value)

    def _decode(self, raw: bytes | str | None, type: Any, name: str) -> Any:
        if raw is None:
            return None
        data = raw if isinstance(raw, bytes) else raw.encode()
        try:
            if self.sealed is not None:
                return self.sealed.decode(data, type, name=name)
            return self.codec.decode(data, type)
        except CodecError:
            self.corrupt_entries += 1
            return None

    async def connect(self) -> bool:
        """PING Redis; raises ``CacheUnavailableError`` (or a subclass) when unreachable."""
        with map_redis_errors("PING", **connect_hints(self._config)):
            await self.client.ping()
        return True

    async def aclose(self) -> None:
        """Close the client this backend created (a client passed in belongs to the caller)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            await pipeline.aclose()
        if not self._owns_client:
            return
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def get(self, key: str, *, type: Any = None) -> Any:
        with map_redis_errors("GET"):
            raw = await self._command("GET", self.prefix + key)
        return self._decode(raw, type, self.prefix + key)

    async def get_with_ttl(self, key: str, *, type: Any = None) -> tuple[Any, float | None]:
        """The value and its remaining TTL in seconds (None: no expiry) in one round trip."""
        name = self.prefix + key
        with map_redis_errors("GET"):
            raw, pttl = await self._commands([("GET", name), ("PTTL", name)])
        value = self._decode(raw, type, name)
        if value is None or pttl == -2:
            return None, None
        return value, None if pttl < 0 else pttl / 1000.0

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        data = self._encode(self.prefix + key, value)
        with map_redis_errors("SET"):
            await self._command(*_set_command(self.prefix + key, data, seconds))

    async def delete(self, key: str) -> bool:
        with map_redis_errors("UNLINK"):
            removed: int = await self._command("UNLINK", self.prefix + key)
        return removed > 0

    async def exists(self, key: str) -> bool:
        with map_redis_errors("EXISTS"):
            count: int = await self._command("EXISTS", self.prefix + key)
        return count > 0

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with map_redis_errors("MGET"):
            raws = await self._command("MGET", *[self.prefix + k for k in wanted])
        found = {}
        for key, raw in zip(wanted, raws, strict=True):
            value = self._decode(raw, type, self.prefix + key)
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
        names = [self.prefix + k for k in wanted]
        with map_redis_errors("MGET"):
            raws, *pttls = await self._commands([("MGET", *names)] + [("PTTL", n) for n in names])
        found: dict[str, tuple[Any, float | None]] = {}
        for key, raw, pttl in zip(wanted, raws, pttls, strict=True):
            value = self._decode(raw, type, self.prefix + key)
            if value is not None and pttl != -2:
                found[key] = (value, None if pttl < 0 else pttl / 1000.0)
        return found

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        if not items:
            return
        encoded = [(self.prefix + k, self._encode(self.prefix + k, v)) for k, v in items.items()]
        with map_redis_errors("SET"):
            await self._commands([_set_command(name, data, seconds) for name, data in encoded])

    async def add_many(self, items: Mapping[str, tuple[Any, float | None]]) -> int:
        """Store each ``key: (value, ttl)`` only where Redis holds no value for the key
        (SET NX, so a newer value written by another process always wins); the number
        stored. ``ttl`` None means no expiry."""
        if not items:
            return 0
        commands = [
            _set_command(self.prefix + k, self._encode(self.prefix + k, v), t, nx=True)
            for k, (v, t) in items.items()
        ]
        with map_redis_errors("SET"):
            results = await self._commands(commands)
        return sum(1 for stored in results if stored)

    async def delete_many(self, keys: Iterable[str]) -> int:
        names = [self.prefix + k for k in dict.fromkeys(keys)]
        if not names:
            return 0
        with map_redis_errors("UNLINK"):
            removed: int = await self._command("UNLINK", *names)
        return removed

    async def delete_matching(self, pattern: str) -> int:
        """UNLINK every key of this namespace matching ``pattern`` (a Redis glob, already
        escaped by the caller where it holds user text), found by SCAN, never KEYS."""
        removed, cursor = 0, 0
        match = escape_glob(self.prefix) + pattern
        with map_redis_errors("SCAN"):
            while True:
                cursor, names = await self._command(
                    "SCAN", cursor, "MATCH", match, "COUNT", _SCAN_COUNT
                )
                if names:
                    removed += await self._command("UNLINK", *names)
                if cursor == 0:
                    return removed

    async def clear(self) -> None:
        await self.delete_matching("*")
