"""``TrackingGroup``: server-assisted invalidation on every primary of a Redis Cluster.

Each primary reports the changes of its own keys only, so a cluster needs one tracking
connection per primary (a ``Tracker`` each). The group reports to the stack's one
``InvalidationSink`` as if it were one stream:

- every invalidation a node reports goes through at once;
- ``tracking_ready`` only once every current primary's tracking is on;
- ``tracking_lost`` as soon as one of them is lost, or the set of primaries changes (a
  replica took over: what it held before cannot be vouched for), so the memory tier is
  emptied and bypassed until all are on again;
- ``tracking_unsupported`` when a node cannot track (the ACL refuses ``CLIENT``): the
  memory tier falls back to bounded staleness, as with one server.

A supervisor follows the cluster: while a node's tracking is not on it re-reads the slot
table (a failover shows there once the replica is promoted), then starts tracking on new
primaries and stops it on nodes that serve no slot any more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from cachekit.backends.redis.router import Address, ClusterRouter
from cachekit.backends.redis.tracking import PING_SECONDS, Tracker
from cachekit.config.urls import node_where
from cachekit.protocol import InvalidationSink

MakeTracker = Callable[[Address, InvalidationSink], Tracker]


class TrackingGroup:
    """Tracking on every primary ``router`` knows, reported to ``sink`` as one stream."""

    def __init__(self, sink: InvalidationSink, router: ClusterRouter, make: MakeTracker) -> None:
        self.sink = sink
        self.router = router
        self._make = make
        self.members: dict[Address, Tracker] = {}
        self.state = "stopped"
        """``stopped``, ``connecting``, ``tracking``, ``lost`` or ``unsupported``."""
        self.reason: str | None = None
        self._reported: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._settled = asyncio.Event()

    def launch(self) -> None:
        """Start tracking in the background (needs a running event loop); safe to repeat."""
        if self._task is None:
            self.state = "connecting"
            self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def start(self, timeout: float) -> bool:
        """Start; True once every primary tracks, False after ``timeout`` seconds (it
        keeps trying in the background) or when the nodes cannot track."""
        self.launch()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._settled.wait()
        return self.state == "tracking"

    async def aclose(self) -> None:
        """Stop tracking on every node; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        members, self.members = self.members, {}
        for tracker in members.values():
            await tracker.aclose()
        self.state, self._reported = "stopped", None
        self._settled = asyncio.Event()

    def describe(self) -> str:
        """The group's state in words: which nodes do not track, and why."""
        if self.state == "tracking":
            return "tracking"
        behind = [
            f"{node_where(*address)} {tracker.describe()}"
            for address, tracker in sorted(self.members.items())
            if tracker.state != "tracking"
        ]
        detail = "; ".join(behind) or self.reason or "no primary known yet"
        tracking = len(self.members) - len(behind)
        return f"{self.state} ({tracking}/{len(self.members)} nodes: {detail})"

    # -- following the cluster -----------------------------------------------------------
    async def _supervise(self) -> None:
        self.router.on_change.append(self._changed.set)
        try:
            while self.state != "unsupported":
                if not self.members or any(t.state != "tracking" for t in self.members.values()):
                    with contextlib.suppress(Exception):  # no node answers: try again later
                        await self.router.refresh()
                await self._reconcile()
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(PING_SECONDS):
                        await self._changed.wait()
        finally:
            with contextlib.suppress(ValueError):
                self.router.on_change.remove(self._changed.set)

    async def _reconcile(self) -> None:
        """Track exactly the current primaries."""
        wanted = {node.address for node in self.router.primaries}
        changed = None
        for address in [a for a in self.members if a not in wanted]:
            changed = f"{node_where(*address)} serves no slot any more"
            await self.members.pop(address).aclose()
        for address in sorted(wanted - set(self.members)):
            if self._reported is not None:
                changed = f"{node_where(*address)} became a primary"
            tracker = self._make(address, _Member(self, address))
            self.members[address] = tracker
            tracker.launch()
        await self.update(changed)

    async def update(self, reason: str | None = None) -> None:
        """Report the group's state to the sink when it changed."""
        if self.state == "unsupported":
            return
        members = self.members.values()
        ready = bool(self.members) and all(t.state == "tracking" for t in members)
        if ready:
            self.state, self.reason = "tracking", None
            if self._reported != "ready":
                self._reported = "ready"
                await self.sink.tracking_ready()
                self._settled.set()
            return
        self.state = "connecting" if self._reported is None else "lost"
        if reason is not None:
            self.reason = reason
        if self._reported == "ready":
            self._reported = "lost"
            await self.sink.tracking_lost(reason or "a cluster node's tracking is not on")

    async def unsupported(self, reason: str) -> None:
        """A node cannot track: the memory tier falls back to bounded staleness."""
        if self.state == "unsupported":
            return
        self.state, self.reason, self._reported = "unsupported", reason, "unsupported"
        self._changed.set()
        self._settled.set()
        await self.sink.tracking_unsupported(reason)


class _Member:
    """The sink of one node's tracker: forwards to its group."""

    def __init__(self, group: TrackingGroup, address: Address) -> None:
        self.group = group
        self.where = node_where(*address)

    async def invalidated(self, keys: Sequence[str] | None) -> None:
        await self.group.sink.invalidated(keys)

    async def tracking_ready(self) -> None:
        await self.group.update()

    async def tracking_lost(self, reason: str) -> None:
        self.group._changed.set()  # refresh the slot table: a replica may be taking over
        await self.group.update(f"{self.where}: {reason}")

    async def tracking_unsupported(self, reason: str) -> None:
        await self.group.unsupported(f"{self.where}: {reason}")
