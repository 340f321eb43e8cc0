"""``RedisBackend``: the Redis tier. Namespaced keys, batch commands, SCAN-based clear.

It raises cachekit errors (``CacheUnavailableError`` and subclasses) when Redis fails;
degradation to memory is the job of the resilience wrapper, not of this class. Entries
that do not decode (corrupt, foreign, unknown format version) are misses.

Every command goes through ``_command`` / ``_commands``: auto-pipelined when
``redis.auto_pipeline`` is on, and handed to the ``CommandObserver`` telemetry installs
(``observe``), so telemetry sees each command without touching redis-py's objects. Reads
go through ``_read_one`` / ``_read_many`` (Sentinel's replica reads go elsewhere).
``SentinelBackend`` and ``ClusterBackend`` change only where commands go. At connect the
server says what it is (``HELLO``): a cluster node or a sentinel behind a standalone URL
is a configuration error naming the fix, not a cache that degrades for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import redis.asyncio as aioredis

from cachekit.backends.codec import Codec
from cachekit.backends.glob import check_pattern, escape_glob
from cachekit.backends.integrity import SealedCodec
from cachekit.backends.redis.autopipeline import AutoPipeline, supports_auto_pipeline
from cachekit.backends.redis.commands import PROBE_TTL as _PROBE_TTL
from cachekit.backends.redis.commands import SCAN_COUNT as _SCAN_COUNT
from cachekit.backends.redis.commands import name_of as _name
from cachekit.backends.redis.commands import set_command as _set_command
from cachekit.backends.redis.connection import Endpoint
from cachekit.backends.redis.errors import map_redis_errors
from cachekit.backends.redis.topology import check_mode, foreign_client, standalone_topology
from cachekit.backends.redis.tracking import Tracker
from cachekit.config.masking import mask_url
from cachekit.config.model import CacheConfig
from cachekit.errors import CacheConfigError, CacheUnavailableError, CodecError
from cachekit.health import Topology
from cachekit.protocol import (
    TTL,
    UNSET,
    CommandObserver,
    InvalidationSink,
    RemoteTier,
    Tracking,
    check_ttl,
)
from cachekit.tags import FOREVER

OFFLOAD_BYTES: Final = 1 << 20
"""Encoded values from this size on are compressed (and sealed) in a worker thread."""
PROBE_KEY: Final = "__cachekit_probe__"
"""Key, inside the namespace, that probes write (it expires after a few seconds)."""
TAG_PREFIX: Final = "__cachekit_tag__:"
"""Keys, inside the namespace, of the tag sets: ``<prefix>__cachekit_tag__:<tag>`` holds the
keys (without the prefix) that carry ``<tag>``."""
LEASE_PREFIX: Final = "__cachekit_lease__:"
"""Keys, inside the namespace, of the leases that let one process load a missing key."""
# Delete the lease only while it holds this holder's token (another may hold it since).
_RELEASE: Final = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class RedisBackend(RemoteTier):
    """Values in Redis under ``prefix``, encoded by the safe codec (sealed when ``sealed``).

    ``endpoint`` says how to connect; ``client`` substitutes the redis-py client (tests,
    fakeredis; it belongs to the caller and probes use it too). Build one from a whole
    config with ``RedisBackend.from_config``.
    """

    tier = "redis"

    def __init__(
        self,
        endpoint: Endpoint,
        prefix: str,
        codec: Codec,
        *,
        default_ttl: float | None,
        sealed: SealedCodec | None = None,
        auto_pipeline: bool = True,
        client: aioredis.Redis | None = None,
    ) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.default_ttl = default_ttl
        self.prefix = prefix
        self.codec = codec
        # Signed / encrypted entries bound to their key when security keys are configured.
        self.sealed = sealed
        self._entries: Codec | SealedCodec = sealed or codec
        self._use_pipeline = auto_pipeline
        self._client = client
        self._owns_client = client is None
        self._probe_client: aioredis.Redis | None = client
        self._pipeline: AutoPipeline | None = None
        self._observer: CommandObserver | None = None
        self.corrupt_entries = 0
        self._read_one: Callable[..., Awaitable[Any]] = self._command
        self._read_many: Callable[[list[tuple[Any, ...]]], Awaitable[list[Any]]] = self._commands

    @classmethod
    def from_config(
        cls, config: CacheConfig, *, client: aioredis.Redis | None = None
    ) -> RedisBackend:
        """The Redis tier ``config`` describes (endpoint, key prefix, codec, TTL)."""
        if client is not None and not isinstance(client, aioredis.Redis):
            raise foreign_client(client)
        codec = Codec.from_config(config.compression)
        return cls(
            Endpoint.from_config(config),
            config.key_prefix,
            codec,
            default_ttl=config.ttl.default,
            sealed=SealedCodec.seal(codec, config.security),
            auto_pipeline=config.redis.auto_pipeline,
            client=client,
        )

    def __repr__(self) -> str:
        return f"RedisBackend({self.endpoint!r}, prefix={self.prefix!r})"

    @property
    def address(self) -> str:
        """The Redis URL, password masked."""
        return mask_url(self.endpoint.url)

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client, created on first use (no I/O until a command runs)."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _new_client(self, *, retries: int | None = None) -> aioredis.Redis:
        """A client of this backend's server (``retries`` overrides the configured count)."""
        return self.endpoint.client(retries=retries)

    # -- the command path -------------------------------------------------------------
    def observe(self, observer: CommandObserver | None) -> None:
        """Send every command through ``observer`` from now on (None: stop)."""
        self._observer = observer

    def observe_compression(self, callback: Callable[[int, int], None] | None) -> None:
        """Report each value compressed to ``callback(encoded_bytes, stored_bytes)``."""
        self.codec.observe_compression(callback)

    async def _command(self, *args: Any) -> Any:
        """Run one command; auto-pipelined (``redis.auto_pipeline``), it shares a round
        trip with the commands other tasks issue in the same event-loop tick."""
        observer = self._observer
        if observer is not None and observer.traced():
            return await observer.command(_name(args), self._send(args))
        pipeline = self._pipeline or self.auto_pipeline  # the hot path: no extra frame
        if pipeline is None:
            result = await self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        else:
            result = await pipeline.execute(*args)
        if observer is not None:
            observer.counted()
        return result

    async def _send(self, args: tuple[Any, ...]) -> Any:
        pipeline = self._pipeline or self.auto_pipeline
        if pipeline is None:
            return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        return await pipeline.execute(*args)

    async def _commands(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Run several commands in one round trip; their replies in order."""
        observer = self._observer
        if observer is None or not observer.traced():
            replies = await self._send_many(commands)
            if observer is not None:
                observer.counted()
            return replies
        names = [_name(command) for command in commands]
        return await observer.batch(names, self._send_many(commands))

    async def _send_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        pipeline = self._pipeline or self.auto_pipeline
        if pipeline is None:
            async with self.client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return await pipe.execute()
        return await pipeline.execute_many(commands)

    async def _observed(self, name: str, call: Awaitable[Any]) -> Any:
        observer = self._observer
        return await (call if observer is None else observer.command(name, call))

    @property
    def auto_pipeline(self) -> AutoPipeline | None:
        """The batcher every command goes through, created on first use; None when
        ``redis.auto_pipeline`` is off or the client is not a plain pooled one."""
        if self._pipeline is None and self._use_pipeline:
            client = self.client
            if supports_auto_pipeline(client):
                self._pipeline = AutoPipeline(client, deadline=self.endpoint.socket_timeout)
        return self._pipeline

    @property
    def call_deadline(self) -> float | None:
        """``redis.socket_timeout`` when commands are auto-pipelined (the pipeline bounds
        each caller's wait, one timer per event-loop tick), else None."""
        return self.endpoint.socket_timeout if self.auto_pipeline is not None else None

    def _encode(self, name: str, value: Any) -> bytes:
        return self._entries.encode(value, name=name)

    async def _stored_form(self, name: str, value: Any) -> bytes:
        """``_encode``, with a large value's compression and sealing in a worker thread, so
        the event loop never waits for them (the MessagePack encoding is a copy at C speed)."""
        codec = self.codec
        payload = codec.payload(value)
        if len(payload) < OFFLOAD_BYTES:
            envelope = codec.pack(payload)
            sealed = self.sealed
            return envelope if sealed is None else sealed.seal_envelope(envelope, name=name)
        envelope, stored = await asyncio.to_thread(self._pack_off_loop, name, payload)
        codec.report_compression(len(payload), len(envelope))  # telemetry: on the loop
        return stored

    def _pack_off_loop(self, name: str, payload: bytes) -> tuple[bytes, bytes]:
        """The envelope and the stored form of ``payload`` (runs in a worker thread)."""
        envelope, sealed = self.codec.pack(payload, report=False), self.sealed
        return envelope, envelope if sealed is None else sealed.seal_envelope(envelope, name=name)

    async def _decoded(self, raw: bytes | str | None, type: Any, name: str) -> Any:
        """``_decode``; a large stored form is decompressed and decoded in a worker thread."""
        if raw is not None and len(raw) >= OFFLOAD_BYTES:
            return await asyncio.to_thread(self._decode, raw, type, name)
        return self._decode(raw, type, name)

    def _decode(self, raw: bytes | str | None, type: Any, name: str) -> Any:
        if raw is None:
            return None
        data = raw if isinstance(raw, bytes) else raw.encode()
        try:
            return self._entries.decode(data, type, name=name)
        except CodecError:
            self.corrupt_entries += 1
            return None

    # -- lifecycle ----------------------------------------------------------------------
    async def connect(self) -> bool:
        """PING Redis; raises ``CacheUnavailableError`` (or a subclass) when unreachable."""
        with map_redis_errors("PING", **self.endpoint.hints()):
            await self._observed("PING", self.client.ping())
            await self._check_server(self.client)
        return True

    async def _check_server(self, client: aioredis.Redis) -> None:
        """``CacheConfigError`` naming the fix for a cluster node or a sentinel."""
        await check_mode(client, "standalone", self.endpoint.where)

    async def aclose(self) -> None:
        """Close the clients this backend created (a client passed in belongs to the caller)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            await pipeline.aclose()
        if not self._owns_client:
            return
        client, self._client = self._client, None
        probe, self._probe_client = self._probe_client, None
        for owned in (client, probe):
            if owned is not None:
                await owned.aclose()

    async def probe(self, timeout: float, *, fresh: bool = False) -> str | None:
        """Write a short-lived key without retries within ``timeout`` seconds; None when
        Redis took it, else why not. ``fresh`` drops the probe's pooled connections first
        (they may predate a restart). A PING would pass during OOM or READONLY: a write
        does not."""
        if self._probe_client is None:
            self._probe_client = self._new_client(retries=0)
        client = self._probe_client
        name = self.prefix + PROBE_KEY
        try:
            async with asyncio.timeout(timeout):
                if fresh and self._owns_client:
                    with contextlib.suppress(Exception):
                        await client.connection_pool.disconnect()
                    with map_redis_errors("HELLO"):
                        await self._check_server(client)  # what answers after a restart
                with map_redis_errors("SET"):
                    await client.execute_command(  # type: ignore[no-untyped-call]
                        *_set_command(name, self._encode(name, 1), _PROBE_TTL)
                    )
        except CacheConfigError as exc:
            return "; ".join(p.message for p in exc.problems)
        except CacheUnavailableError as exc:
            return str(exc)
        except TimeoutError:
            return f"redis probe: no answer within {timeout:g}s"
        return None

    # -- coordination -------------------------------------------------------------------
    def tracker(self, sink: InvalidationSink) -> Tracking:
        """A tracking connection for this backend's keys (not started): from the client
        passed in, or from an own single-connection pool of the endpoint."""
        return self._new_tracker(sink)

    def _new_tracker(self, sink: InvalidationSink) -> Tracker:
        pool = self._tracking_pool() if self._owns_client else self.client.connection_pool
        return Tracker.on_pool(
            pool,
            self.prefix,
            sink,
            reply_timeout=self.endpoint.connect_timeout + self.endpoint.socket_timeout,
        )

    def _tracking_pool(self) -> Any:
        """The pool whose connection class and options make the tracking connection."""
        return aioredis.ConnectionPool.from_url(
            self.endpoint.url, **{**self.endpoint.kwargs(retries=0), "max_connections": 1}
        )

    async def topology(self) -> Topology:
        """The server: its role and version, and the replicas it lists (when allowed)."""
        with map_redis_errors("HELLO", **self.endpoint.hints()):
            return await standalone_topology(self.client, self.endpoint.where)

    async def acquire_lease(self, key: str, seconds: float) -> str | None:
        """``SET lease token NX PX``: this caller's token when it got the lease, else None."""
        token = secrets.token_hex(16)
        with map_redis_errors("SET"):
            taken = await self._command(
                "SET",
                self.prefix + LEASE_PREFIX + key,
                token,
                "NX",
                "PX",
                max(1, round(seconds * 1000)),
            )
        return token if taken else None

    async def release_lease(self, key: str, token: str) -> None:
        """Delete the lease when it still holds ``token`` (one atomic script)."""
        with map_redis_errors("EVAL"):
            await self._command("EVAL", _RELEASE, 1, self.prefix + LEASE_PREFIX + key, token)

    # -- tags (cachekit.tags) -------------------------------------------------------------
    async def tag_keys(self, key: str, tags: Sequence[str], ttl: float | None) -> bool:
        """``SADD`` the key to each tag's set, in one round trip; each set lives as long as
        its longest-lived member (``PEXPIRE NX`` gives a new set its first expiry, ``GT``
        only ever extends it; an entry without expiry counts as ten years)."""
        ms = max(1, round((FOREVER if ttl is None else ttl) * 1000))
        commands: list[tuple[Any, ...]] = []
        for tag in tags:
            name = self.prefix + TAG_PREFIX + tag
            commands.append(("SADD", name, key))
            commands += [("PEXPIRE", name, ms, "NX"), ("PEXPIRE", name, ms, "GT")]
        with map_redis_errors("SADD"):
            await self._commands(commands)
        return True

    async def pop_tagged(self, tag: str, count: int) -> list[str]:
        """``SPOP`` up to ``count`` keys off the tag's set (atomic: each key is handed out
        once, and a key tagged again meanwhile stays in the set)."""
        with map_redis_errors("SPOP"):
            popped = await self._command("SPOP", self.prefix + TAG_PREFIX + tag, count)
        return [k.decode() if isinstance(k, bytes) else str(k) for k in popped or ()]

    # -- the protocol -------------------------------------------------------------------
    async def get(self, key: str, *, type: Any = None) -> Any:
        with map_redis_errors("GET"):
            raw = await self._read_one("GET", self.prefix + key)
        return await self._decoded(raw, type, self.prefix + key)

    async def get_with_ttl(self, key: str, *, type: Any = None) -> tuple[Any, float | None]:
        """The value and its remaining TTL in seconds (None: no expiry) in one round trip."""
        name = self.prefix + key
        with map_redis_errors("GET"):
            raw, pttl = await self._read_many([("GET", name), ("PTTL", name)])
        value = await self._decoded(raw, type, name)
        if value is None or pttl == -2:
            return None, None
        return value, None if pttl < 0 else pttl / 1000.0

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        data = await self._stored_form(self.prefix + key, value)
        with map_redis_errors("SET"):
            await self._command(*_set_command(self.prefix + key, data, seconds))

    async def delete(self, key: str) -> bool:
        with map_redis_errors("UNLINK"):
            removed: int = await self._command("UNLINK", self.prefix + key)
        return removed > 0

    async def exists(self, key: str) -> bool:
        with map_redis_errors("EXISTS"):
            count: int = await self._read_one("EXISTS", self.prefix + key)
        return count > 0

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with map_redis_errors("MGET"):
            raws = await self._mget([self.prefix + k for k in wanted])
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
            raws, pttls = await self._mget_with_pttl(names)
        found: dict[str, tuple[Any, float | None]] = {}
        for key, raw, pttl in zip(wanted, raws, pttls, strict=True):
            value = self._decode(raw, type, self.prefix + key)
            if value is not None and pttl != -2:
                found[key] = (value, None if pttl < 0 else pttl / 1000.0)
        return found

    async def _mget(self, names: list[str]) -> list[Any]:
        """The raw values of ``names`` (one MGET)."""
        raws: list[Any] = await self._read_one("MGET", *names)
        return raws

    async def _mget_with_pttl(self, names: list[str]) -> tuple[list[Any], list[Any]]:
        """The raw values and PTTLs of ``names`` (an MGET and the PTTLs, one round trip)."""
        raws, *pttls = await self._read_many([("MGET", *names)] + [("PTTL", n) for n in names])
        return raws, pttls

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        if not items:
            return
        encoded = [
            (self.prefix + k, await self._stored_form(self.prefix + k, v)) for k, v in items.items()
        ]
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
            return await self._unlink(names)

    async def _unlink(self, names: list[str]) -> int:
        """UNLINK ``names``; the number removed."""
        removed: int = await self._command("UNLINK", *names)
        return removed

    async def delete_matching(self, pattern: str) -> int:
        """UNLINK every key of this namespace matching ``pattern`` (a Redis glob, already
        escaped by the caller where it holds user text), found by SCAN, never KEYS."""
        removed, cursor = 0, 0
        match = escape_glob(self.prefix) + check_pattern(pattern)
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
