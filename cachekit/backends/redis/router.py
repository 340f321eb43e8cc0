"""``ClusterRouter``: which Redis Cluster node serves a key, and getting commands there.

The router keeps the cluster's slot table (``CLUSTER SLOTS``: 16,384 hash slots, each served
by one primary) and one client per node, each with its own auto-pipeline, so the commands
concurrent tasks send to one node share a round trip, and the nodes are asked in parallel::

    key ──CRC16──> slot ──table──> primary ──> that node's AutoPipeline ──> one round trip

Commands are grouped by node; a group is one request to its node (``run``), and several
groups go out together (``run_grouped``), so ``get_many`` of keys spread over every slot
costs one round trip per node, never one per key, and never a CROSSSLOT error (multi-key
commands are only ever built from keys of one slot).

Redirections are followed: ``MOVED`` (the slot lives elsewhere now: the table is corrected
at once and refreshed in the background) and ``ASK`` (a slot being migrated: the command
is repeated on the target after ``ASKING``), a few times at most. ``TRYAGAIN`` and
``CLUSTERDOWN`` are retried after a short pause. A node that cannot be reached makes the
router refresh its table (a replica may have taken over); the error goes to the caller,
where the resilience layer decides what happens next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import redis.asyncio as aioredis
from redis import exceptions as rex
from redis.crc import key_slot

from cachekit.backends.redis.autopipeline import AutoPipeline, supports_auto_pipeline
from cachekit.backends.redis.connection import Endpoint
from cachekit.config.urls import node_where

SLOTS: Final = 16384
MAX_REDIRECTS: Final = 5
"""Redirections (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) one request follows before it fails."""
REFRESH_INTERVAL: Final = 0.1
"""Seconds between two background refreshes of the slot table (a storm of MOVED makes one)."""

Address = tuple[str, int]
Command = tuple[Any, ...]


def slot_of(name: str | bytes) -> int:
    """The hash slot of a key (its ``{hash tag}`` when it has one), as Redis computes it."""
    return key_slot(name.encode() if isinstance(name, str) else name)


def key_of(command: Command) -> Any:
    """The key a command routes by: the first key (``EVAL script numkeys key ...``)."""
    return command[3] if str(command[0]).upper() in ("EVAL", "EVALSHA") else command[1]


class Node:
    """One cluster node: its address, client and auto-pipeline."""

    __slots__ = ("address", "client", "pipeline")

    def __init__(self, address: Address, client: aioredis.Redis, pipeline: AutoPipeline | None):
        self.address = address
        self.client = client
        self.pipeline = pipeline

    @property
    def where(self) -> str:
        return node_where(*self.address)

    async def run(self, commands: Sequence[Command]) -> list[Any]:
        """``commands`` in one round trip to this node; their replies in order (the first
        command Redis refused raises its error once every reply is read)."""
        pipeline = self.pipeline
        if pipeline is not None:
            return await pipeline.execute_many(commands)
        async with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies: list[Any] = await pipe.execute()
            return replies

    async def aclose(self) -> None:
        if self.pipeline is not None:
            await self.pipeline.aclose()
        await self.client.aclose()


class ClusterRouter:
    """The slot table of the cluster ``endpoint`` lists seeds of, and a client per node."""

    def __init__(self, endpoint: Endpoint, *, auto_pipeline: bool = True) -> None:
        self.endpoint = endpoint
        self.seeds: list[Address] = list(endpoint.hosts)
        self.auto_pipeline = auto_pipeline
        self.nodes: dict[Address, Node] = {}
        self._slots: list[Node | None] = [None] * SLOTS
        self.replicas: dict[Address, list[Address]] = {}
        """Replicas of each primary, as the last ``CLUSTER SLOTS`` listed them."""
        self.epoch = 0
        """Bumped whenever the set of primaries or their slots change."""
        self.on_change: list[Callable[[], None]] = []
        self._refresh: asyncio.Task[None] | None = None
        self._refreshed_at = -1.0
        self.refreshes = 0
        self.redirects = 0
        self.loaded = False
        """Whether a slot table was read (commands before ``connect`` read it first)."""
        self._admin: dict[Address, aioredis.Redis] = {}
        """One no-retry connection per node for ``CLUSTER SLOTS`` (a dead node fails fast)."""

    # -- the slot table ------------------------------------------------------------------
    @property
    def primaries(self) -> list[Node]:
        """The nodes serving at least one slot, in address order."""
        found = {id(n): n for n in self._slots if n is not None}
        return sorted(found.values(), key=lambda n: n.address)

    def slots_of(self, node: Node) -> list[int]:
        """The slots ``node`` serves."""
        return [slot for slot, owner in enumerate(self._slots) if owner is node]

    @property
    def covered(self) -> int:
        """How many slots have a primary."""
        return sum(1 for n in self._slots if n is not None)

    def node(self, address: Address) -> Node:
        """The node at ``address`` (a client is made on first use; no I/O)."""
        found = self.nodes.get(address)
        if found is None:
            client = self.endpoint.node_client(*address)
            use = self.auto_pipeline and supports_auto_pipeline(client)
            pipeline = AutoPipeline(client, deadline=self.endpoint.socket_timeout) if use else None
            found = Node(address, client, pipeline)
            self.nodes[address] = found
        return found

    def primary(self, slot: int) -> Node:
        """The node serving ``slot`` (``ClusterDownError`` when none does)."""
        node = self._slots[slot]
        if node is None:
            self.refresh_soon()
            raise rex.ClusterDownError(f"no cluster node serves slot {slot} (yet)")
        return node

    async def refresh(self) -> None:
        """Read the slot table again (one refresh at a time; callers share it)."""
        task = self._refresh
        if task is None or task.done():
            task = self._refresh = asyncio.get_running_loop().create_task(self._load())
            task.add_done_callback(_consume)  # a caller cancelled meanwhile: no loop warning
        await asyncio.shield(task)

    def refresh_soon(self) -> None:
        """Refresh in the background, at most every ``REFRESH_INTERVAL`` seconds."""
        if self._refresh is not None and not self._refresh.done():
            return
        if time.monotonic() - self._refreshed_at < REFRESH_INTERVAL:
            return
        self._refresh = asyncio.get_running_loop().create_task(self._load())
        self._refresh.add_done_callback(_consume)

    async def _load(self) -> None:
        """Ask the known primaries, then the seeds, for ``CLUSTER SLOTS``; the first answer
        wins. Raises the last error when none answers."""
        self._refreshed_at = time.monotonic()
        self.refreshes += 1
        candidates = [n.address for n in self.primaries] + self.seeds
        error: BaseException | None = None
        for address in dict.fromkeys(candidates):
            try:
                client = self._admin.get(address)
                if client is None:
                    client = self._admin[address] = self.endpoint.node_client(
                        *address, retries=0, max_connections=1
                    )
                reply = await client.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
            except (rex.RedisError, OSError) as exc:
                error = exc
                continue
            self._install(reply, address)
            return
        assert error is not None
        raise error

    def _install(self, reply: Any, asked: Address) -> None:
        table: list[Node | None] = [None] * SLOTS
        replicas: dict[Address, list[Address]] = {}
        for entry in reply:
            start, end, primary, *followers = entry
            address = _entry_address(primary, asked)
            node = self.node(address)
            table[int(start) : int(end) + 1] = [node] * (int(end) - int(start) + 1)
            known = replicas.setdefault(address, [])
            known += [a for a in (_entry_address(f, asked) for f in followers) if a not in known]
        before = self._owners()
        self._slots, self.replicas, self.loaded = table, replicas, True
        if self._owners() != before:
            self.epoch += 1
            for callback in list(self.on_change):
                callback()

    def _owners(self) -> dict[Address, int]:
        counts: dict[Address, int] = {}
        for node in self._slots:
            if node is not None:
                counts[node.address] = counts.get(node.address, 0) + 1
        return counts

    # -- sending -------------------------------------------------------------------------
    async def run(self, node: Node, commands: list[Command]) -> list[Any]:
        """``commands`` (keys of ``node``'s slots, per the table) in one round trip to
        ``node``, redirections followed; replies in order."""
        asking = False
        for attempt in range(MAX_REDIRECTS + 1):
            try:
                if not asking:
                    return await node.run(commands)
                asked = [c for command in commands for c in (("ASKING",), command)]
                return (await node.run(asked))[1::2]
            except rex.AskError as exc:  # MovedError is an AskError: the order matters
                self.redirects += 1
                if isinstance(exc, rex.MovedError):
                    asking = False
                    self._moved(exc)
                    if len({slot_of(key_of(c)) for c in commands}) > 1:
                        # Slots of one request now live on several nodes: route again.
                        return await self.run_grouped(commands, _attempt=attempt + 1)
                else:
                    asking = True
                node = self.node(_error_address(exc))
            except (rex.TryAgainError, rex.ClusterDownError):
                self.redirects += 1
                self.refresh_soon()
                await asyncio.sleep(0.01 * (attempt + 1))
            except (rex.ConnectionError, rex.TimeoutError, OSError):
                self.refresh_soon()  # a replica may be taking over: learn of it
                raise
        raise rex.ClusterError(
            f"redis cluster: {MAX_REDIRECTS} redirections and the slots still move "
            f"(last node {node.where}); the cluster is resharding or failing over"
        )

    def _moved(self, exc: rex.AskError) -> None:
        """Correct one slot at once, and read the whole table again soon."""
        self._slots[exc.slot_id] = self.node(_error_address(exc))
        self.refresh_soon()

    async def send(self, command: Command) -> Any:
        """One command, on the node that serves its key."""
        if not self.loaded:
            await self.refresh()
        node = self.primary(slot_of(key_of(command)))
        return (await self.run(node, [command]))[0]

    async def run_grouped(self, commands: Sequence[Command], *, _attempt: int = 0) -> list[Any]:
        """Commands with keys anywhere: grouped by node, the groups sent in parallel (one
        round trip per node); replies in the order of ``commands``."""
        if _attempt > MAX_REDIRECTS:
            raise rex.ClusterError("redis cluster: the slots keep moving (resharding)")
        if not self.loaded:
            await self.refresh()
        groups: dict[Address, tuple[Node, list[int], list[Command]]] = {}
        for index, command in enumerate(commands):
            node = self.primary(slot_of(key_of(command)))
            group = groups.get(node.address)
            if group is None:
                group = groups[node.address] = (node, [], [])
            group[1].append(index)
            group[2].append(command)
        replies: list[Any] = [None] * len(commands)
        if len(groups) == 1:
            node, indexes, batch = next(iter(groups.values()))
            results = [await self.run(node, batch)]
            parts = [(indexes, results[0])]
        else:
            runs = [self.run(node, batch) for node, _, batch in groups.values()]
            results = await _gather(runs)
            parts = [(g[1], r) for g, r in zip(groups.values(), results, strict=True)]
        for indexes, result in parts:
            for index, reply in zip(indexes, result, strict=True):
                replies[index] = reply
        return replies

    async def ping_primaries(self) -> None:
        """PING every primary in parallel (raises the first failure)."""
        await _gather([self.run(node, [("PING",)]) for node in self.primaries])

    async def aclose(self) -> None:
        task, self._refresh = self._refresh, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        nodes, self.nodes = self.nodes, {}
        admin, self._admin = self._admin, {}
        self._slots, self.loaded = [None] * SLOTS, False
        for node in nodes.values():
            with contextlib.suppress(Exception):
                await node.aclose()
        for client in admin.values():
            with contextlib.suppress(Exception):
                await client.aclose()


async def _gather(runs: list[Any]) -> list[Any]:
    """Await every run; when several fail, the first error is raised after all finished
    (no task is left running or with an unretrieved error)."""
    results = await asyncio.gather(*runs, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _consume(task: asyncio.Task[None]) -> None:
    """A background refresh that failed: its error is the next caller's, not the loop's."""
    if not task.cancelled():
        task.exception()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_address(entry: Any, asked: Address) -> Address:
    """``(host, port)`` of a ``CLUSTER SLOTS`` node entry; an empty or ``?`` host is the
    node that answered."""
    host, port = _text(entry[0]), int(entry[1])
    return (asked[0] if host in ("", "?") else host), port


def _error_address(exc: rex.AskError) -> Address:
    host, port = exc.node_addr
    return str(host), int(port)
