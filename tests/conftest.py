"""Shared fixtures: a throwaway redis-server per test (or per module), fake clocks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.redis_server import RedisServer, redis_binary

REQUIRE_REDIS = os.environ.get("CACHEKIT_REQUIRE_REDIS") == "1"


def _need_redis() -> None:
    if redis_binary() is None:
        if REQUIRE_REDIS:
            pytest.fail("CACHEKIT_REQUIRE_REDIS=1 but redis-server is not installed")
        pytest.skip("redis-server is not installed")


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[..., RedisServer]]:
    """Start redis-server processes with extra arguments; all are removed at teardown."""
    _need_redis()
    servers: list[RedisServer] = []

    def make(
        *args: str, tls: bool = False, start: bool = True, port: int | None = None
    ) -> RedisServer:
        server = RedisServer(args, tls=tls, port=port)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        server.cleanup()


@pytest.fixture
def redis_server(redis_server_factory: Callable[..., RedisServer]) -> RedisServer:
    """A fresh plain redis-server on a free port, owned by this test."""
    return redis_server_factory()


@pytest.fixture(scope="module")
def shared_redis_server() -> Iterator[RedisServer]:
    """One redis-server for a whole module (tests isolate by namespace, never flush)."""
    _need_redis()
    server = RedisServer().start()
    yield server
    server.cleanup()


class FakeClock:
    """A monotonic clock that tests move by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at t=1000."""
    return FakeClock()
