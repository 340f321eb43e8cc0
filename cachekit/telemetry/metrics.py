"""Plain-number counters of a cache stack, and the OpenTelemetry instruments that read them.

The hot path only adds to lists of numbers (``Recorder``). Counters and gauges are
*observable* instruments: their callbacks run at export time on the metric reader's
thread and read those plain numbers, never an asyncio object. Durations and ratios go
to histograms (an SDK ``record`` costs several microseconds, so durations are sampled,
see ``Instrumented``).

One ``Instruments`` set exists per meter provider, shared by every stack that uses the
provider (an SDK meter keeps the first instrument of a name and ignores later ones), and
sums the stacks by ``cache.namespace``. When a stack is garbage collected its cumulative
counts are folded into the set, so exported counters never go backwards.

Metric names live under ``cachekit.``; attributes are bounded: ``cache.namespace`` (a
config value), ``cache.operation``, ``cache.result``, ``cache.tier``, and labels the code
chooses, never a key or any user text.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

if TYPE_CHECKING:
    from cachekit.protocol import LocalTier


class CoherenceCounts(Protocol):
    """What a stack's coherence, lease and refresh components count (plain numbers)."""

    @property
    def configured(self) -> str: ...
    @property
    def trusted(self) -> bool: ...
    @property
    def invalidations(self) -> int: ...
    @property
    def refused(self) -> int: ...
    @property
    def lease_waits(self) -> int: ...
    @property
    def stale_served(self) -> int: ...
    @property
    def early_refreshes(self) -> int: ...
    @property
    def flushes(self) -> Mapping[str, int]: ...

    def observe_lag(self, callback: Callable[[float], None] | None) -> None: ...

OPERATIONS: Final = (
    "get",
    "get_many",
    "get_or_set",
    "set",
    "set_many",
    "delete",
    "delete_many",
    "exists",
    "clear",
    "invalidate",
)
RESULTS: Final = ("hit", "miss", "ok", "error")
TIERS: Final = ("memory", "redis")
GET, GET_MANY, GET_OR_SET, SET, SET_MANY, DELETE, DELETE_MANY, EXISTS, CLEAR, INVALIDATE = range(
    len(OPERATIONS)
)
HIT, MISS, OK, ERROR = range(len(RESULTS))
MEMORY, REDIS = range(len(TIERS))
LOOKUPS: Final = (GET, GET_MANY, GET_OR_SET)

DURATION_BUCKETS: Final = (
    0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
RATIO_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
MAX_LABELS: Final = 32
"""Distinct invalidation operation labels kept per stack; further ones become ``other``."""
OTHER: Final = "other"

# Indexes into Recorder.totals (cumulative, exported or summarised).
(
    SAVED_BYTES,
    RAW_BYTES,
    STORED_BYTES,
    COMPRESSED,
    EVICTIONS_SEEN,
    INVALIDATIONS_SEEN,
    REFUSED_SEEN,
    LEASE_WAITS_SEEN,
    STALE_SEEN,
    EARLY_SEEN,
) = range(10)


def slot(op: int, result: int, tier: int) -> int:
    """Index of ``(operation, result, tier)`` in ``Recorder.counts``."""
    return (op * len(RESULTS) + result) * len(TIERS) + tier


def series(op: int, tier: int) -> int:
    """Index of ``(operation, tier)`` in the duration lists."""
    return op * len(TIERS) + tier


class TierCounts:
    """``get`` lookups the memory tier counts itself: its hits and misses since ``base``
    (lookups other operations made are added to ``base`` to keep them out)."""

    __slots__ = ("base", "memory")

    def __init__(self, memory: LocalTier) -> None:
        self.memory = memory
        self.base = [memory.hits, memory.misses]

    def read(self) -> tuple[int, int]:
        """``(hits, misses)`` of ``get`` so far."""
        return self.memory.hits - self.base[0], self.memory.misses - self.base[1]


def _snapshot(counts: list[int], tier: TierCounts | None) -> list[int]:
    out = list(counts)
    if tier is not None:
        hits, misses = tier.read()
        out[slot(GET, HIT, MEMORY)] += hits
        out[slot(GET, MISS, MEMORY)] += misses
    return out


class Recorder:
    """The numbers one stack counts on its event loop; exporters read them from their thread.

    ``counts`` holds operations by (operation, result, tier); ``seconds`` / ``slowest``
    the time spent per (operation, tier); ``redis_calls`` counts Redis round trips that
    succeeded (how a call tells which tier answered it).
    """

    def __init__(self, namespace: str = "cachekit") -> None:
        self.namespace = namespace
        self.counts = [0] * (len(OPERATIONS) * len(RESULTS) * len(TIERS))
        self.seconds = [0.0] * (len(OPERATIONS) * len(TIERS))
        self.slowest = [0.0] * (len(OPERATIONS) * len(TIERS))
        self.timed = [0] * (len(OPERATIONS) * len(TIERS))
        """Calls timed per (operation, tier): ``seconds`` over ``timed`` is the mean."""
        self.totals = [0] * 10
        self.redis_calls = 0
        self.keygen = [0, 0.0, 0.0]  # count, seconds, slowest
        self.loads = [0, 0.0]  # count, seconds
        self.invalidations: dict[tuple[str, str], list[int]] = {}  # (kind, op) -> [events, keys]
        self.degraded = 0
        self.memory: LocalTier | None = None
        self.coherence: CoherenceCounts | None = None
        """The coherence, lease and refresh counters of the stack, when it has Redis."""
        self.tier: TierCounts | None = None
        """Set while a memory-only stack's ``get`` skips the wrapper: the memory tier
        counts those lookups itself, and ``snapshot`` adds them in."""
        base = {"cache.namespace": namespace}
        self.slot_attributes = [
            {**base, "cache.operation": op, "cache.result": result, "cache.tier": tier}
            for op in OPERATIONS
            for result in RESULTS
            for tier in TIERS
        ]
        self.series_attributes = [
            {**base, "cache.operation": op, "cache.tier": tier}
            for op in OPERATIONS
            for tier in TIERS
        ]
        self.base_attributes = base

    def pull(self) -> None:
        """Copy the counters other components keep into ``totals`` (exporter's thread:
        plain numbers only)."""
        if self.memory is not None:
            self.totals[EVICTIONS_SEEN] = self.memory.evictions
        found = self.coherence
        if found is not None:
            totals = self.totals
            totals[INVALIDATIONS_SEEN] = found.invalidations
            totals[REFUSED_SEEN] = found.refused
            totals[LEASE_WAITS_SEEN] = found.lease_waits
            totals[STALE_SEEN] = found.stale_served
            totals[EARLY_SEEN] = found.early_refreshes

    def snapshot(self) -> list[int]:
        """A copy of ``counts`` with the memory tier's own ``get`` counts added."""
        return _snapshot(self.counts, self.tier)

    def invalidation_label(self, kind: str, operation: str) -> tuple[str, str]:
        """The bounded ``(kind, operation)`` label of an invalidation."""
        label = (kind, operation)
        if label not in self.invalidations and len(self.invalidations) >= MAX_LABELS:
            label = (kind, OTHER)
        return label


class Instruments:
    """cachekit's instruments on one meter provider, reading every live ``Recorder``."""

    def __init__(self, meter: metrics.Meter) -> None:
        self._lock = threading.Lock()
        self._recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()
        self._retired_counts: dict[str, list[int]] = {}
        self._retired_totals: dict[str, list[int]] = {}
        self._retired_invalidations: dict[tuple[str, str, str], list[int]] = {}
        self._slot_attrs: dict[str, list[dict[str, str]]] = {}
        self._last_operations: dict[str, list[int]] = {}
        self._snapshots: dict[int, list[int]] = {}
        meter.create_observable_counter(
            "cachekit.operations",
            callbacks=[self._observe_operations],
            unit="{operation}",
            description="Cache operations by operation, result (hit, miss, ok, error) and "
            "the tier that answered; get_many counts one per key",
        )
        meter.create_observable_gauge(
            "cachekit.memory.entries",
            callbacks=[self._gauge(lambda r: r.memory.entries if r.memory else None)],
            unit="{entry}",
            description="Entries held by the memory tier",
        )
        meter.create_observable_gauge(
            "cachekit.memory.usage",
            callbacks=[self._gauge(lambda r: r.memory.bytes_used if r.memory else None)],
            unit="By",
            description="Estimated bytes held by the memory tier",
        )
        meter.create_observable_counter(
            "cachekit.memory.evictions",
            callbacks=[self._observe_total(EVICTIONS_SEEN)],
            unit="{eviction}",
            description="Entries the memory tier evicted to stay within its bounds",
        )
        for name, index, unit, description in (
            ("cachekit.coherence.invalidations", INVALIDATIONS_SEEN, "{report}",
             "Invalidation reports Redis sent the memory tier (tracking)"),
            ("cachekit.coherence.promotions_refused", REFUSED_SEEN, "{value}",
             "Values read from Redis kept out of memory because their key changed meanwhile"),
            ("cachekit.lease.waits", LEASE_WAITS_SEEN, "{wait}",
             "get_or_set calls that waited for another process's load"),
            ("cachekit.refresh.stale_served", STALE_SEEN, "{value}",
             "Expired values served while one task reloaded them (stale-while-revalidate)"),
            ("cachekit.refresh.early", EARLY_SEEN, "{reload}",
             "Reloads started before expiry (early refresh)"),
        ):  # fmt: skip
            meter.create_observable_counter(
                name, callbacks=[self._observe_total(index)], unit=unit, description=description
            )
        meter.create_observable_counter(
            "cachekit.coherence.flushes",
            callbacks=[self._observe_flushes],
            unit="{flush}",
            description="Times the memory tier was emptied because nothing vouched for it, "
            "by reason",
        )
        meter.create_observable_gauge(
            "cachekit.coherence.tracking",
            callbacks=[self._gauge(_tracking, combine=min)],
            unit="1",
            description="1 while Redis tracking keeps the memory tier coherent, 0 while it "
            "is down and memory is bypassed (absent: not in tracking mode)",
        )
        self.lag = meter.create_histogram(
            "cachekit.coherence.lag",
            unit="s",
            description="From a write's reply to Redis's report of it on the tracking "
            "connection (the floor of what another process waits)",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        meter.create_observable_counter(
            "cachekit.compression.saved",
            callbacks=[self._observe_total(SAVED_BYTES)],
            unit="By",
            description="Bytes compression kept out of Redis",
        )
        meter.create_observable_counter(
            "cachekit.invalidations",
            callbacks=[self._observe_invalidations(0)],
            unit="{invalidation}",
            description="Invalidation events by kind and operation",
        )
        meter.create_observable_counter(
            "cachekit.invalidation.keys",
            callbacks=[self._observe_invalidations(1)],
            unit="{key}",
            description="Keys removed by invalidations, by kind and operation",
        )
        meter.create_observable_gauge(
            "cachekit.degraded",
            callbacks=[self._gauge(lambda r: r.degraded, combine=max)],
            unit="1",
            description="1 while the stack serves without Redis, else 0",
        )
        self.duration = meter.create_histogram(
            "cachekit.operation.duration",
            unit="s",
            description="Duration of cache operations by operation and answering tier",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.key_generation = meter.create_histogram(
            "cachekit.key_generation.duration",
            unit="s",
            description="Duration of cache key generation",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.compression_ratio = meter.create_histogram(
            "cachekit.compression.ratio",
            unit="1",
            description="Stored size over encoded size of values large enough to compress",
            explicit_bucket_boundaries_advisory=list(RATIO_BUCKETS),
        )
        self.alerts = meter.create_counter(
            "cachekit.alerts", unit="{alert}", description="Alerts fired, by rule and level"
        )

    # -- membership ---------------------------------------------------------------------
    def add(self, recorder: Recorder) -> None:
        """Report ``recorder``'s numbers from now on (and its totals after it is gone)."""
        with self._lock:
            if recorder in self._recorders:
                return
            self._recorders.add(recorder)
            self._slot_attrs.setdefault(recorder.namespace, recorder.slot_attributes)
        # The finalizer holds the recorder's attributes, never the recorder itself.
        weakref.finalize(recorder, self._retire, id(recorder), vars(recorder))

    def _retire(self, ident: int, state: dict[str, Any]) -> None:
        namespace, totals, invalidations = (
            state["namespace"],
            state["totals"],
            state["invalidations"],
        )
        counts = _snapshot(state["counts"], state["tier"])
        with self._lock:
            seen = self._snapshots.pop(ident, counts)  # never below what was reported
            final = [max(c, s) for c, s in zip(counts, seen, strict=True)]
            _add_into(self._retired_counts.setdefault(namespace, [0] * len(counts)), final)
            _add_into(self._retired_totals.setdefault(namespace, [0] * len(totals)), totals)
            for (kind, op), values in invalidations.copy().items():
                key = (namespace, kind, op)
                _add_into(self._retired_invalidations.setdefault(key, [0, 0]), values)

    def _live(self) -> list[Recorder]:
        with self._lock:
            return list(self._recorders)

    # -- callbacks (the reader's thread: plain numbers only) ---------------------------
    def _observe_operations(self, options: CallbackOptions) -> Iterable[Observation]:
        sums: dict[str, list[int]] = {}
        with self._lock:
            for namespace, retired in self._retired_counts.items():
                sums[namespace] = list(retired)
        for recorder in self._live():
            counts = recorder.snapshot()
            self._snapshots[id(recorder)] = counts
            _add_into(sums.setdefault(recorder.namespace, [0] * len(counts)), counts)
        last = self._last_operations
        for namespace, counts in sums.items():
            attrs = self._slot_attrs[namespace]
            seen = last.setdefault(namespace, [0] * len(counts))
            for index, value in enumerate(counts):
                # A tier's own counters may be read mid-call: never report a step back.
                value = max(value, seen[index])
                if value:
                    seen[index] = value
                    yield Observation(value, attrs[index])

    def _observe_total(self, index: int) -> Any:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            sums: dict[str, int] = {}
            with self._lock:
                for namespace, retired in self._retired_totals.items():
                    sums[namespace] = retired[index]
            for recorder in self._live():
                recorder.pull()
                sums[recorder.namespace] = sums.get(recorder.namespace, 0) + recorder.totals[index]
            for namespace, value in sums.items():
                yield Observation(value, {"cache.namespace": namespace})

        return observe

    def _observe_invalidations(self, index: int) -> Any:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            sums: dict[tuple[str, str, str], int] = {}
            with self._lock:
                for key, values in self._retired_invalidations.items():
                    sums[key] = values[index]
            for recorder in self._live():
                for (kind, op), values in recorder.invalidations.copy().items():
                    key = (recorder.namespace, kind, op)
                    sums[key] = sums.get(key, 0) + values[index]
            for (namespace, kind, op), value in sums.items():
                yield Observation(
                    value,
                    {
                        "cache.namespace": namespace,
                        "cache.invalidation.kind": kind,
                        "cache.invalidation.operation": op,
                    },
                )

        return observe

    def _observe_flushes(self, options: CallbackOptions) -> Iterable[Observation]:
        sums: dict[tuple[str, str], int] = {}
        for recorder in self._live():
            found = recorder.coherence
            if found is None:
                continue
            for reason, count in dict(found.flushes).items():
                key = (recorder.namespace, reason)
                sums[key] = sums.get(key, 0) + count
        for (namespace, reason), value in sums.items():
            yield Observation(value, {"cache.namespace": namespace, "cache.flush.reason": reason})

    def _gauge(self, read: Any, combine: Any = sum) -> Any:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            values: dict[str, list[int]] = {}
            for recorder in self._live():
                value = read(recorder)
                if value is not None:
                    values.setdefault(recorder.namespace, []).append(value)
            for namespace, found in values.items():
                yield Observation(combine(found), {"cache.namespace": namespace})

        return observe


def _tracking(recorder: Recorder) -> int | None:
    found = recorder.coherence
    if found is None or found.configured != "tracking":
        return None
    return int(found.trusted)


def _add_into(target: list[int], values: list[int]) -> None:
    for index, value in enumerate(values):
        target[index] += value


# Global state, confined here: one instrument set per meter provider (weakly held).
_REGISTRY: weakref.WeakKeyDictionary[Any, Instruments] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def instruments_for(provider: metrics.MeterProvider, meter: metrics.Meter) -> Instruments:
    """The instrument set of ``provider`` (created on first use, from ``meter``)."""
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(provider)
        if found is None:
            found = _REGISTRY[provider] = Instruments(meter)
        return found
