"""``Instrumented``: metrics, spans and alerts around a cache stack.

    Instrumented(ResilientCache(TieredCache(InMemoryCache, RedisBackend)))

Every call is timed and counted by operation, result (``hit``/``miss`` for lookups,
``ok`` otherwise, ``error`` when it raised) and the tier that answered it: ``redis``
when a Redis round trip succeeded during the call, else ``memory``. The counts are plain
integers that observable instruments read at export time (``cachekit.telemetry.metrics``);
durations are sampled into the histogram (``cachekit.telemetry.timings``).

While tracing is live each call runs in a span (``cachekit.get``, ``cachekit.set``,
``cachekit.get_or_set`` with the loader in a ``cachekit.load`` child, ...) carrying
``cache.operation``, ``cache.tier`` and, for lookups, ``cache.hit``; the Redis commands
below it are CLIENT spans (``cachekit.telemetry.commands``). Without a tracer provider,
or with sampling off, no span object is created at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final, cast

from cachekit.config.model import MonitoringConfig
from cachekit.health import observe_read
from cachekit.layers.wrapper import CacheWrapper
from cachekit.protocol import (
    TTL,
    UNSET,
    CacheInterface,
    Loader,
    LocalTier,
    RemoteTier,
    call_loader,
    check_ttl,
)
from cachekit.telemetry.commands import CommandTelemetry
from cachekit.telemetry.env import OtelEnv
from cachekit.telemetry.metrics import (
    CLEAR,
    DELETE,
    DELETE_MANY,
    ERROR,
    EXISTS,
    GET,
    GET_MANY,
    GET_OR_SET,
    HIT,
    INVALIDATE,
    MEMORY,
    MISS,
    OK,
    OPERATIONS,
    SET,
    SET_MANY,
    TIERS,
    CoherenceCounts,
    Recorder,
    TierCounts,
    instruments_for,
    slot,
)
from cachekit.telemetry.monitor import CachePerformanceMonitor, default_config
from cachekit.telemetry.otel import Telemetry, Tracing, alert_log_sink, build_telemetry
from cachekit.telemetry.timings import Timings

if TYPE_CHECKING:
    from cachekit.health import StateChange

logger = logging.getLogger("cachekit.telemetry")

_SET_MEMORY: Final = SET * 2 + MEMORY
_SET_OK: Final = slot(SET, OK, MEMORY)
_SET_ERROR: Final = slot(SET, ERROR, MEMORY)
_GOS_MEMORY: Final = GET_OR_SET * 2 + MEMORY
_GOS_HIT: Final = slot(GET_OR_SET, HIT, MEMORY)


class Instrumented(CacheWrapper):
    """Counts, times and traces every call to ``inner``; owns the stack's monitor.

    ``telemetry`` (default: the providers ``monitoring.providers`` picks with no
    ``OTEL_*`` variables) says where metrics, spans and alert records go;
    ``rebuild_telemetry`` makes a fresh one when the stack reconnects after ``aclose``
    shut cachekit's own providers down.
    """

    def __init__(
        self,
        inner: CacheInterface,
        telemetry: Telemetry | None = None,
        *,
        settings: MonitoringConfig | None = None,
        namespace: str = "cachekit",
        memory: LocalTier | None = None,
        remote: RemoteTier | None = None,
        counts: CoherenceCounts | None = None,
        monitor: CachePerformanceMonitor | None = None,
        rebuild_telemetry: Callable[[], Telemetry] | None = None,
    ) -> None:
        super().__init__(inner)
        settings = settings or default_config()
        self.settings = settings
        if monitor is None:
            monitor = CachePerformanceMonitor(settings, recorder=Recorder(namespace))
        self._monitor = monitor
        self.recorder = recorder = monitor.recorder
        recorder.memory = memory
        recorder.coherence = counts
        self._remote = remote
        self._rebuild = rebuild_telemetry or (lambda: build_telemetry(settings, OtelEnv()))
        self._timings = Timings(recorder, monitor, settings, remote=remote is not None)
        self._done = self._timings.done
        self._ticker: asyncio.Task[None] | None = None
        # A memory-only stack's get may skip this layer: see _choose_paths.
        self._memory = memory
        self._memory_only = inner if cast(object, memory) is inner else None
        self._memory_get = inner.get
        self._lean = False
        self._tier_base = [0, 0]
        self._counts = recorder.counts
        self._bind(telemetry or self._rebuild())
        self._unsubscribe = inner.on_state_change(self._state_changed)
        # Through the attribute: a reconnect may bind a fresh pipeline's sink.
        monitor.add_alert_callback(lambda alert: self._emit_alert(alert))

    @property
    def monitor(self) -> CachePerformanceMonitor:
        """The stack's analytics and alerts."""
        return self._monitor

    def __repr__(self) -> str:
        return f"Instrumented({self.inner!r})"

    # -- wiring -------------------------------------------------------------------------
    def _bind(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self._tracing = Tracing(telemetry)
        self._instruments = instruments_for(telemetry.meter_provider, telemetry.meter())
        self._instruments.add(self.recorder)
        self._monitor.bind(self._instruments, telemetry.force_flush)
        self._timings.record = self._instruments.duration.record
        self._emit_alert = alert_log_sink(telemetry, self.recorder.namespace)
        self._timings.live = telemetry.metrics_live()
        self._observe()
        self._choose_paths()

    def _observe(self) -> None:
        """Count and trace the remote tier's commands, measure its compression and the lag
        of Redis's reports of this process's writes."""
        counts = self.recorder.coherence
        if counts is not None:
            lag, attributes = self._instruments.lag, self.recorder.base_attributes
            counts.observe_lag(lambda seconds: lag.record(seconds, attributes))
        remote = self._remote
        if remote is not None:
            remote.observe(CommandTelemetry(self.recorder, self._tracing, url=remote.address))
            remote.observe_compression(self._monitor.record_compression_ratio)

    def _unobserve(self) -> None:
        if self.recorder.coherence is not None:
            self.recorder.coherence.observe_lag(None)
        remote = self._remote
        if remote is not None:
            remote.observe(None)
            remote.observe_compression(None)

    def _refresh(self) -> None:
        """Re-read the providers: the application may have installed them since."""
        self._tracing.refresh()
        self._timings.live = self.telemetry.metrics_live()
        self._choose_paths()

    def _choose_paths(self) -> None:
        """On a memory-only stack with tracing off, bind ``get`` straight to the memory
        tier (no wrapper frame, no timing: a dict lookup costs less than measuring it) and
        take its hit and miss counts from the tier's own counters."""
        memory = self._memory_only
        lean = memory is not None and self._tracing.off
        if lean == self._lean or memory is None:
            return
        rec = self.recorder
        if lean:
            assert self._memory is not None
            rec.tier = TierCounts(self._memory)
            self._tier_base = rec.tier.base
            setattr(self, "get", memory.get)  # noqa: B010 - an instance attribute on purpose
        else:
            assert rec.tier is not None
            hits, misses = rec.tier.read()
            rec.counts[slot(GET, HIT, MEMORY)] += hits
            rec.counts[slot(GET, MISS, MEMORY)] += misses
            rec.tier = None
            del self.__dict__["get"]
        self._lean = lean

    def _state_changed(self, change: StateChange) -> None:
        self._monitor.set_degraded(change.current != "ok")

    # -- lifecycle ----------------------------------------------------------------------
    async def connect(self) -> bool:
        """Connect the stack and start evaluating the windowed alert rules."""
        if self.telemetry.closed:
            self._bind(self._rebuild())
        else:
            self._observe()  # after aclose
        self._refresh()
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
        return await self.inner.connect()

    async def aclose(self) -> None:
        """Stop the alert task, close the stack, flush and stop cachekit's own providers."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        await self.inner.aclose()
        self._unobserve()
        if self.telemetry.owned and not self.telemetry.closed:
            await asyncio.to_thread(self.telemetry.shutdown)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.alert_eval_seconds)
            try:
                self._refresh()
                self._monitor.evaluate()
            except Exception:  # pragma: no cover - a bug; keep evaluating
                logger.exception("cachekit: evaluating alert rules failed")

    def get_stats(self) -> dict[str, Any]:
        """The monitor's performance statistics (what ``cachekit stats`` prints)."""
        return {
            **self._monitor.get_performance_stats(),
            "recommendations": self._monitor.get_invalidation_recommendations()
            + self._monitor.get_memory_warnings(),
            "telemetry": dict(self.telemetry.sources),
        }

    # -- measuring ----------------------------------------------------------------------
    def _traced(self, op: int) -> Any:
        return self._tracing.tracer.start_as_current_span(
            f"cachekit.{OPERATIONS[op]}",
            attributes={
                "cache.operation": OPERATIONS[op],
                "cache.namespace": self.recorder.namespace,
            },
        )

    async def _measure(self, op: int, call: Awaitable[Any], timing_due: bool = False) -> Any:
        """Await ``call``, counted as ``op`` with result ``ok`` (or ``error``);
        ``timing_due``: the caller already picked this call as the 1-in-N timed one."""
        tracing = self._tracing
        if tracing.off or not tracing.live():
            if self._memory_only is not None and not timing_due and self._timings.skip(op):
                counts = self.recorder.counts
                try:
                    result = await call
                except Exception:
                    counts[slot(op, ERROR, MEMORY)] += 1
                    raise
                counts[slot(op, OK, MEMORY)] += 1
                return result
            chosen = self._memory_only is not None
            calls, start = self.recorder.redis_calls, perf_counter()
            try:
                result = await call
            except Exception:
                self._done(op, ERROR, start, calls, chosen=chosen)
                raise
            self._done(op, OK, start, calls, chosen=chosen)
            return result
        with self._traced(op) as span:
            calls, start = self.recorder.redis_calls, perf_counter()
            try:
                result = await call
            except Exception:
                span.set_attribute("cache.tier", TIERS[self._done(op, ERROR, start, calls)])
                raise
            span.set_attribute("cache.tier", TIERS[self._done(op, OK, start, calls)])
            return result

    # -- the protocol -------------------------------------------------------------------
    async def get(self, key: str, *, type: Any = None) -> Any:
        tracing = self._tracing
        if not tracing.off and tracing.live():
            return await self._traced_lookup(GET, self.inner.get(key, type=type))
        calls, start = self.recorder.redis_calls, perf_counter()
        try:
            value = await self.inner.get(key, type=type)
        except Exception:
            self._done(GET, ERROR, start, calls)
            raise
        self._done(GET, MISS if value is None else HIT, start, calls)
        return value

    async def _traced_lookup(self, op: int, call: Awaitable[Any]) -> Any:
        with self._traced(op) as span, observe_read() as degraded:
            calls, start = self.recorder.redis_calls, perf_counter()
            try:
                value = await call
            except Exception:
                span.set_attribute("cache.tier", TIERS[self._done(op, ERROR, start, calls)])
                raise
            tier = self._done(op, MISS if value is None else HIT, start, calls)
            span.set_attributes({"cache.hit": value is not None, "cache.tier": TIERS[tier]})
            if degraded:  # served without Redis: a miss here is not a real miss
                span.set_attribute("cache.degraded", True)
            return value

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        if self._lean:  # memory-only, untraced: count every call, time 1 in N
            countdown = self._timings.countdowns
            countdown[_SET_MEMORY] -= 1
            if countdown[_SET_MEMORY]:
                counts = self.recorder.counts
                try:
                    await self.inner.set(key, value, ttl)
                except Exception:
                    counts[_SET_ERROR] += 1
                    raise
                counts[_SET_OK] += 1
                return
            countdown[_SET_MEMORY] = self._timings.every
        await self._measure(SET, self.inner.set(key, value, ttl), timing_due=self._lean)

    async def get_or_set(
        self, key: str, loader: Loader, ttl: TTL = UNSET, *, type: Any = None
    ) -> Any:
        """The cached value, or the loader's (run in a ``cachekit.load`` span when traced).

        Counted once, as ``get_or_set``: a miss when this caller's loader ran, else a hit
        (a caller that waited for another caller's load included). The lookup and the
        store inside are not counted again as a ``get`` and a ``set``.
        """
        if self._lean:
            # Memory-only, untraced: the lookup is the tier's own (its counters count it,
            # so it is kept out of ``get``); a hit is in-process, timed 1 in N like the
            # other in-process calls; a load is always timed.
            check_ttl(ttl, self.default_ttl)
            countdown = self._timings.countdowns
            countdown[_GOS_MEMORY] -= 1
            if countdown[_GOS_MEMORY]:
                value = await self._memory_get(key, type=type)
                if value is not None:
                    self._tier_base[0] += 1
                    self._counts[_GOS_HIT] += 1
                    return value
                start = perf_counter()
            else:
                countdown[_GOS_MEMORY] = self._timings.every
                start = perf_counter()
                value = await self._memory_get(key, type=type)
                if value is not None:
                    self._tier_base[0] += 1
                    self._done(GET_OR_SET, HIT, start, self.recorder.redis_calls, chosen=True)
                    return value
            self._tier_base[1] += 1  # (a stored None counts as a hit in the tier: rare)
            memory, rec, ran = self._memory_only, self.recorder, [False]
            assert memory is not None
            try:
                value = await memory._load_once(key, self._loader(loader, ran, traced=False), ttl)
            except Exception:
                self._done(GET_OR_SET, ERROR, start, rec.redis_calls, chosen=True)
                raise
            self._done(GET_OR_SET, MISS if ran[0] else HIT, start, rec.redis_calls, chosen=True)
            return value
        tracing, rec, ran = self._tracing, self.recorder, [False]
        if not tracing.off and tracing.live():
            call = self.inner.get_or_set(
                key, self._loader(loader, ran, traced=True), ttl, type=type
            )
            with self._traced(GET_OR_SET) as span, observe_read() as degraded:
                calls, start = rec.redis_calls, perf_counter()
                try:
                    value = await call
                except Exception:
                    span.set_attribute(
                        "cache.tier", TIERS[self._done(GET_OR_SET, ERROR, start, calls)]
                    )
                    raise
                tier = self._done(GET_OR_SET, MISS if ran[0] else HIT, start, calls)
                span.set_attributes({"cache.hit": not ran[0], "cache.tier": TIERS[tier]})
                if degraded:
                    span.set_attribute("cache.degraded", True)
                return value
        calls, start = rec.redis_calls, perf_counter()
        try:
            value = await self.inner.get_or_set(
                key, self._loader(loader, ran, traced=False), ttl, type=type
            )
        except Exception:
            self._done(GET_OR_SET, ERROR, start, calls)
            raise
        self._done(GET_OR_SET, MISS if ran[0] else HIT, start, calls)
        return value

    def _loader(self, loader: Loader, ran: list[bool], *, traced: bool) -> Loader:
        """``loader``, noting in ``ran`` that it ran, timed into the load statistics and
        in a ``cachekit.load`` span when traced."""
        rec, tracing = self.recorder, self._tracing

        async def load() -> Any:
            ran[0] = True
            begin = perf_counter()
            try:
                if traced:
                    with tracing.tracer.start_as_current_span(
                        "cachekit.load",
                        attributes={
                            "cache.operation": "get_or_set",
                            "cache.namespace": rec.namespace,
                        },
                    ):
                        return await call_loader(loader)
                return await call_loader(loader)
            finally:
                rec.loads[0] += 1
                rec.loads[1] += perf_counter() - begin

        return load

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """Values of the keys that hit; counted per key (one hit or miss each)."""
        wanted = list(dict.fromkeys(keys))
        tracing, rec = self._tracing, self.recorder
        traced = not tracing.off and tracing.live()
        span_cm = self._traced(GET_MANY) if traced else contextlib.nullcontext(None)
        memory = self._memory if self._lean else None
        if memory is not None:  # its per-key lookups are get_many's, not get's
            hits_before, misses_before = memory.hits, memory.misses
        with span_cm as span:
            calls, start = rec.redis_calls, perf_counter()
            try:
                found: dict[str, Any] = await self.inner.get_many(wanted, type=type)
            except Exception:
                tier = self._done(GET_MANY, ERROR, start, calls)
                if span is not None:
                    span.set_attribute("cache.tier", TIERS[tier])
                raise
            if memory is not None and rec.tier is not None:
                rec.tier.base[0] += memory.hits - hits_before
                rec.tier.base[1] += memory.misses - misses_before
            hits = len(found)
            tier = self._done(GET_MANY, HIT, start, calls, hits)
            rec.counts[slot(GET_MANY, MISS, tier)] += len(wanted) - hits
            if span is not None:
                span.set_attributes(
                    {"cache.tier": TIERS[tier], "cache.keys": len(wanted), "cache.hits": hits}
                )
            return found

    async def delete(self, key: str) -> bool:
        result: bool = await self._measure(DELETE, self.inner.delete(key))
        return result

    async def exists(self, key: str) -> bool:
        result: bool = await self._measure(EXISTS, self.inner.exists(key))
        return result

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        await self._measure(SET_MANY, self.inner.set_many(items, ttl))

    async def delete_many(self, keys: Iterable[str]) -> int:
        result: int = await self._measure(DELETE_MANY, self.inner.delete_many(keys))
        return result

    async def delete_matching(self, pattern: str) -> int:
        """Pattern invalidation, counted as the ``invalidate`` operation."""
        result: int = await self._measure(INVALIDATE, self.inner.delete_matching(pattern))
        return result

    async def clear(self) -> None:
        await self._measure(CLEAR, self.inner.clear())

    def build_key(self, text: str, operation: str, options: Mapping[str, Any] | None = None) -> str:
        """The base key builder, timed (``cachekit.key_generation.duration``)."""
        start = perf_counter()
        key = super().build_key(text, operation, options)
        self._monitor.record_key_generation_time(perf_counter() - start)
        return key
