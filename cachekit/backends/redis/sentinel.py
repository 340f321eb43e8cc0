"""``SentinelBackend``: the Redis tier on the master a set of sentinels names, failover followed.

The commands are those of ``RedisBackend`` (auto-pipelined, observed, errors mapped); only
where they go differs. Every new connection asks the sentinels for the master (redis-py's
``SentinelConnectionPool``), so after a failover the next connection reaches the new master;
a connection still open to a master that was demoted gets ``READONLY`` and is dropped. The
probe that closes the circuit after an outage uses fresh connections, so it succeeds as soon
as the sentinels name a master that takes writes.

``redis.read_from = "replica"`` sends reads (GET, MGET, EXISTS, PTTL) to one replica the
sentinels list (the master when none is up), chosen in a stable order so that the tracking
connection of the memory tier listens on the very server the reads come from: a value read
there was never reported stale by another server. The trade-off, in the README: a read may
miss a write made a moment before (replication lag), in this process too.

Coherence follows the failover: the tracking connection asks the sentinels for its server
too, and a watcher compares that server with the one the sentinels name every half second;
when they differ the connection is cut, which empties and bypasses the memory tier until
tracking is on at the new master (a failover is a loss of certainty).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis import exceptions as rex
from redis.asyncio.sentinel import Sentinel

from cachekit.backends.redis.backend import RedisBackend
from cachekit.backends.redis.errors import describe, map_redis_errors
from cachekit.backends.redis.topology import hello, mode_error, mode_problem, probe_until
from cachekit.backends.redis.tracking import PING_SECONDS, Tracker
from cachekit.config.urls import node_where
from cachekit.health import Topology
from cachekit.protocol import InvalidationSink

Address = tuple[str, int]
WATCH_SECONDS: Final = PING_SECONDS
"""How often the tracking watcher asks the sentinels where the master (or replica) is."""


def _address(host: Any, port: Any) -> Address:
    name = host.decode() if isinstance(host, bytes) else str(host)
    return name, int(port)


class SentinelBackend(RedisBackend):
    """``RedisBackend`` on the master the sentinels of ``endpoint`` name."""

    tier = "redis"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sentinels: Sentinel | None = None
        self._replica: aioredis.Redis | None = None
        self._replica_address: Address | None = None
        self._replica_lock = asyncio.Lock()
        if self.endpoint.read_from == "replica":
            self._read_one = self._replica_command
            self._read_many = self._replica_commands

    def __repr__(self) -> str:
        return f"SentinelBackend({self.endpoint!r}, prefix={self.prefix!r})"

    @property
    def service(self) -> str:
        """The master's service name (validation makes sure there is one)."""
        return self.endpoint.service or ""

    @property
    def sentinels(self) -> Sentinel:
        """redis-py's ``Sentinel`` over the configured sentinels (no I/O until asked)."""
        if self._sentinels is None:
            self._sentinels = self.endpoint.sentinels()
        return self._sentinels

    def _new_client(self, *, retries: int | None = None) -> aioredis.Redis:
        pool = self.endpoint.sentinel_pool(self.sentinels, retries=retries)
        return aioredis.Redis.from_pool(pool)

    def _tracking_pool(self) -> Any:
        if self.endpoint.read_from == "replica":
            return _PinnedPool(self)
        return self.endpoint.sentinel_pool(self.sentinels, retries=0, max_connections=1)

    async def master_address(self) -> Address:
        """Where the sentinels say the master is (``MasterNotFoundError`` when none says)."""
        host, port = await self.sentinels.discover_master(self.service)
        return _address(host, port)

    async def connect(self) -> bool:
        """Make sure the hosts listed are sentinels, then connect to the master they name;
        ``CacheConfigError`` naming the fix when they are data servers or cluster nodes."""
        with map_redis_errors("HELLO", **self.endpoint.hints()):
            await self._check_sentinels()
        return await super().connect()

    async def _check_sentinels(self) -> None:
        """The first sentinel that answers must say it is one (``HELLO``)."""
        error: BaseException | None = None
        for sentinel in self.sentinels.sentinels:
            options = sentinel.connection_pool.connection_kwargs
            try:
                fields = await hello(sentinel)
            except (OSError, rex.ConnectionError, rex.TimeoutError) as exc:
                error = exc
                continue
            where = node_where(str(options.get("host")), options.get("port"))
            problem = mode_problem("sentinel", fields, where)
            if problem is not None:
                raise mode_error(problem, "sentinel")
            return
        if error is not None:
            raise error

    async def probe(self, timeout: float, *, fresh: bool = False) -> str | None:
        """``RedisBackend.probe`` on the master the sentinels name; a ``fresh`` probe (the
        circuit is open) keeps trying within ``timeout``: it waits out a failover."""
        if not fresh:
            return await super().probe(timeout)
        once = super().probe
        return await probe_until(lambda left: once(left, fresh=True), timeout)

    async def _check_server(self, client: aioredis.Redis) -> None:
        """The server the sentinels name must answer as a master."""
        fields = await hello(client)
        if fields is not None and fields.get("role") not in (None, "master"):
            problem = (
                f"the sentinels name {self.endpoint.service!r} but its server answers as a "
                f"{fields.get('role')}: check the sentinels' view (SENTINEL MASTERS)"
            )
            raise mode_error(problem, "sentinel")

    async def aclose(self) -> None:
        await super().aclose()
        replica, self._replica = self._replica, None
        if replica is not None:
            await replica.aclose()
        sentinels, self._sentinels = self._sentinels, None
        if sentinels is not None:
            with contextlib.suppress(Exception):
                await sentinels.aclose()

    # -- reads from a replica ---------------------------------------------------------
    async def replica_address(self, *, rediscover: bool = False) -> Address:
        """The replica reads go to: the first (in address order) that the sentinels list
        as up, kept while it stays up; the master when none is."""
        if self._replica_address is not None and not rediscover:
            return self._replica_address
        replicas = await self.sentinels.discover_slaves(self.service)
        found = sorted(_address(h, p) for h, p in replicas)
        current = self._replica_address
        if current is not None and current in found:
            return current
        chosen = found[0] if found else await self.master_address()
        if chosen != current:
            await self._pin(chosen)
        return chosen

    async def _pin(self, address: Address) -> None:
        old, self._replica = self._replica, None
        self._replica_address = address
        if old is not None:
            with contextlib.suppress(Exception):
                await old.aclose()

    async def _replica_client(self) -> aioredis.Redis:
        if self._replica is None:
            async with self._replica_lock:
                if self._replica is None:
                    host, port = await self.replica_address()
                    self._replica = self.endpoint.node_client(host, port)
        return self._replica

    async def _replica_command(self, *args: Any) -> Any:
        return (await self._replica_commands([args]))[0]

    async def _replica_commands(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        async def send() -> list[Any]:
            client = await self._replica_client()
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for command in commands:
                        pipe.execute_command(*command)
                    replies: list[Any] = await pipe.execute()
                    return replies
            except (rex.ConnectionError, rex.TimeoutError):
                self._replica_address = None  # ask the sentinels again next time
                await self._pin_later()
                raise

        observer = self._observer
        if observer is None:
            return await send()
        return await observer.batch([str(c[0]) for c in commands], send())

    async def _pin_later(self) -> None:
        replica, self._replica = self._replica, None
        if replica is not None:
            with contextlib.suppress(Exception):
                await replica.aclose()

    # -- coherence ----------------------------------------------------------------------
    def tracker(self, sink: InvalidationSink) -> FollowingTracker:
        """Tracking on the server reads come from (the master, or the pinned replica),
        following it when the sentinels name another."""
        inner = self._new_tracker(sink)
        if self.endpoint.read_from == "replica":
            return FollowingTracker(inner, lambda: self.replica_address(rediscover=True))
        return FollowingTracker(inner, self.master_address)

    # -- what check prints --------------------------------------------------------------
    async def topology(self) -> Topology:
        """The master the sentinels name, its replicas, and how many sentinels answer."""
        service = self.service
        problems: list[str] = []
        nodes: list[str] = []
        with map_redis_errors("SENTINEL", **self.endpoint.hints()):
            master = await self.master_address()
            replicas = await self.sentinels.discover_slaves(service)
        answering = 0
        for sentinel in self.sentinels.sentinels:
            with contextlib.suppress(rex.RedisError, OSError):
                await sentinel.ping()
                answering += 1
        nodes.append(f"master   {node_where(*master)}")
        for host, port in sorted(_address(h, p) for h, p in replicas):
            nodes.append(f"replica  {node_where(host, port)}")
        if self.endpoint.read_from == "replica":
            reads = await self.replica_address()
            nodes.append(f"reads    from {node_where(*reads)} (redis.read_from = 'replica')")
        listed = len(self.sentinels.sentinels)
        if answering <= listed // 2:
            problems.append(
                f"only {answering} of {listed} sentinels answer: a failover needs a majority"
            )
        summary = (
            f"sentinel {service!r}: master {node_where(*master)}, {len(replicas)} "
            f"replica{'s' if len(replicas) != 1 else ''}, {answering}/{listed} sentinels answer"
        )
        return Topology(
            mode="sentinel", summary=summary, nodes=tuple(nodes), problems=tuple(problems)
        )


class _PinnedPool:
    """Makes the tracking connection of a replica-reading backend: on the pinned replica."""

    def __init__(self, backend: SentinelBackend) -> None:
        self.backend = backend
        self.connection_kwargs: dict[str, Any] = {}

    def connection_class(self, **kwargs: Any) -> Any:
        return _PinnedConnection(self.backend)


class _PinnedConnection:
    """A tracking connection that connects to whichever replica reads go to now."""

    def __init__(self, backend: SentinelBackend) -> None:
        self.backend = backend
        self._connection: Any = None
        self.host: str | None = None
        self.port: int | None = None

    async def connect(self) -> None:
        host, port = await self.backend.replica_address(rediscover=True)
        pool = self.backend.endpoint.node_client(host, port, retries=0, max_connections=1)
        kwargs = {**pool.connection_pool.connection_kwargs, "protocol": 2}
        self._connection = pool.connection_pool.connection_class(**kwargs)
        self.host, self.port = host, port
        await self._connection.connect()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class FollowingTracker:
    """A ``Tracker`` whose server is named by the sentinels: cut when they name another."""

    def __init__(self, inner: Tracker, where: Callable[[], Awaitable[Address]]) -> None:
        self.inner = inner
        self._where = where
        self._watcher: asyncio.Task[None] | None = None
        self.failovers = 0

    @property
    def state(self) -> str:  # the Tracking protocol's attribute, read through
        return self.inner.state

    @state.setter
    def state(self, value: str) -> None:
        self.inner.state = value

    def launch(self) -> None:
        """Start tracking and the watcher (needs a running event loop); safe to repeat."""
        self.inner.launch()
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def start(self, timeout: float) -> bool:
        self.launch()
        return await self.inner.start(timeout)

    async def aclose(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await self.inner.aclose()

    def describe(self) -> str:
        return self.inner.describe()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            if self.inner.state != "tracking":
                continue
            try:
                expected = await self._where()
            except (rex.RedisError, OSError):
                continue  # no sentinel answers: the tracking connection's own PINGs decide
            except Exception as exc:  # pragma: no cover - a bug; keep watching
                self.inner.reason = describe(exc)
                continue
            actual = self.inner.address
            if actual is not None and actual != expected:
                self.failovers += 1
                await self.inner.reset(
                    f"failover: the sentinels name {node_where(*expected)} "
                    f"(tracking was on {node_where(*actual)})"
                )
