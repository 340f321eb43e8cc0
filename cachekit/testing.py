"""Test doubles for apps that use cachekit: a fake clock, a recording cache, overrides.

::

    from cachekit.testing import FakeCache, override_cache

    def test_user_is_cached():
        cache = FakeCache()
        with override_cache(app, cache), TestClient(app) as client:
            client.get("/users/42")
        assert cache.calls[0] == Call("get_or_set", ("user:42",))

``FakeCache`` is a real ``InMemoryCache`` (same semantics as the memory tier) driven by a
``FakeClock`` you move by hand, that records every call and reports whatever health you
set. Importing this module does not import FastAPI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import msgspec

from cachekit.backends.memory import InMemoryCache
from cachekit.compat.ai import AIResponseCache
from cachekit.health import HealthReport, Status
from cachekit.protocol import TTL, UNSET, Loader

__all__ = ["Call", "FakeCache", "FakeClock", "override_cache", "running_app"]


class FakeClock:
    """A monotonic clock that tests move by hand (``advance``) instead of sleeping."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += seconds


class Call(msgspec.Struct, frozen=True):
    """One recorded call: the method name and its key (or keys, or pattern) arguments."""

    method: str
    args: tuple[Any, ...] = ()


class FakeCache(InMemoryCache):
    """An in-memory cache with a fake clock that records calls and reports set health."""

    def __init__(
        self,
        default_ttl: float | None = 60,
        max_size: int = 1000,
        *,
        clock: FakeClock | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        super().__init__(default_ttl, max_size, clock=self.clock)
        self.calls: list[Call] = []
        self.health_report = HealthReport(status="ok", tiers={"FakeCache": "ok"})
        self.connected = False
        self.closed = False

    def advance(self, seconds: float) -> None:
        """Move the cache's clock forward (entries expire as they would in real time)."""
        self.clock.advance(seconds)

    def set_health(self, status: Status, *reasons: str) -> None:
        """Make ``health()`` report ``status`` (``"degraded"`` simulates a Redis outage)."""
        self.health_report = HealthReport(
            status=status, reasons=reasons, tiers={"FakeCache": status}
        )

    def methods_called(self) -> list[str]:
        """The names of the recorded calls, in order."""
        return [call.method for call in self.calls]

    async def get(self, key: str, *, type: Any = None) -> Any:
        self.calls.append(Call("get", (key,)))
        return await super().get(key, type=type)

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        self.calls.append(Call("set", (key,)))
        await super().set(key, value, ttl)

    async def delete(self, key: str) -> bool:
        self.calls.append(Call("delete", (key,)))
        return await super().delete(key)

    async def exists(self, key: str) -> bool:
        self.calls.append(Call("exists", (key,)))
        return await super().exists(key)

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        wanted = list(keys)
        self.calls.append(Call("get_many", tuple(wanted)))
        return await super().get_many(wanted, type=type)

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        self.calls.append(Call("set_many", tuple(items)))
        await super().set_many(items, ttl)

    async def delete_many(self, keys: Iterable[str]) -> int:
        wanted = list(keys)
        self.calls.append(Call("delete_many", tuple(wanted)))
        return await super().delete_many(wanted)

    async def delete_matching(self, pattern: str) -> int:
        self.calls.append(Call("delete_matching", (pattern,)))
        return await super().delete_matching(pattern)

    async def clear(self) -> None:
        self.calls.append(Call("clear"))
        await super().clear()

    async def get_or_set(
        self, key: str, loader: Loader, ttl: TTL = UNSET, *, type: Any = None
    ) -> Any:
        self.calls.append(Call("get_or_set", (key,)))
        return await super().get_or_set(key, loader, ttl, type=type)

    async def connect(self) -> bool:
        self.connected = True
        return True

    async def aclose(self) -> None:
        self.closed = True

    async def health(self) -> HealthReport:
        return self.health_report


@asynccontextmanager
async def running_app(app: Any, *, base_url: str = "http://testserver") -> AsyncIterator[Any]:
    """An ``httpx.AsyncClient`` talking to ``app`` in process, with its lifespan running.

    ``httpx.ASGITransport`` alone never runs the lifespan; this runs it around the block
    and hands each request the lifespan's state, as a server would.
    """
    import httpx

    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@contextmanager
def override_cache(app: Any, cache: Any, *, ai_cache: Any = None) -> Iterator[Any]:
    """Make ``app``'s ``CacheDep`` give ``cache``, and ``AICacheDep`` an ``AIResponseCache``
    over it (or ``ai_cache``), inside the block; the previous overrides come back after."""
    from cachekit.web.deps import get_ai_cache, get_cache

    if ai_cache is None:
        ai_cache = cache if isinstance(cache, AIResponseCache) else AIResponseCache(inner=cache)
    overrides = app.dependency_overrides
    saved = {dep: overrides[dep] for dep in (get_cache, get_ai_cache) if dep in overrides}
    overrides[get_cache] = lambda: cache
    overrides[get_ai_cache] = lambda: ai_cache
    try:
        yield cache
    finally:
        for dep in (get_cache, get_ai_cache):
            overrides.pop(dep, None)
        overrides.update(saved)
