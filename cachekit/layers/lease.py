"""``Leases``: one loader run across processes for a missing key (``get_or_set``).

Inside one process, concurrent callers of ``get_or_set`` already share one loader run
(single flight in ``CacheInterface``). Across processes the first one to take the key's
lease in Redis (``SET lease token NX PX``) loads; the others wait for its write and read
the value it stored::

    process A: lease taken ── load (0.5 s) ── SET key ── release lease
    process B: lease held by A ── wait ............ woken by the SET ── GET key

A waiter is woken by the report of the holder's write (tracking), or, without tracking,
looks again after a growing pause (25 ms doubling to 250 ms). The lease expires after
``redis.lease_seconds`` if its holder dies, and only the holder's token releases it. When
Redis cannot be asked, the lease is skipped: per-process single flight still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from cachekit.errors import CacheUnavailableError
from cachekit.layers.coherence import Coherence
from cachekit.protocol import RemoteTier

_FIRST_PAUSE: Final = 0.025
_LONGEST_PAUSE: Final = 0.25


class Leases:
    """Takes, waits for and gives back the loading leases of one stack's remote tier.

    ``read`` fetches a key from the remote tier (and may promote it); ``timeout`` bounds
    each lease command (the stack's per-call budget). ``waits`` counts the waits done.
    """

    def __init__(
        self,
        remote: RemoteTier,
        coherence: Coherence,
        read: Callable[[str], Awaitable[Any]],
        *,
        seconds: float,
        timeout: float,
    ) -> None:
        self.remote = remote
        self.coherence = coherence
        self.read = read
        self.seconds = seconds
        self.timeout = timeout
        self.waits = 0

    async def claim(self, key: str) -> tuple[Any, str | None]:
        """``(value, None)`` when another process loaded ``key`` meanwhile; else
        ``(None, token)`` once this caller holds the lease (``token`` None: Redis could not
        be asked, load anyway)."""
        deadline = time.monotonic() + self.seconds
        pause = _FIRST_PAUSE
        while True:
            token = await self._acquire(key)
            if token != "":
                return None, token
            self.waits += 1
            left = deadline - time.monotonic()
            if left <= 0:
                deadline = time.monotonic() + self.seconds  # the holder outlived its lease
                left = self.seconds
            if not await self.coherence.wait_for(key, left):
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 2, _LONGEST_PAUSE)
            try:
                async with asyncio.timeout(self.timeout):
                    value = await self.read(key)
            except (CacheUnavailableError, TimeoutError):
                return None, None
            if value is not None:
                return value, None

    async def release(self, key: str, token: str | None) -> None:
        """Give the lease back (nothing when it was not taken); failures are left to expiry."""
        if token is None:
            return
        with contextlib.suppress(CacheUnavailableError, TimeoutError):
            async with asyncio.timeout(self.timeout):
                await self.remote.release_lease(key, token)

    async def _acquire(self, key: str) -> str | None:
        """The lease's token; ``""`` when another holder has it; None when Redis failed."""
        try:
            async with asyncio.timeout(self.timeout):
                token = await self.remote.acquire_lease(key, self.seconds)
        except (CacheUnavailableError, TimeoutError):
            return None
        return "" if token is None else token
