"""``CircuitBreaker``: consecutive-failure breaker with probe backoff, clock injected.

It holds no I/O and no tasks: the owner records outcomes, asks whether a probe is due
and runs the probe itself (``ResilientCache`` does, in the background).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from redis.backoff import AbstractBackoff, EqualJitterBackoff

from cachekit.config.model import ResilienceConfig


class CircuitState(enum.Enum):
    """``closed``: calls go to Redis; ``open``: calls skip it; ``half_open``: probing."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; probes with backoff.

    ::

        closed --threshold failures--> open --probe due--> half_open --ok--> closed
                                         ^------------ probe failed ---------'

    The wait before probe *n* (0-based, counted per outage) is ``backoff.compute(n)``,
    one of redis-py's backoff classes. ``clock`` returns monotonic seconds (tests pass a
    fake one). ``on_change(previous, current, reason)`` is called on every transition.
    """

    def __init__(
        self,
        failure_threshold: int,
        backoff: AbstractBackoff,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState, CircuitState, str], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.backoff = backoff
        self.on_change = on_change
        self._clock = clock
        self.state = CircuitState.CLOSED
        self.failures = 0
        """Consecutive failures while closed."""
        self.failed_probes = 0
        self.last_error: str | None = None
        self.opened_at: float | None = None
        self.next_probe_at = 0.0

    @classmethod
    def from_config(
        cls, config: ResilienceConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> CircuitBreaker:
        """A breaker with jittered exponential probe backoff from the ``resilience`` section."""
        backoff = EqualJitterBackoff(cap=config.probe_backoff_cap, base=config.probe_backoff_base)
        return cls(config.failure_threshold, backoff, clock=clock)

    @property
    def closed(self) -> bool:
        """True when calls may go to Redis."""
        return self.state is CircuitState.CLOSED

    def record_success(self) -> None:
        """A Redis call or probe succeeded: reset the count; a probe closes the circuit.

        A late success while open (a call started before the failures) changes nothing.
        """
        if self.state is CircuitState.CLOSED:
            self.failures = 0
        elif self.state is CircuitState.HALF_OPEN:
            self.failures = self.failed_probes = 0
            self.opened_at = None
            self._move(CircuitState.CLOSED, "redis answered a probe")

    def record_failure(self, reason: str) -> None:
        """A Redis call or probe failed: count it, open at the threshold, back off a probe."""
        self.last_error = reason
        if self.state is CircuitState.CLOSED:
            self.failures += 1
            if self.failures >= self.failure_threshold:
                self._open(reason)
        elif self.state is CircuitState.HALF_OPEN:
            self.failed_probes += 1
            self._open(reason)

    def trip(self, reason: str) -> None:
        """Open at once, whatever the count (a probe without retries failed)."""
        self.last_error = reason
        if self.state is CircuitState.CLOSED:
            self._open(reason)

    def seconds_until_probe(self) -> float:
        """Seconds until the next probe is due (0 when due or not open)."""
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self.next_probe_at - self._clock())

    def begin_probe(self) -> bool:
        """Move to half-open if a probe is due; True when the caller must probe now."""
        if self.state is not CircuitState.OPEN or self.next_probe_at > self._clock():
            return False
        self._move(CircuitState.HALF_OPEN, "probing redis")
        return True

    def open_for(self) -> float:
        """Seconds since the circuit opened (0 when closed)."""
        return 0.0 if self.opened_at is None else self._clock() - self.opened_at

    def _open(self, reason: str) -> None:
        now = self._clock()
        if self.opened_at is None:
            self.opened_at = now
        self.next_probe_at = now + self.backoff.compute(self.failed_probes)
        self._move(CircuitState.OPEN, reason)

    def _move(self, state: CircuitState, reason: str) -> None:
        previous, self.state = self.state, state
        if self.on_change is not None and previous is not state:
            self.on_change(previous, state, reason)
