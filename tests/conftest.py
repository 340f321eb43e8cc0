"""Shared fixtures: a throwaway redis-server per test (or per module), fake clocks, and the
few fixtures that both halves of a split module (tests/unit and tests/integration) use."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cachekit.testing import FakeClock
from tests.helpers_canary import Capture
from tests.helpers_telemetry import Pipeline
from tests.redis_server import RedisServer, redis_binary
from tests.topologies import RedisCluster, SentinelSet, redis_cli

__all__ = ["FakeClock"]  # ``from tests.conftest import FakeClock`` still works

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


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 3-primary + 3-replica Redis Cluster for a whole module (tests isolate by namespace;
    one that kills a node heals the cluster before it ends)."""
    _need_redis()
    if redis_cli() is None:
        if REQUIRE_REDIS:
            pytest.fail("CACHEKIT_REQUIRE_REDIS=1 but redis-cli (redis-tools) is not installed")
        pytest.skip("redis-cli (redis-tools) is not installed")
    cluster = RedisCluster().start()
    yield cluster
    cluster.cleanup()


@pytest.fixture(scope="module")
def sentinel_set() -> Iterator[SentinelSet]:
    """A master, a replica and three sentinels for a whole module (healed after a kill)."""
    _need_redis()
    sentinels = SentinelSet().start()
    yield sentinels
    sentinels.cleanup()


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at t=1000."""
    return FakeClock()


# -- used by both halves of a split module -----------------------------------------------


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings root the CLI reads (cwd and CACHEKIT_SETTINGS_ROOT), with host
    ``CACHEKIT_*``, ``*_FOR_DYNACONF`` and ``OTEL_*`` variables cleared (test_cli,
    test_canary; test_posture has its own)."""
    for var in list(os.environ):
        if var.startswith("CACHEKIT_") or var.endswith("_FOR_DYNACONF") or var.startswith("OTEL_"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CACHEKIT_SETTINGS_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A process environment without CACHEKIT_* variables, settings root in tmp_path
    (test_check)."""
    for var in [v for v in os.environ if v.startswith("CACHEKIT_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("CACHEKIT_SETTINGS_ROOT", str(tmp_path))
    return monkeypatch


@pytest.fixture
def capture() -> Capture:
    """A fresh capture of everything a canary test saw (test_canary)."""
    return Capture()


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    """In-memory metrics, spans and logs, traced with every span sampled (test_telemetry)."""
    made = Pipeline()
    yield made
    made.shutdown()


@pytest.fixture
def untraced() -> Iterator[Pipeline]:
    """In-memory metrics and logs, no tracer provider (as an app without tracing;
    test_telemetry)."""
    made = Pipeline(tracing=False)
    yield made
    made.shutdown()
