"""``Recovery``: the background tasks that bring a stack back once Redis answers again.

While the circuit is open, one task waits out the breaker's backoff, probes Redis (a
short-lived write without retries, on a fresh connection) and settles the outage journal;
the first success closes the circuit. After isolated failures (or writes made during a
probe), another task settles what the journal still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from cachekit.layers.resilience.circuit import CircuitBreaker
from cachekit.layers.resilience.outage import OutageJournal
from cachekit.protocol import RemoteTier

logger = logging.getLogger("cachekit.resilience")

_SETTLE_ROUNDS: Final = 3


class Recovery:
    """Runs the probe and the settler of one stack; ``aclose`` stops them."""

    def __init__(
        self,
        breaker: CircuitBreaker,
        journal: OutageJournal,
        remote: RemoteTier,
        probe_timeout: float,
    ) -> None:
        self.breaker = breaker
        self.journal = journal
        self.remote = remote
        self.probe_timeout = probe_timeout
        self._prober: asyncio.Task[None] | None = None
        self._settler: asyncio.Task[None] | None = None
        self._closed = False

    def probe_until_closed(self) -> None:
        """Start probing (the circuit just opened); nothing when a probe task runs."""
        self._closed = False
        if self._prober is None:
            self._prober = asyncio.get_running_loop().create_task(self._probe())

    def settle_soon(self) -> None:
        """Settle what the journal holds, in the background."""
        if self._settler is None:
            self._settler = asyncio.get_running_loop().create_task(self._settle())

    async def aclose(self) -> None:
        """Stop probing and settling."""
        self._closed = True
        for task in (self._prober, self._settler):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._prober = self._settler = None

    async def _probe(self) -> None:
        """While the circuit is open: wait out the backoff, probe, settle, close."""
        breaker = self.breaker
        try:
            while not self._closed and not breaker.closed:
                await asyncio.sleep(breaker.seconds_until_probe())
                if not breaker.begin_probe():
                    continue
                reason = (
                    await self.remote.probe(self.probe_timeout, fresh=True)
                    or await self.journal.settle()
                )
                if reason is None:
                    breaker.record_success()
                else:
                    breaker.record_failure(reason)
        except Exception:  # pragma: no cover - a bug; never let the task die silently
            logger.exception("cachekit: the redis probe task failed")
        finally:
            if self._prober is asyncio.current_task():
                self._prober = None
        if breaker.closed and self.journal.pending:
            self.settle_soon()

    async def _settle(self) -> None:
        """Settle what isolated failures (or writes during a probe) left in the journal."""
        try:
            for _ in range(_SETTLE_ROUNDS):
                if not (self.breaker.closed and self.journal.pending):
                    break
                reason = await self.journal.settle()
                if reason is not None:
                    self.breaker.record_failure(reason)
                    break
        except Exception:  # pragma: no cover - a bug; never let the task die silently
            logger.exception("cachekit: settling with redis after a failure failed")
        finally:
            if self._settler is asyncio.current_task():
                self._settler = None
