"""``Tracker``: Redis's server-assisted invalidation (``CLIENT TRACKING``) for the memory tier.

One dedicated connection per stack, in RESP2: it asks for its own client id, turns
tracking on in broadcast mode for the stack's key prefix, redirected to itself, and
subscribes to ``__redis__:invalidate``::

    CLIENT ID                                       -> 42
    CLIENT TRACKING ON REDIRECT 42 BCAST PREFIX ns:env:
    SUBSCRIBE __redis__:invalidate

From then on Redis sends the name of every key under the prefix that anyone writes,
deletes, expires or evicts, and a null list for ``FLUSHALL`` / ``FLUSHDB``. The tracker
hands them to its ``InvalidationSink`` (prefix stripped). Tracking is state of this one
connection, so the connection is never silently re-established: when it drops (Redis
restarted, the connection was killed) or stops answering its PINGs (Redis paused), the
sink hears ``tracking_lost`` at once, and ``tracking_ready`` only after tracking is on
again on a new connection, with backoff in between. A server or ACL user that cannot
track (no ``CLIENT`` permission, Redis < 6) is reported once as ``tracking_unsupported``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Final

from redis import exceptions as rex
from redis.backoff import EqualJitterBackoff

from cachekit.backends.redis.errors import describe
from cachekit.protocol import InvalidationSink

logger = logging.getLogger("cachekit.coherence")

CHANNEL: Final = b"__redis__:invalidate"
PING_SECONDS: Final = 0.5
"""How often the tracking connection is pinged; two silent intervals mean it is lost."""
_BACKOFF: Final = EqualJitterBackoff(cap=2.0, base=0.05)
_CLOSE_SECONDS: Final = 2.0
"""How long ``aclose`` waits for the tracking task to stop (it is cut loose after)."""


def _unsupported(exc: BaseException) -> bool:
    """Whether a reply means this server or user can never track (not a passing failure)."""
    text = str(exc).lower()
    return isinstance(exc, rex.NoPermissionError) or any(
        marker in text
        for marker in ("noperm", "no permissions", "unknown command", "unknown subcommand")
    )


class Tracker:
    """Keeps one tracking connection alive and reports what it hears to ``sink``."""

    def __init__(
        self,
        make_connection: Callable[[], Any],
        prefix: str,
        sink: InvalidationSink,
        *,
        reply_timeout: float,
    ) -> None:
        self._make_connection = make_connection
        self.reply_timeout = reply_timeout
        self.prefix = prefix
        self.sink = sink
        self.state = "stopped"
        """``stopped``, ``connecting``, ``tracking``, ``lost`` or ``unsupported``."""
        self.reason: str | None = None
        self.run_id: str | None = None
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._connection: Any = None
        self._last_heard = 0.0
        self._stopping = False
        self._reset_reason: str | None = None

    @classmethod
    def on_pool(
        cls, pool: Any, prefix: str, sink: InvalidationSink, *, reply_timeout: float
    ) -> Tracker:
        """A tracker whose connections are made like ``pool``'s, over RESP2 (invalidations
        arrive as pub/sub replies)."""
        kwargs = {**pool.connection_kwargs, "protocol": 2}

        def make_connection() -> Any:
            return pool.connection_class(**kwargs)

        return cls(make_connection, prefix, sink, reply_timeout=reply_timeout)

    def launch(self) -> None:
        """Start tracking in the background (needs a running event loop); safe to repeat."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def start(self, timeout: float) -> bool:
        """Start tracking; True once it is on, False when it did not come up within
        ``timeout`` seconds (it keeps trying in the background) or cannot work here."""
        self.launch()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        return self.state == "tracking"

    async def aclose(self) -> None:
        """Stop tracking and close the connection; safe to call twice."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # A cancellation lost inside the client library must not hang the close: the
            # connection is cut too (a read still waiting then fails) and the wait is bounded.
            await self._drop()
            done, _ = await asyncio.wait([task], timeout=_CLOSE_SECONDS)
            if done:
                with contextlib.suppress(BaseException):
                    task.result()
            else:
                logger.warning("cachekit: tracking did not stop within %ss", _CLOSE_SECONDS)
        await self._drop()
        self.state = "stopped"
        self._stopping = False
        self._ready = asyncio.Event()

    @property
    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the server the tracking connection is on (None: none now)."""
        connection = self._connection
        host, port = getattr(connection, "host", None), getattr(connection, "port", None)
        if connection is None or not isinstance(host, str) or not isinstance(port, int):
            return None
        return host, port

    async def reset(self, reason: str) -> None:
        """Cut the tracking connection: the sink hears ``tracking_lost`` at once, and
        ``tracking_ready`` once tracking is on again on a new connection (a sentinel
        failover, a cluster node that changed role)."""
        if self.state == "tracking":
            self.reason = reason
            self._reset_reason = reason
            await self._drop()

    def describe(self) -> str:
        """The tracking state in words, for health reports."""
        if self.state == "tracking":
            return "tracking"
        return f"{self.state} ({self.reason})" if self.reason else self.state

    # -- the connection -------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while True:
            self.state = "connecting"
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                task = asyncio.current_task()
                if self._stopping or (task is not None and task.cancelling()):
                    # A library turned our cancellation into a connection error.
                    raise asyncio.CancelledError from exc
                reason, self._reset_reason = self._reset_reason or describe(exc), None
                await self._drop()
                if _unsupported(exc):
                    self.state, self.reason = "unsupported", reason
                    self._ready.set()
                    logger.warning(
                        "cachekit: Redis cannot track keys for the memory tier (%s): memory "
                        "entries now live at most memory.max_stale_seconds",
                        reason,
                    )
                    await self.sink.tracking_unsupported(reason)
                    return
                was_tracking = self.state == "tracking"
                self.state, self.reason = "lost", reason
                await self.sink.tracking_lost(reason)
                if was_tracking:
                    attempt = 0
                    logger.warning("cachekit: tracking connection lost (%s), reconnecting", reason)
            await asyncio.sleep(_BACKOFF.compute(attempt))
            attempt += 1
            self.reconnects += 1

    async def _listen(self) -> None:
        """Connect, turn tracking on, then read invalidations until the connection fails."""
        connection = self._make_connection()
        self._connection = connection
        await connection.connect()
        client_id = await self._call(connection, "CLIENT", "ID")
        info = await self._call(connection, "INFO", "server")
        self.run_id = _run_id(info)
        await self._call(
            connection,
            "CLIENT",
            "TRACKING",
            "ON",
            "REDIRECT",
            client_id,
            "BCAST",
            "PREFIX",
            self.prefix,
        )
        await connection.send_command("SUBSCRIBE", CHANNEL)
        await connection.read_response(timeout=math.inf)  # the subscribe confirmation
        self._last_heard = time.monotonic()
        self.state, self.reason = "tracking", None
        await self.sink.tracking_ready()
        self._ready.set()
        watchdog = asyncio.get_running_loop().create_task(self._watch(connection))
        try:
            while True:
                message = await connection.read_response(timeout=math.inf)
                self._last_heard = time.monotonic()
                await self._handle(message)
        finally:
            watchdog.cancel()
            await asyncio.wait([watchdog])  # never swallows a cancellation of this task
            if not watchdog.cancelled():
                watchdog.exception()  # retrieved: a failed PING write is no news here

    async def _call(self, connection: Any, *args: Any) -> Any:
        await connection.send_command(*args)
        async with asyncio.timeout(self.reply_timeout):
            reply = await connection.read_response(timeout=math.inf)
        if isinstance(reply, rex.ResponseError):
            raise reply
        return reply

    async def _watch(self, connection: Any) -> None:
        """PING the connection; when nothing has been heard for two intervals, cut it."""
        while True:
            await asyncio.sleep(PING_SECONDS)
            if time.monotonic() - self._last_heard > 2 * PING_SECONDS:
                self.reason = "no answer to PING"
                await connection.disconnect(nowait=True)
                return
            with contextlib.suppress(Exception):
                await connection.send_command("PING")

    async def _handle(self, message: Any) -> None:
        if (
            not isinstance(message, list)
            or len(message) < 3
            or message[0] not in (b"message", "message")
        ):
            return  # a pong, or a confirmation
        keys = message[2]
        if keys is None:
            await self.sink.invalidated(None)
            return
        cut = len(self.prefix)
        names = [
            k.decode("utf-8", "surrogateescape") if isinstance(k, bytes) else str(k) for k in keys
        ]
        await self.sink.invalidated([name[cut:] for name in names if name.startswith(self.prefix)])

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.disconnect(nowait=True)


def _run_id(info: Any) -> str | None:
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        if line.startswith("run_id:"):
            return line.split(":", 1)[1].strip()
    return None
