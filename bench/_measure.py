"""Timing: throughput from untimed loops, latency from a separate per-operation pass.

Every contender of a workload is measured the same way in the same process, and rounds
alternate between contenders so that noise from other processes hits them alike. The
figure kept is the best round (like ``timeit``): the least disturbed run of each.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

AsyncOp = Callable[..., Awaitable[Any]]
SyncOp = Callable[..., Any]


@dataclass
class Result:
    """One contender's figure on one workload."""

    workload: str
    contender: str
    value: float
    unit: str = "ops/s"
    p50_us: float | None = None
    p99_us: float | None = None
    subject: bool = False
    """The cachekit row the workload's ratios are computed from."""
    note: str = ""
    rounds: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Settings:
    """How long each measurement runs; ``smoke`` makes every count tiny."""

    rounds: int = 5
    min_time: float = 0.25
    """Seconds one contender's round runs at least (whole passes over the keys)."""
    latency_samples: int = 20_000
    concurrency: int = 64
    codec_ops: int = 500
    key_ops: int = 20
    entries: int = 100_000
    keys: int = 1000
    """Distinct keys each workload cycles through."""
    smoke: bool = False

    @classmethod
    def for_smoke(cls) -> Settings:
        return cls(
            rounds=1,
            min_time=0.0,
            latency_samples=50,
            codec_ops=5,
            key_ops=2,
            entries=2_000,
            keys=100,
            smoke=True,
        )


def percentiles(samples_ns: Sequence[int]) -> tuple[float, float]:
    """(p50, p99) in microseconds."""
    ordered = sorted(samples_ns)
    n = len(ordered)
    return ordered[n // 2] / 1000, ordered[min(n - 1, (n * 99) // 100)] / 1000


async def async_rate(op: AsyncOp, args: Sequence[tuple[Any, ...]], min_time: float) -> float:
    """Operations per second of awaiting ``op(*a)``, passing over ``args`` for ``min_time``."""
    gc.collect()
    clock = time.perf_counter
    done = 0
    start = clock()
    while True:
        for a in args:
            await op(*a)
        done += len(args)
        elapsed = clock() - start
        if elapsed >= min_time:
            return done / elapsed


def sync_rate(op: SyncOp, args: Sequence[tuple[Any, ...]], min_time: float) -> float:
    """Operations per second of calling ``op(*a)``, passing over ``args`` for ``min_time``."""
    gc.collect()
    clock = time.perf_counter
    done = 0
    start = clock()
    while True:
        for a in args:
            op(*a)
        done += len(args)
        elapsed = clock() - start
        if elapsed >= min_time:
            return done / elapsed


async def async_latency(
    op: AsyncOp, args: Sequence[tuple[Any, ...]], samples: int, budget: float
) -> tuple[float, float]:
    """(p50, p99) in microseconds of single ``op`` calls, timed one by one."""
    clock = time.perf_counter_ns
    taken: list[int] = []
    deadline = clock() + int(budget * 1e9)
    while len(taken) < samples:
        for a in args:
            start = clock()
            await op(*a)
            taken.append(clock() - start)
        if clock() > deadline:
            break
    return percentiles(taken)


def sync_latency(
    op: SyncOp, args: Sequence[tuple[Any, ...]], samples: int, budget: float
) -> tuple[float, float]:
    clock = time.perf_counter_ns
    taken: list[int] = []
    deadline = clock() + int(budget * 1e9)
    while len(taken) < samples:
        for a in args:
            start = clock()
            op(*a)
            taken.append(clock() - start)
        if clock() > deadline:
            break
    return percentiles(taken)


async def concurrent_rate(
    op: AsyncOp, args: Sequence[tuple[Any, ...]], tasks: int, min_time: float
) -> tuple[float, list[int]]:
    """``args`` shared among ``tasks`` concurrent tasks, repeated for ``min_time``:
    (ops/s, the latency of every operation in ns)."""
    clock = time.perf_counter_ns
    samples: list[int] = []

    async def worker(share: Sequence[tuple[Any, ...]]) -> None:
        for a in share:
            begin = clock()
            await op(*a)
            samples.append(clock() - begin)

    gc.collect()
    done = 0
    start = time.perf_counter()
    while True:
        await asyncio.gather(*(worker(args[i::tasks]) for i in range(tasks)))
        done += len(args)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return done / elapsed, samples


@dataclass
class Contender:
    """A named way of running one workload's operation."""

    name: str
    op: Callable[..., Any]
    is_async: bool = True
    subject: bool = False
    note: str = ""


async def compare(
    workload: str,
    contenders: Sequence[Contender],
    args: Sequence[tuple[Any, ...]],
    settings: Settings,
    *,
    tasks: int = 1,
    unit: str = "ops/s",
    scale: float = 1.0,
) -> list[Result]:
    """Measure each contender on ``args``; rounds alternate between contenders.

    ``tasks > 1`` runs the operations from that many concurrent tasks (async only);
    ``scale`` turns operations per second into the workload's unit (e.g. MB/s).
    """
    rounds: dict[str, list[float]] = {c.name: [] for c in contenders}
    lat: dict[str, tuple[float, float]] = {}
    for c in contenders:  # warm-up: connections, caches, lazily built state
        if tasks > 1:
            await concurrent_rate(c.op, args, tasks, 0.0)
        elif c.is_async:
            await async_rate(c.op, args[:100], 0.0)
        else:
            sync_rate(c.op, args[:100], 0.0)
    for _ in range(settings.rounds):
        for c in contenders:
            if tasks > 1:
                rate, samples = await concurrent_rate(c.op, args, tasks, settings.min_time)
                if not rounds[c.name] or rate > max(rounds[c.name]):
                    lat[c.name] = percentiles(samples)
                rounds[c.name].append(rate)
            elif c.is_async:
                rounds[c.name].append(await async_rate(c.op, args, settings.min_time))
            else:
                rounds[c.name].append(sync_rate(c.op, args, settings.min_time))
    if tasks == 1:
        budget = max(settings.min_time, 0.05)
        for c in contenders:
            if c.is_async:
                lat[c.name] = await async_latency(c.op, args, settings.latency_samples, budget)
            else:
                lat[c.name] = sync_latency(c.op, args, settings.latency_samples, budget)
    return [
        Result(
            workload=workload,
            contender=c.name,
            value=max(rounds[c.name]) * scale,
            unit=unit,
            p50_us=lat[c.name][0],
            p99_us=lat[c.name][1],
            subject=c.subject,
            note=c.note,
            rounds=[r * scale for r in rounds[c.name]],
            extra={"median": statistics.median(rounds[c.name]) * scale},
        )
        for c in contenders
    ]
