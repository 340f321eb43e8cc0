"""``GuardedTags``: the Redis tier's tag index behind the stack's breaker and deadline.

``set_tagged`` and ``invalidate_tags`` (``cachekit.tags``) talk to the tag index directly,
not through the resilience layer's ``set``, so the index gets the same protection here:
no call while the circuit is open, each call bounded by the per-call budget, and each
failure counted by the breaker. A tagged write whose tags cannot be recorded is not
stored (``tag_keys`` answers False; strict mode raises); an invalidation whose index
cannot be read raises ``CacheUnavailableError``, so it never looks done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from cachekit.errors import CacheTimeoutError, CacheUnavailableError
from cachekit.layers.resilience.circuit import CircuitBreaker
from cachekit.protocol import RemoteTier

T = TypeVar("T")


class GuardedTags:
    """``remote``'s tag index; ``pad`` seconds are added to every entry's TTL (the longest
    ``refresh`` stale window: an entry served stale still has its tags)."""

    def __init__(
        self,
        remote: RemoteTier,
        breaker: CircuitBreaker,
        *,
        timeout: float,
        strict: bool,
        pad: float = 0.0,
    ) -> None:
        self.remote = remote
        self.breaker = breaker
        self.timeout = timeout
        self.strict = strict
        self.pad = pad

    async def tag_keys(self, key: str, tags: Sequence[str], ttl: float | None) -> bool:
        seconds = None if ttl is None else ttl + self.pad
        try:
            await self._run("SADD", self.remote.tag_keys(key, tags, seconds))
        except CacheUnavailableError:
            if self.strict:
                raise
            return False
        return True

    async def pop_tagged(self, tag: str, count: int) -> list[str]:
        return await self._run("SPOP", self.remote.pop_tagged(tag, count))

    async def _run(self, op: str, call: Coroutine[Any, Any, T]) -> T:
        breaker = self.breaker
        if not breaker.closed:
            call.close()
            raise CacheUnavailableError(f"redis {op} skipped, circuit open: {breaker.last_error}")
        try:
            async with asyncio.timeout(self.timeout):
                result = await call
        except CacheUnavailableError as exc:
            breaker.record_failure(str(exc))
            raise
        except TimeoutError as exc:
            error = CacheTimeoutError(f"redis {op}: no answer within {self.timeout:g}s")
            breaker.record_failure(str(error))
            raise error from exc
        return result
