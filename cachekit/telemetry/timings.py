"""``Timings``: how a finished cache call is counted, timed and sampled into a ``Recorder``.

Every call is counted by operation, result and answering tier, and its duration summed.
The ``cachekit.operation.duration`` histogram gets every slow call and 1 in
``monitoring.duration_sample_every`` of the others (the first of each operation and tier
included): an SDK ``record`` costs more than a memory hit and 5-10% of a Redis round trip,
so the histogram is a sample while the counters stay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any

from cachekit.config.model import MonitoringConfig
from cachekit.telemetry.metrics import ERROR, MEMORY, REDIS, Recorder
from cachekit.telemetry.monitor import CachePerformanceMonitor


def _no_record(value: float, attributes: Mapping[str, Any]) -> None:
    """The histogram of a stack whose telemetry is not bound yet."""


class Timings:
    """Counts finished calls into ``recorder`` and picks the durations the histogram gets.

    ``record`` is the histogram's ``record`` and ``live`` whether measurements go anywhere
    (the ``Instrumented`` layer rebinds both when its providers change). ``remote`` says
    whether the stack has a remote tier (a failed call is then charged to it).
    """

    __slots__ = ("countdowns", "every", "live", "monitor", "record", "recorder", "remote", "slow")

    def __init__(
        self,
        recorder: Recorder,
        monitor: CachePerformanceMonitor,
        settings: MonitoringConfig,
        *,
        remote: bool,
    ) -> None:
        self.recorder = recorder
        self.monitor = monitor
        self.remote = remote
        self.slow = settings.slow_operation_seconds
        self.every = settings.duration_sample_every
        # Per (operation, tier): the first duration is recorded, then 1 in ``every``.
        self.countdowns = [1] * len(recorder.seconds)
        self.record: Callable[[float, Mapping[str, Any]], None] = _no_record
        self.live = False

    def done(
        self, op: int, result: int, start: float, calls: int, n: int = 1, chosen: bool = False
    ) -> int:
        """Count ``n`` results of one timed call that began at ``start``; the answering tier
        (``redis`` when a Redis round trip succeeded since ``calls`` was read).

        The duration reaches the histogram when the call was slow, or was ``chosen``
        (or is due) as the 1-in-N sample.
        """
        elapsed = perf_counter() - start
        rec = self.recorder
        tier = REDIS if rec.redis_calls != calls or (result == ERROR and self.remote) else MEMORY
        rec.counts[(op * 4 + result) * 2 + tier] += n
        series = op * 2 + tier
        rec.seconds[series] += elapsed
        rec.timed[series] += 1
        if elapsed > rec.slowest[series]:
            rec.slowest[series] = elapsed
        if elapsed > self.slow:
            self.monitor.slow_operation(op, tier, elapsed)
            chosen = True
        elif not chosen:
            countdown = self.countdowns
            countdown[series] -= 1
            if not countdown[series]:
                countdown[series] = self.every
                chosen = True
        if chosen and self.live:
            self.record(elapsed, rec.series_attributes[series])
        return tier

    def skip(self, op: int) -> bool:
        """On a memory-only stack, whether this call of ``op`` goes untimed (1 in N is
        timed: an in-process call cannot be slow, and timing it costs as much as it)."""
        countdown = self.countdowns
        series = op * 2  # the memory tier
        countdown[series] -= 1
        if countdown[series]:
            return True
        countdown[series] = self.every
        return False
