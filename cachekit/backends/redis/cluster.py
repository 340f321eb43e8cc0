"""``ClusterBackend``: the Redis tier on a Redis Cluster, keys sharded over its primaries.

The commands are those of ``RedisBackend`` (encoded, observed, errors mapped); where they
go is the ``ClusterRouter``'s business: each key to the primary serving its slot, over that
node's auto-pipeline. Batches are split by slot and by node, and the nodes are asked in
parallel:

- ``get_many`` / ``get_many_with_ttl``: one ``MGET`` per slot (plus the ``PTTL`` s), one
  round trip per node; never a CROSSSLOT error, never a round trip per key;
- ``set_many`` / ``add_many``: the ``SET`` s grouped by node, sent in parallel;
- ``delete_many``: one ``UNLINK`` per slot; ``delete_matching`` / ``clear``: a SCAN of
  every primary (each holds its own keys), in parallel.

``redis.hash_tag = "namespace"`` puts the whole namespace in one slot (``{ns:env}:key``):
multi-key batches then cost one round trip to one node, at the price of that node holding
every key.

``connect`` asks a seed node what it is (``HELLO``): a standalone server or a sentinel is
a configuration error that names the fix. The probe re-reads the slot table and PINGs every
primary, so the circuit closes only once a replica has taken over a failed primary's slots.
Coherence runs one tracking connection per primary (``TrackingGroup``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex

from cachekit.backends.glob import check_pattern, escape_glob
from cachekit.backends.redis.backend import PROBE_KEY, RedisBackend
from cachekit.backends.redis.commands import PROBE_TTL, SCAN_COUNT, name_of, set_command
from cachekit.backends.redis.errors import map_redis_errors
from cachekit.backends.redis.router import SLOTS, Address, ClusterRouter, Node, slot_of
from cachekit.backends.redis.topology import check_mode, probe_until, slot_ranges
from cachekit.backends.redis.tracking import Tracker
from cachekit.backends.redis.tracking_group import TrackingGroup
from cachekit.config.urls import node_where
from cachekit.errors import CacheConfigError, CacheUnavailableError
from cachekit.health import Topology
from cachekit.protocol import InvalidationSink

Command = tuple[Any, ...]


def by_slot(names: Sequence[str]) -> dict[int, list[int]]:
    """Indexes of ``names`` grouped by hash slot (first-seen order)."""
    groups: dict[int, list[int]] = {}
    for index, name in enumerate(names):
        groups.setdefault(slot_of(name), []).append(index)
    return groups


class ClusterBackend(RedisBackend):
    """``RedisBackend`` over the cluster whose seed nodes ``endpoint`` lists."""

    tier = "redis"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.router = ClusterRouter(self.endpoint, auto_pipeline=self._use_pipeline)

    def __repr__(self) -> str:
        return f"ClusterBackend({self.endpoint!r}, prefix={self.prefix!r})"

    def _new_client(self, *, retries: int | None = None) -> aioredis.Redis:
        """A client of the first seed node (``client``: for callers that want one node)."""
        return self.endpoint.node_client(*self.endpoint.hosts[0], retries=retries)

    @property
    def auto_pipeline(self) -> None:
        """None: each node has its own auto-pipeline (``ClusterRouter``)."""
        return None

    @property
    def call_deadline(self) -> float | None:
        """None: a call may follow redirections over several nodes; the resilience layer
        bounds each call."""
        return None

    # -- the command path -----------------------------------------------------------------
    async def _command(self, *args: Any) -> Any:
        """One command, on the primary serving its key."""
        observer = self._observer
        if observer is not None and observer.traced():
            return await observer.command(name_of(args), self.router.send(args))
        result = await self.router.send(args)
        if observer is not None:
            observer.counted()
        return result

    async def _commands(self, commands: list[Command]) -> list[Any]:
        """Commands with keys anywhere, grouped by node, the nodes asked in parallel."""
        observer = self._observer
        if observer is None or not observer.traced():
            replies = await self.router.run_grouped(commands)
            if observer is not None:
                observer.counted()
            return replies
        names = [name_of(command) for command in commands]
        return await observer.batch(names, self.router.run_grouped(commands))

    async def _mget(self, names: list[str]) -> list[Any]:
        groups = list(by_slot(names).values())
        replies = await self._commands([("MGET", *(names[i] for i in g)) for g in groups])
        raws: list[Any] = [None] * len(names)
        for indexes, values in zip(groups, replies, strict=True):
            for index, value in zip(indexes, values, strict=True):
                raws[index] = value
        return raws

    async def _mget_with_pttl(self, names: list[str]) -> tuple[list[Any], list[Any]]:
        groups = list(by_slot(names).values())
        commands: list[Command] = []
        for indexes in groups:
            commands.append(("MGET", *(names[i] for i in indexes)))
            commands += [("PTTL", names[i]) for i in indexes]
        replies = await self._commands(commands)
        raws: list[Any] = [None] * len(names)
        pttls: list[Any] = [-2] * len(names)
        at = 0
        for indexes in groups:
            values, ttls = replies[at], replies[at + 1 : at + 1 + len(indexes)]
            at += 1 + len(indexes)
            for index, value, pttl in zip(indexes, values, ttls, strict=True):
                raws[index], pttls[index] = value, pttl
        return raws, pttls

    async def _unlink(self, names: list[str]) -> int:
        groups = by_slot(names).values()
        replies = await self._commands([("UNLINK", *(names[i] for i in g)) for g in groups])
        return sum(int(r) for r in replies)

    async def delete_matching(self, pattern: str) -> int:
        """UNLINK every key of this namespace matching ``pattern`` on every primary (SCAN
        per node, the nodes in parallel)."""
        match = escape_glob(self.prefix) + check_pattern(pattern)
        with map_redis_errors("SCAN"):
            if not self.router.loaded:
                await self.router.refresh()
            scans = [self._scan_node(node, match) for node in self.router.primaries]
            counts = await asyncio.gather(*scans, return_exceptions=True)
        errors = [c for c in counts if isinstance(c, BaseException)]
        if errors:
            with map_redis_errors("SCAN"):
                raise errors[0]
        return sum(int(c) for c in counts if not isinstance(c, BaseException))

    async def _scan_node(self, node: Node, match: str) -> int:
        removed, cursor = 0, 0
        while True:
            cursor, names = await self._observed(
                "SCAN",
                node.client.execute_command(  # type: ignore[no-untyped-call]
                    "SCAN", cursor, "MATCH", match, "COUNT", SCAN_COUNT
                ),
            )
            if names:
                removed += await self._unlink([_text(n) for n in names])
            if int(cursor) == 0:
                return removed

    # -- lifecycle ------------------------------------------------------------------------
    async def connect(self) -> bool:
        """Ask a seed node what it is, then read the slot table; ``CacheConfigError``
        naming the fix when the seeds are not cluster nodes."""
        with map_redis_errors("CLUSTER", **self.endpoint.hints()):
            await self._check_seed()
            await self._observed("CLUSTER", self.router.refresh())
        return True

    async def _check_seed(self) -> None:
        """The first seed that answers must say it is a cluster node."""
        error: BaseException | None = None
        for address in self.endpoint.hosts:
            client = self.router.node(address).client
            try:
                await check_mode(client, "cluster", node_where(*address))
            except (OSError, rex.ConnectionError, rex.TimeoutError) as exc:
                error = exc
                continue
            return
        if error is not None:
            raise error

    async def probe(self, timeout: float, *, fresh: bool = False) -> str | None:
        """Read the slot table again and PING every primary (a failover done: the promoted
        replica answers), then write a short-lived key; None when all took it. A ``fresh``
        probe (the circuit is open) keeps trying within ``timeout``: it waits out a failover."""
        if fresh:
            return await probe_until(lambda left: self._probe_once(left, fresh=True), timeout)
        return await self._probe_once(timeout, fresh=False)

    async def _probe_once(self, timeout: float, *, fresh: bool) -> str | None:
        name = self.prefix + PROBE_KEY
        try:
            async with asyncio.timeout(timeout):
                with map_redis_errors("CLUSTER"):
                    if fresh:
                        await self._check_seed()
                    await self.router.refresh()
                    if self.router.covered < SLOTS:
                        missing = SLOTS - self.router.covered
                        return f"redis cluster: {missing} slots have no primary"
                with map_redis_errors("PING"):
                    await self.router.ping_primaries()
                with map_redis_errors("SET"):
                    await self.router.send(set_command(name, self._encode(name, 1), PROBE_TTL))
        except CacheConfigError as exc:
            return "; ".join(p.message for p in exc.problems)
        except CacheUnavailableError as exc:
            return str(exc)
        except TimeoutError:
            return f"redis probe: no answer within {timeout:g}s"
        return None

    async def aclose(self) -> None:
        await super().aclose()
        await self.router.aclose()

    # -- coordination -----------------------------------------------------------------------
    def tracker(self, sink: InvalidationSink) -> TrackingGroup:
        """Tracking on every primary, reported to ``sink`` as one stream."""
        return TrackingGroup(sink, self.router, self._node_tracker)

    def _node_tracker(self, address: Address, sink: InvalidationSink) -> Tracker:
        pool = self.endpoint.node_client(*address, retries=0, max_connections=1).connection_pool
        return Tracker.on_pool(
            pool,
            self.prefix,
            sink,
            reply_timeout=self.endpoint.connect_timeout + self.endpoint.socket_timeout,
        )

    async def topology(self) -> Topology:
        """The primaries with their slots and replicas, and the slot coverage."""
        with map_redis_errors("CLUSTER", **self.endpoint.hints()):
            await self.router.refresh()
        nodes: list[str] = []
        for node in self.router.primaries:
            nodes.append(f"primary  {node.where}  slots {slot_ranges(self.router.slots_of(node))}")
            for replica in self.router.replicas.get(node.address, []):
                nodes.append(f"replica  {node_where(*replica)}  of {node.where}")
        covered = self.router.covered
        primaries = len(self.router.primaries)
        replicas = sum(len(r) for r in self.router.replicas.values())
        problems: list[str] = []
        if covered < SLOTS:
            problems.append(f"{SLOTS - covered} of {SLOTS} slots have no primary")
        summary = (
            f"cluster: {primaries} primaries, {replicas} replicas, "
            f"{covered}/{SLOTS} slots covered"
        )
        return Topology(
            mode="cluster", summary=summary, nodes=tuple(nodes), problems=tuple(problems)
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
