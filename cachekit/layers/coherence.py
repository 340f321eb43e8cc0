"""``Coherence``: what keeps a memory tier in front of a shared Redis from serving stale data.

Several workers and pods share one Redis; each has its own memory tier. Three rules keep
those copies honest, by ``memory.coherence``:

``tracking``
    Redis reports every change of a key under the stack's prefix, whoever made it
    (``CLIENT TRACKING``, see ``cachekit.backends.redis.tracking``), and the copy is
    dropped as the report arrives. When the report stream drops or goes silent, Redis
    restarts, or someone flushes it, nothing can be vouched for: the memory tier is
    emptied and not consulted until tracking is on again. A server or ACL user that
    cannot track falls back to ``bounded``, saying so.
``bounded``
    Copies live at most ``memory.max_stale_seconds``.
``local``
    Copies live as long as their TTL: only for one process that owns its Redis.

In every mode a read from Redis that began before a change of its key (a write, a delete,
a report, a flush, in this process or another) does not put its result into memory:
each read takes a ticket, each change is numbered, and a copy is kept only if nothing
changed its key since the ticket was taken.

The class is also how waiting for another process is done: ``wait_for(key)`` returns when
a change of ``key`` is reported (the loader of a ``get_or_set`` lease wrote it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Literal

from cachekit.protocol import LocalTier, RemoteTier, Tracking

logger = logging.getLogger("cachekit.coherence")

Mode = Literal["tracking", "bounded", "local"]
_PRUNE_AT: Final = 10_000
_ECHOES_KEPT: Final = 1_000
_LAGS_KEPT: Final = 1_024
"""Numbered changes kept before the ones no read in flight can need are pruned."""


class Coherence:
    """The promotion rule and the invalidation sink of one stack's memory tier.

    ``near`` is the memory tier (None for a Redis-only stack, where only ``wait_for`` is
    used). ``mode`` and ``max_stale`` are ``memory.coherence`` and
    ``memory.max_stale_seconds``.
    """

    def __init__(self, near: LocalTier | None, mode: Mode, *, max_stale: float) -> None:
        self.near = near
        self.mode: Mode = mode
        self.configured: Mode = mode
        self.max_stale = max_stale
        self.trusted = mode != "tracking"
        """Whether the memory tier may answer reads (tracking: only while it is on)."""
        self.tracking: Tracking | None = None
        self.keep: Callable[[], Iterable[str]] = tuple
        """The keys a flush keeps (writes made during an outage, not yet settled with Redis)."""
        self.invalidations = 0
        self.refused = 0
        """Values read from Redis kept out of memory because their key changed meanwhile."""
        self.flushes: Counter[str] = Counter()
        self._seq = 0
        self._flush_seq = 0
        self._changed: dict[str, int] = {}
        self._reading: Counter[int] = Counter()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._echoes: OrderedDict[str, float] = OrderedDict()
        self.lags: deque[float] = deque(maxlen=_LAGS_KEPT)
        """Recent seconds from a write's reply to Redis's report of it (tracking)."""
        self.on_lag: Callable[[float], None] | None = None

    # -- the promotion rule ----------------------------------------------------------
    def ticket(self) -> int:
        """Take a ticket before reading Redis; hand it back to ``admit``."""
        seq = self._seq
        self._reading[seq] += 1
        return seq

    def admit(self, keys: Sequence[str], ticket: int) -> list[str]:
        """Hand back ``ticket``; the keys whose value read under it may go into memory
        (none when memory is not trusted, or a flush came after the ticket)."""
        if not self.trusted or self._flush_seq > ticket:
            admitted: list[str] = []
        else:
            changed = self._changed
            admitted = [key for key in keys if changed.get(key, -1) <= ticket]
        self.refused += len(keys) - len(admitted)
        reading = self._reading
        reading[ticket] -= 1
        if not reading[ticket]:
            del reading[ticket]
            if not reading:
                self._changed.clear()  # no read in flight can need them
        if len(self._changed) > _PRUNE_AT:
            self._prune()
        return admitted

    def ttl(self, seconds: float | None) -> float | None:
        """The TTL a copy gets in memory: ``seconds``, capped in ``bounded`` mode."""
        if self.mode != "bounded":
            return seconds
        return self.max_stale if seconds is None else min(seconds, self.max_stale)

    def changed(self, keys: Iterable[str]) -> None:
        """``keys`` changed here (a write or delete of this process is under way)."""
        self._seq += 1
        seq, changed = self._seq, self._changed
        for key in keys:
            changed[key] = seq

    def wrote(self, keys: Iterable[str]) -> None:
        """This process's write of ``keys`` was answered: time until Redis reports it."""
        if self.tracking is None or not self.trusted:
            return
        now, echoes = time.monotonic(), self._echoes
        for key in keys:
            echoes[key] = now
            echoes.move_to_end(key)
        while len(echoes) > _ECHOES_KEPT:
            echoes.popitem(last=False)

    def lag_percentiles(self) -> tuple[float, float] | None:
        """``(p50, p99)`` of the recent report lags in seconds, or None before the first."""
        if not self.lags:
            return None
        ordered = sorted(self.lags)
        return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]

    def flushed(self) -> None:
        """Everything may have changed (a clear, a pattern delete): no read under an
        earlier ticket is promoted."""
        self._seq += 1
        self._flush_seq = self._seq

    def _prune(self) -> None:
        oldest = min(self._reading, default=self._seq)
        self._changed = {k: s for k, s in self._changed.items() if s > oldest}

    # -- the invalidation sink -------------------------------------------------------
    async def invalidated(self, keys: Sequence[str] | None) -> None:
        """Redis reports a change of ``keys`` (None: a flush): drop the copies."""
        self.invalidations += 1
        if keys is None:
            await self._flush("flushed in redis")
            self._wake_all()
            return
        self.changed(keys)
        echoes = self._echoes
        if echoes:
            now = time.monotonic()
            for key in keys:
                sent = echoes.pop(key, None)
                if sent is not None:
                    self.lags.append(now - sent)
                    if self.on_lag is not None:
                        self.on_lag(now - sent)
        near = self.near
        if near is not None:
            for key in keys:
                await near.delete(key)
        waiters = self._waiters
        for key in keys:
            for future in waiters.pop(key, ()):
                if not future.done():
                    future.set_result(None)

    async def tracking_ready(self) -> None:
        """Tracking is on: what memory held before cannot be vouched for, the rest can."""
        await self._flush("tracking started")
        self.trusted = True

    async def tracking_lost(self, reason: str) -> None:
        """Changes may have been missed: empty the tier and bypass it until tracking is back."""
        self.trusted = False
        await self._flush("tracking lost")
        self._wake_all()

    async def tracking_unsupported(self, reason: str) -> None:
        """No tracking here: copies live at most ``max_stale`` seconds from now on."""
        await self._flush("tracking unsupported")
        self.mode = "bounded"
        self.trusted = True
        self._wake_all()

    async def _flush(self, reason: str) -> None:
        self.flushed()
        near = self.near
        if near is None:
            return
        self.flushes[reason] += 1
        kept = []
        for key in self.keep():
            value = await near.get(key)
            if value is not None:
                kept.append((key, value, await near.get_ttl(key)))
        await near.clear()
        for key, value, ttl in kept:
            await near.set(key, value, ttl)

    # -- waiting for another process -------------------------------------------------
    async def wait_for(self, key: str, timeout: float) -> bool:
        """Wait until a change of ``key`` is reported, at most ``timeout`` seconds; False
        at once when nothing reports changes (no tracking), or on timeout."""
        if self.tracking is None or self.tracking.state != "tracking":
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(future)
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            return False
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._waiters[key]
        return True

    def _wake_all(self) -> None:
        waiters, self._waiters = self._waiters, {}
        for futures in waiters.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)

    # -- lifecycle ---------------------------------------------------------------------
    def launch(self, remote: RemoteTier) -> None:
        """Start tracking ``remote`` in the background (``tracking`` mode); safe to repeat.
        Until tracking is on, the memory tier is bypassed."""
        if self.configured == "tracking" and self.tracking is None:
            self.tracking = remote.tracker(self)
            self.tracking.launch()

    async def start(self, remote: RemoteTier, timeout: float) -> None:
        """``launch``, then wait up to ``timeout`` seconds for tracking to be on (it keeps
        trying in the background when it is not)."""
        self.launch(remote)
        if self.tracking is not None:
            await self.tracking.start(timeout)

    async def aclose(self) -> None:
        """Stop tracking; the tier is bypassed until it starts again."""
        tracking, self.tracking = self.tracking, None
        if tracking is not None:
            with contextlib.suppress(Exception):
                await tracking.aclose()
        if self.configured == "tracking":
            self.trusted = False
            self.mode = "tracking"
        self._wake_all()

    def describe(self) -> str:
        """The coherence state in words (health reports, ``cachekit check``)."""
        if self.mode == "bounded":
            why = " (tracking unsupported)" if self.configured == "tracking" else ""
            return f"bounded: memory entries live at most {self.max_stale:g}s{why}"
        if self.mode == "local":
            return "local: memory entries live their TTL (one process only)"
        state = self.tracking.describe() if self.tracking is not None else "not started"
        if self.trusted:
            return "tracking"
        return f"tracking {state}: memory tier bypassed"
