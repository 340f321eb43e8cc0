"""``Refresher``: hot keys that never stampede at their TTL (``get_or_set`` with ``[refresh]``).

Two policies, per AI operation or for every key (``refresh.operations``, ``refresh.*``):

stale-while-revalidate (``stale_seconds``)
    The entry is stored ``stale_seconds`` longer than its TTL. Read after its TTL but
    within that window, the expired value is returned at once while one task reloads it.
early refresh (``early_beta``, XFetch)
    Before expiry, a read starts a reload with probability ``exp(-remaining / (delta *
    beta))``, ``delta`` being how long the key's loader takes: the closer expiry is and
    the slower the loader, the likelier. Callers keep getting the current value.

Reloads run in the background under the stack's single flight (and its cross-process
lease), so one reload runs however many readers see the entry stale. Both are counted
(``stale_served``, ``early_refreshes``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from cachekit.config.model import RefreshConfig, RefreshPolicy
from cachekit.keys import operation_of
from cachekit.protocol import Loader, call_loader

logger = logging.getLogger("cachekit.refresh")

_DURATIONS_KEPT: Final = 10_000
_SMOOTHING: Final = 0.3

ReadWithTTL = Callable[[str, Any], Awaitable[tuple[Any, float | None]]]
LoadOnce = Callable[[str, Loader, float | None], Coroutine[Any, Any, Any]]


class Refresher:
    """Applies ``settings`` to the ``get_or_set`` calls of one stack."""

    def __init__(
        self,
        settings: RefreshConfig,
        *,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.stale_served = 0
        self.early_refreshes = 0
        self._rng = rng
        self._clock = clock
        self._durations: OrderedDict[str, float] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()

    def policy(self, key: str) -> RefreshPolicy | None:
        """The policy of ``key``, or None when neither stale serving nor early refresh is on."""
        policy = self.settings.policy(operation_of(key))
        if not policy.stale_seconds and not policy.early_beta:
            return None
        return policy

    async def get_or_set(
        self,
        key: str,
        loader: Loader,
        seconds: float | None,
        policy: RefreshPolicy,
        *,
        read: ReadWithTTL,
        load_once: LoadOnce,
        type: Any = None,
    ) -> Any:
        """``get_or_set`` of ``key`` for ``seconds`` under ``policy``: ``read`` gives the
        value and its remaining seconds, ``load_once`` loads under single flight."""
        stored = None if seconds is None else seconds + policy.stale_seconds
        timed = self._timed(key, loader)
        value, left = await read(key, type)
        if value is None:
            return await load_once(key, timed, stored)
        if left is None:
            return value
        remaining = left - policy.stale_seconds  # of the TTL the caller asked for
        if remaining <= 0:
            self.stale_served += 1
            self._reload(key, timed, stored, load_once)
        elif policy.early_beta and self._early(key, remaining, policy.early_beta):
            self.early_refreshes += 1
            self._reload(key, timed, stored, load_once)
        return value

    def _early(self, key: str, remaining: float, beta: float) -> bool:
        """XFetch: reload now when ``delta * beta * -ln(u)`` reaches the time left."""
        delta = self._durations.get(key)
        if delta is None:
            return False
        return -delta * beta * math.log(1.0 - self._rng()) >= remaining

    def _timed(self, key: str, loader: Loader) -> Loader:
        async def load() -> Any:
            started = self._clock()
            try:
                return await call_loader(loader)
            finally:
                self._record(key, self._clock() - started)

        return load

    def _record(self, key: str, seconds: float) -> None:
        durations = self._durations
        previous = durations.pop(key, None)
        durations[key] = (
            seconds if previous is None else (previous + _SMOOTHING * (seconds - previous))
        )
        if len(durations) > _DURATIONS_KEPT:
            durations.popitem(last=False)

    def _reload(self, key: str, loader: Loader, stored: float | None, load_once: LoadOnce) -> None:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(
            load_once(key, loader, stored)
        )
        self._tasks.add(task)
        task.add_done_callback(self._reloaded)

    def _reloaded(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("cachekit: refreshing an entry failed: %r", task.exception())

    async def aclose(self) -> None:
        """Cancel the reloads still running."""
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
