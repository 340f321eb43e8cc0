"""``ResilientCache``: keeps a stack serving when Redis fails, hangs or refuses.

    ResilientCache(TieredCache(memory, redis))  or  ResilientCache(RedisBackend)

Built from the remote tier and the memory tier in front of it (or a standby memory cache
for a Redis-only stack), the resilience settings and the time budget of the stack.
Every call that needs Redis runs under ``asyncio.timeout(budget.call)``: the
socket timeout alone bounds neither pool waits, retries nor reconnects, and a paused
server keeps its connections open. A call that fails or times out is answered by the
memory tier instead (reads: what memory holds, else a miss; writes: into memory) and
counted by the ``CircuitBreaker``. Once the circuit opens, calls skip Redis at once and a
background task probes Redis (a short-lived write, no retries) with backoff; the first
probe that succeeds settles the outage (``OutageJournal``) and closes the circuit.

In strict mode (``redis.fail_on_connection_error``) calls raise ``CacheUnavailableError``
(or a subclass) instead of degrading; an open circuit makes them raise at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from redis.backoff import AbstractBackoff

from cachekit.config.model import Budget, RefreshConfig, ResilienceConfig
from cachekit.errors import CacheTimeoutError, CacheUnavailableError
from cachekit.health import HealthReport, StateChange, Status, note_degraded_read
from cachekit.layers.coherence import Coherence
from cachekit.layers.lease import Leases
from cachekit.layers.refresh import Refresher
from cachekit.layers.resilience.circuit import CircuitBreaker, CircuitState
from cachekit.layers.resilience.counts import StackCounts
from cachekit.layers.resilience.outage import OutageJournal
from cachekit.layers.resilience.recovery import Recovery
from cachekit.layers.tiered import TieredCache
from cachekit.layers.wrapper import CacheWrapper
from cachekit.protocol import TTL, UNSET, Loader, LocalTier, RemoteTier, check_ttl

T = TypeVar("T")

logger = logging.getLogger("cachekit.resilience")

_YIELD_EVERY: Final = 16
"""Degraded calls between two yields to the event loop."""


class ResilientCache(CacheWrapper):
    """Serves from memory while Redis fails; bounds every call; recovers by itself.

    ``remote`` is the Redis tier. With ``memory`` (the memory tier) the stack is
    ``TieredCache(memory, remote)`` and memory serves degraded calls; without it,
    ``standby`` (a memory cache consulted only while Redis fails) serves them. ``strict``
    (``redis.fail_on_connection_error``) makes failing calls raise instead. ``clock`` and
    ``backoff`` go to the circuit breaker.
    """

    def __init__(
        self,
        remote: RemoteTier,
        settings: ResilienceConfig,
        budget: Budget,
        *,
        memory: LocalTier | None = None,
        standby: LocalTier | None = None,
        coherence: Coherence | None = None,
        lease_seconds: float = 0.0,
        refresh: RefreshConfig | None = None,
        strict: bool = False,
        clock: Callable[[], float] = time.monotonic,
        backoff: AbstractBackoff | None = None,
    ) -> None:
        if (memory is None) == (standby is None):
            raise TypeError("ResilientCache needs the memory tier or a standby cache, not both")
        self.coherence = coherence or Coherence(memory, "local", max_stale=0.0)
        self._tiered = (
            TieredCache(memory, remote, coherence=self.coherence) if memory is not None else None
        )
        super().__init__(self._tiered or remote)
        self.remote = remote
        self.standby = memory is None
        near = memory if memory is not None else standby
        assert near is not None
        self.memory: LocalTier = near
        """Serves degraded calls: the memory tier, or the standby cache of a Redis-only stack."""
        self.strict = strict
        self.timeout = budget.call
        self.probe_timeout = budget.connect
        self.bulk_timeout = budget.bulk
        self.breaker = CircuitBreaker.from_config(settings, clock=clock)
        if backoff is not None:
            self.breaker.backoff = backoff
        self.breaker.on_change = self._circuit_changed
        self.journal = OutageJournal(
            near, remote, recovery=settings.recovery, timeout=self.bulk_timeout
        )
        # A flush of the memory tier keeps what the outage wrote until it is settled.
        self.coherence.keep = self.journal.dirty_keys
        read = self._tiered.get_far if self._tiered is not None else remote.get
        self.leases = (
            Leases(remote, self.coherence, read, seconds=lease_seconds, timeout=self.timeout)
            if lease_seconds > 0
            else None
        )
        self.refresher = Refresher(refresh) if refresh is not None else None
        self.counts = StackCounts(self.coherence, self.leases, self.refresher)
        self._listeners: list[Callable[[StateChange], object]] = []
        self._status: Status = "ok"
        self.recovery = Recovery(self.breaker, self.journal, remote, self.probe_timeout)
        self._closed = False
        self._degraded_calls = 0
        self._bounded: bool | None = None

    # -- state --------------------------------------------------------------------------
    @property
    def state(self) -> Status:
        """``ok``, ``degraded`` (serving from memory) or ``unavailable`` (strict mode)."""
        return self._status

    def on_state_change(self, callback: Callable[[StateChange], object]) -> Callable[[], None]:
        """Call ``callback(StateChange)`` on every status change; returns the unsubscribe.

        Callbacks run inline on the event loop: keep them short. Their errors are logged.
        """
        self._listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    async def health(self) -> HealthReport:
        """``ok`` after a successful probe (a write without retries); otherwise
        ``degraded`` (``unavailable`` in strict mode) with the reasons. While the circuit
        is open it answers at once, from the breaker's state."""
        if self.breaker.closed and not self._closed:
            reason = await self.remote.probe(self.probe_timeout)
            if reason is None:
                self._succeeded()
            else:
                self.breaker.trip(reason)
        return self._report()

    def _report(self) -> HealthReport:
        breaker = self.breaker
        memory = "standby" if self.standby and breaker.closed else "ok"
        coherence = {} if self.standby else {"coherence": self.coherence.describe()}
        if breaker.closed:
            return HealthReport(status="ok", tiers={"memory": memory, "redis": "ok", **coherence})
        reasons = [f"redis failing for {breaker.open_for():.1f}s: {breaker.last_error}"]
        if breaker.state is CircuitState.OPEN:
            reasons.append(f"next probe in {breaker.seconds_until_probe():.1f}s")
        else:
            reasons.append("probing redis")
        reasons.append(
            "calls raise CacheUnavailableError" if self.strict else "serving from the memory tier"
        )
        summary = self.journal.summary()
        if summary:
            reasons.append(summary)
        if self.journal.lost_invalidations:
            lost = self.journal.lost_invalidations
            reasons.append(f"{lost} invalidations could not be kept for replay")
        status: Status = "unavailable" if self.strict else "degraded"
        return HealthReport(
            status=status,
            reasons=tuple(reasons),
            tiers={"memory": memory, "redis": "failing", **coherence},
        )

    # -- lifecycle ----------------------------------------------------------------------
    async def connect(self) -> bool:
        """Connect within ``connect_timeout + socket_timeout``. When Redis is not there:
        False and degraded (probing starts), or ``CacheUnavailableError`` in strict mode."""
        self._closed = False
        limit = self.probe_timeout
        try:
            async with asyncio.timeout(limit):
                await self.inner.connect()
        except CacheUnavailableError as exc:
            error: CacheUnavailableError = exc
        except TimeoutError:
            error = CacheTimeoutError(f"redis connect: no answer within {limit:g}s")
        else:
            self._succeeded()
            await self.coherence.start(self.remote, limit)
            if not self.standby:
                logger.info("cachekit: memory tier coherence: %s", self.coherence.describe())
            return True
        self.breaker.trip(str(error))
        await self.coherence.start(self.remote, 0)  # tracking comes up with Redis
        if self.strict:
            raise error
        return False

    async def aclose(self) -> None:
        """Stop probing and settling, then close the stack."""
        self._closed = True
        await self.recovery.aclose()
        if self.refresher is not None:
            await self.refresher.aclose()
        await self.coherence.aclose()
        await self.inner.aclose()
        if self.standby:
            await self.memory.aclose()

    # -- the protocol -------------------------------------------------------------------
    # get and set are the hot paths: no closures, and no per-call timer when the Redis
    # tier bounds its own commands (auto-pipelined: one deadline per event-loop tick).
    async def get(self, key: str, *, type: Any = None) -> Any:
        if not self.breaker.closed:
            return await self._degraded_get(key, type, await self._skip("GET"))
        tiered = self._tiered
        if tiered is not None:
            if self.coherence.tracking is None and not self._closed:
                self.coherence.launch(self.remote)  # a stack used without connect()
            # A memory hit needs no Redis and no deadline: answer it straight away.
            value = await tiered.get_near(key, type=type)
            if value is not None:
                return value
            call = tiered.get_far(key, type=type)
        else:
            call = self.inner.get(key, type=type)
        try:
            if self._self_bounded():
                value = await call
            else:
                async with asyncio.timeout(self.timeout):
                    value = await call
        except (CacheUnavailableError, TimeoutError) as exc:
            return await self._degraded_get(key, type, self._failed("GET", exc))
        self._succeeded()
        return value

    async def _degraded_get(self, key: str, type: Any, reason: str) -> Any:
        note_degraded_read(reason)
        return await self.memory.get(key, type=type)

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        if self.breaker.closed:
            call = self.inner.set(key, value, seconds)
            try:
                if self._self_bounded():
                    await call
                else:
                    async with asyncio.timeout(self.timeout):
                        await call
            except (CacheUnavailableError, TimeoutError) as exc:
                self._failed("SET", exc)
            else:
                self._succeeded()
                return
        else:
            await self._skip("SET")
        await self.memory.set(key, value, seconds)
        await self.journal.wrote((key,))

    async def delete(self, key: str) -> bool:
        async def degraded(reason: str) -> bool:
            self.journal.deleted((key,))
            return await self.memory.delete(key)

        return await self._run("DELETE", lambda: self.inner.delete(key), degraded)

    async def exists(self, key: str) -> bool:
        async def degraded(reason: str) -> bool:
            return await self.memory.exists(key)

        return await self._run(
            "EXISTS",
            lambda: self.inner.exists(key),
            degraded,
            asks_redis=not await self._in_memory((key,)),
        )

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        wanted = list(keys)

        async def degraded(reason: str) -> dict[str, Any]:
            note_degraded_read(reason)
            return await self.memory.get_many(wanted, type=type)

        return await self._run(
            "MGET",
            lambda: self.inner.get_many(wanted, type=type),
            degraded,
            asks_redis=not await self._in_memory(wanted),
        )

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        seconds = check_ttl(ttl, self.default_ttl)
        batch = dict(items)

        async def degraded(reason: str) -> None:
            await self.memory.set_many(batch, seconds)
            await self.journal.wrote(batch)

        await self._run("SET", lambda: self.inner.set_many(batch, seconds), degraded)

    async def delete_many(self, keys: Iterable[str]) -> int:
        wanted = list(keys)

        async def degraded(reason: str) -> int:
            self.journal.deleted(wanted)
            return await self.memory.delete_many(wanted)

        return await self._run("DELETE", lambda: self.inner.delete_many(wanted), degraded)

    async def delete_matching(self, pattern: str) -> int:
        async def degraded(reason: str) -> int:
            self.journal.matched(pattern)
            return await self.memory.delete_matching(pattern)

        return await self._run(
            "SCAN", lambda: self.inner.delete_matching(pattern), degraded, bulk=True
        )

    async def clear(self) -> None:
        async def degraded(reason: str) -> None:
            self.journal.cleared()
            await self.memory.clear()

        await self._run("SCAN", self.inner.clear, degraded, bulk=True)

    # -- get_or_set: refresh policies, one loader across processes ------------------------
    async def get_or_set(
        self, key: str, loader: Loader, ttl: TTL = UNSET, *, type: Any = None
    ) -> Any:
        """The cached value, or the loader's; ``[refresh]`` may serve an expired value while
        one task reloads it, or reload before expiry (see ``cachekit.layers.refresh``)."""
        refresher = self.refresher
        policy = refresher.policy(key) if refresher is not None else None
        if refresher is None or policy is None:
            return await super().get_or_set(key, loader, ttl, type=type)
        seconds = check_ttl(ttl, self.default_ttl)
        return await refresher.get_or_set(
            key,
            loader,
            seconds,
            policy,
            read=self._read_with_ttl,
            load_once=self._load_once,
            type=type,
        )

    async def _read_with_ttl(self, key: str, type: Any) -> tuple[Any, float | None]:
        """The value under ``key`` and its remaining seconds, from memory or Redis."""
        tiered = self._tiered if self.breaker.closed else None
        if tiered is not None:
            value = await tiered.get_near(key, type=type)
            if value is not None:
                return value, await self.memory.get_ttl(key)

        async def degraded(reason: str) -> tuple[Any, float | None]:
            note_degraded_read(reason)
            value = await self.memory.get(key, type=type)
            return value, await self.memory.get_ttl(key) if value is not None else None

        if tiered is not None:
            return await self._run("GET", lambda: tiered.get_far_with_ttl(key, type=type), degraded)
        return await self._run("GET", lambda: self.remote.get_with_ttl(key, type=type), degraded)

    async def _claim(self, key: str) -> tuple[Any, Any]:
        if self.leases is None or not self.breaker.closed:
            return None, None
        return await self.leases.claim(key)

    async def _release(self, key: str, claim: Any) -> None:
        if self.leases is not None:
            await self.leases.release(key, claim)

    # -- the one place calls meet Redis failures ----------------------------------------
    async def _run(
        self,
        op: str,
        remote: Callable[[], Awaitable[T]],
        degraded: Callable[[str], Awaitable[T]],
        *,
        bulk: bool = False,
        asks_redis: bool = True,
    ) -> T:
        """``remote()`` within the time bound, or ``degraded(reason)`` when Redis fails.

        ``asks_redis`` False: the memory tier will answer, so a success says nothing
        about Redis (a failure still counts: a value of the wrong type goes to Redis).
        """
        if not self.breaker.closed:
            return await degraded(await self._skip(op))
        try:
            if bulk or not self._self_bounded():
                async with asyncio.timeout(self.bulk_timeout if bulk else self.timeout):
                    result = await remote()
            else:
                result = await remote()
        except (CacheUnavailableError, TimeoutError) as exc:
            return await degraded(self._failed(op, exc, bulk=bulk))
        if asks_redis:
            self._succeeded()
        return result

    async def _skip(self, op: str) -> str:
        """Why a call skips Redis while the circuit is open (strict mode: raise it).

        Degraded calls never wait on I/O: they yield now and then, so a tight loop of them
        cannot starve the event loop (the prober included).
        """
        self._degraded_calls += 1
        if not self._degraded_calls % _YIELD_EVERY:
            await asyncio.sleep(0)
        reason = f"circuit open: {self.breaker.last_error}"
        if self.strict:
            raise CacheUnavailableError(f"redis {op} skipped, {reason}")
        return reason

    def _failed(self, op: str, exc: BaseException, *, bulk: bool = False) -> str:
        """Count a failed call; the reason to serve it degraded (strict mode: raise)."""
        if isinstance(exc, CacheUnavailableError):
            error: CacheUnavailableError = exc
        else:
            limit = self.bulk_timeout if bulk else self.timeout
            error = CacheTimeoutError(f"redis {op}: no answer within {limit:g}s")
            error.__cause__ = exc
        self.breaker.record_failure(str(error))
        if self.strict:
            raise error
        return str(error)

    def _self_bounded(self) -> bool:
        """Whether the Redis tier bounds its own commands within the call budget."""
        bounded = self._bounded
        if bounded is None:
            deadline = self.remote.call_deadline
            bounded = self._bounded = deadline is not None and deadline <= self.timeout
        return bounded

    async def _in_memory(self, keys: Iterable[str]) -> bool:
        """Whether the memory tier in front of Redis holds every key (reads stop there)."""
        if self.standby or not self.breaker.closed:
            return False
        exists = self.memory.exists
        for key in keys:
            if not await exists(key):
                return False
        return True

    def _succeeded(self) -> None:
        self.breaker.record_success()
        if self.breaker.closed and self.journal.pending and not self._closed:
            self.recovery.settle_soon()

    # -- background tasks ---------------------------------------------------------------
    def _circuit_changed(self, previous: CircuitState, current: CircuitState, reason: str) -> None:
        if current is CircuitState.OPEN and not self._closed:
            self.recovery.probe_until_closed()
        if current is CircuitState.CLOSED:
            status: Status = "ok"
        else:
            status = "unavailable" if self.strict else "degraded"
        if status == self._status:
            return
        change = StateChange(previous=self._status, current=status, reason=reason)
        self._status = status
        if status == "ok":
            logger.info("cachekit: redis is back, cache ok again (%s)", reason)
        else:
            logger.warning("cachekit: redis failing, cache %s: %s", status, reason)
        for callback in list(self._listeners):
            try:
                callback(change)
            except Exception:
                logger.exception("cachekit: a state change callback failed")
