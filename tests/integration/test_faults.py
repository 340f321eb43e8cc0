"""Fault injection on real redis-server processes: kill, pause, absence, restart, OOM,
a server that never answers, garbage entries, and a soak with two restarts.

Every scenario asserts that no exception reaches a caller, that no call outlives the
operation timeout plus ``MARGIN``, that no read returns a value that was never written
(or was written under another key, or has outlived its TTL), and that the cache is ``ok``
and serving from Redis within ``RECOVERY_BOUND`` of Redis listening again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any

import pytest
import redis.asyncio as aioredis

from cachekit import CacheConfig, CacheConfigBuilder, CacheUnavailableError, ResilientCache, resolve
from cachekit.backends.redis.backend import RedisBackend
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

TIMEOUT = 0.25
"""redis.socket_timeout: the operation timeout in these tests."""
MARGIN = 0.5
"""Scheduling slack allowed on top of the timeout on a busy two-core CI machine."""
CONNECT_TIMEOUT = 1.0
PROBE_CAP = 0.5
RECOVERY_BOUND = PROBE_CAP + TIMEOUT + 1.5
"""Stated bound: Redis listening again → ``ok`` and serving from Redis."""
TTL_SLACK = 0.05


def fault_config(url: str, **overrides: Any) -> CacheConfig:
    """A tiered stack on ``url`` in a fresh namespace, with the timeouts above."""
    settings = {
        "namespace": "f" + uuid.uuid4().hex[:10],
        "redis.url": url,
        "redis.socket_timeout": TIMEOUT,
        "redis.connect_timeout": CONNECT_TIMEOUT,
        "redis.max_connections": 8,
        "memory.max_entries": 500,
        "resilience.failure_threshold": 3,
        "resilience.probe_backoff_base": 0.1,
        "resilience.probe_backoff_cap": PROBE_CAP,
        **overrides,
    }
    return CacheConfigBuilder().with_preset("simple").with_overrides(settings).build()


def resilient(cache: Any) -> ResilientCache:
    """The resilience layer of a resolved stack (outer wrappers may sit around it)."""
    layer = cache
    while not isinstance(layer, ResilientCache):
        layer = layer.inner
    return layer


@contextlib.asynccontextmanager
async def opened(config: CacheConfig) -> AsyncIterator[tuple[Any, RedisBackend]]:
    """The resolved stack for ``config`` and a second, Redis-only "other process"."""
    cache, other = resolve(config), RedisBackend.from_config(config)
    try:
        yield cache, other
    finally:
        await cache.aclose()
        await other.aclose()


class Ledger:
    """Every value the workload wrote, so that each read can be checked against it."""

    def __init__(self) -> None:
        self.values: dict[str, list[Any]] = {}  # token -> [key, ttl, started, deadline]
        self.problems: list[str] = []
        self.resumed_at = 0.0
        """When a paused server resumed: writes it held may land then, TTL counting anew."""
        self._ids = iter(range(10**9))

    def new(self, key: str, ttl: float) -> dict[str, str]:
        token = str(next(self._ids))
        self.values[token] = [key, ttl, time.monotonic(), None]
        return {"key": key, "token": token}

    def written(self, value: dict[str, str]) -> None:
        record = self.values[value["token"]]
        record[3] = time.monotonic() + record[1]

    def check(self, key: str, value: Any, read_started: float) -> None:
        if value is None:
            return
        token = value.get("token") if isinstance(value, dict) else None
        record = self.values.get(token) if isinstance(token, str) else None
        if record is None:
            self.problems.append(f"{key}: value never written: {value!r}")
            return
        if record[0] != key:
            self.problems.append(f"{key}: value written under {record[0]}")
        deadline = record[3]
        if deadline is None:  # its write is still in flight
            return
        if record[2] < self.resumed_at:
            deadline = max(deadline, self.resumed_at + record[1])
        if read_started > deadline + TTL_SLACK:
            self.problems.append(f"{key}: read {read_started - deadline:.3f}s past its TTL")


OPS = ["get", "set", "get_many", "set_many", "delete", "exists", "get_or_set"]
WEIGHTS = [40, 25, 8, 5, 7, 5, 10]


class Workload:
    """``tasks`` tasks issuing mixed operations on ``keys`` keys until the block ends."""

    def __init__(self, cache: Any, ledger: Ledger, *, tasks: int = 64, keys: int = 200) -> None:
        self.cache = cache
        self.ledger = ledger
        self.tasks = tasks
        self.keys = keys
        self.errors: list[str] = []
        self.slow: list[tuple[str, float, float]] = []  # op, started, elapsed
        self.stalls: list[tuple[float, float]] = []
        """Windows in which the test itself blocked the event loop (heap snapshots)."""
        self.longest: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self._stop = False
        self._running: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Workload:
        self._running = [asyncio.create_task(self._loop(seed)) for seed in range(self.tasks)]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop = True
        await asyncio.gather(*self._running)

    async def _loop(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop:
            await self._one(rng)
            await asyncio.sleep(rng.uniform(0.002, 0.012))

    async def _one(self, rng: random.Random) -> None:
        cache, ledger = self.cache, self.ledger
        key = f"k{rng.randrange(self.keys)}"
        ttl = rng.choice((0.5, 1, 2, 3))
        op = rng.choices(OPS, WEIGHTS)[0]
        started = time.monotonic()
        try:
            if op == "get":
                result = await cache.get_result(key)
                ledger.check(key, result.value, started)
                self.counts[f"get:{result.status}"] += 1
            elif op == "set":
                value = ledger.new(key, ttl)
                await cache.set(key, value, ttl=ttl)
                ledger.written(value)
            elif op == "get_many":
                keys = [f"k{rng.randrange(self.keys)}" for _ in range(5)]
                for found_key, found in (await cache.get_many(keys)).items():
                    ledger.check(found_key, found, started)
            elif op == "set_many":
                items = {f"k{rng.randrange(self.keys)}": None for _ in range(4)}
                values = {k: ledger.new(k, ttl) for k in items}
                await cache.set_many(values, ttl=ttl)
                for value in values.values():
                    ledger.written(value)
            elif op == "delete":
                await cache.delete(key)
            elif op == "exists":
                await cache.exists(key)
            else:
                made: list[dict[str, str]] = []

                def loader() -> dict[str, str]:
                    made.append(ledger.new(key, ttl))
                    return made[-1]

                got = await cache.get_or_set(key, loader, ttl=ttl)
                for value in made:
                    ledger.written(value)
                ledger.check(key, got, started)
        except Exception as exc:
            self.errors.append(f"{op} {key}: {exc!r}")
        elapsed = time.monotonic() - started
        # get_or_set makes two bounded calls (get, then set).
        limit = (2 if op == "get_or_set" else 1) * TIMEOUT + MARGIN
        if elapsed > limit:
            self.slow.append((op, started, round(elapsed, 3)))
        self.longest[op] = max(self.longest.get(op, 0.0), elapsed)
        self.counts[op] += 1

    @contextlib.contextmanager
    def stall(self) -> Iterator[None]:
        """Mark a block that blocks the event loop: calls overlapping it are not timed."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.stalls.append((started, time.monotonic()))

    def assert_clean(self, min_ops: int = 200) -> None:
        slow = [
            (op, elapsed)
            for op, started, elapsed in self.slow
            if not any(a <= started + elapsed and started <= b for a, b in self.stalls)
        ]
        assert self.errors == [], self.errors[:5]
        assert slow == [], slow[:5]
        assert self.ledger.problems == [], self.ledger.problems[:5]
        assert sum(self.counts[op] for op in OPS) >= min_ops


async def until(predicate: Callable[[], Any], within: float, what: str) -> float:
    """Seconds until the async ``predicate()`` is true; fails after ``within`` seconds."""
    started = time.monotonic()
    while not await predicate():
        elapsed = time.monotonic() - started
        assert elapsed <= within, f"{what}: not within {within:.2f}s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def recovered(cache: Any, other: RedisBackend) -> bool:
    """``ok``, and a value another process just wrote to Redis is served as a hit."""
    if not (await cache.health()).ok:
        return False
    marker = "marker-" + uuid.uuid4().hex[:8]
    try:
        await other.set(marker, marker, ttl=30)
    except CacheUnavailableError:
        return False
    result = await cache.get_result(marker)
    return bool(result.status == "hit" and result.value == marker)


async def degraded_within(cache: Any, since: float) -> float:
    """Seconds from ``since`` until health() reports degraded (or unavailable)."""
    while True:
        report = await cache.health()
        elapsed = time.monotonic() - since
        if report.status != "ok":
            return elapsed
        assert elapsed <= TIMEOUT + MARGIN, "health() still ok"
        await asyncio.sleep(0.01)


async def test_faults_kill_under_64_task_load(redis_server: RedisServer) -> None:
    """kill -9 mid-load: no task sees an error, degraded at once, ok again after restart."""
    ledger = Ledger()
    async with opened(fault_config(redis_server.url)) as (cache, other):
        assert await cache.connect()
        async with Workload(cache, ledger, tasks=64) as work:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(redis_server.kill)
            killed = time.monotonic()
            FIGURES["kill: degraded after"] = await degraded_within(cache, killed)
            await asyncio.sleep(1.0)
            down_reads = work.counts["get:degraded"]
            await asyncio.to_thread(redis_server.start)
            FIGURES["kill: recovered after"] = await until(
                lambda: recovered(cache, other), RECOVERY_BOUND, "recovery"
            )
            hits_before = work.counts["get:hit"]
            await asyncio.sleep(0.7)
    work.assert_clean()
    assert down_reads > 0 and work.counts["get:hit"] > hits_before
    FIGURES["kill: longest call"] = max(work.longest.values())


async def test_faults_sigstop_then_sigcont(redis_server: RedisServer) -> None:
    """A paused server: every call returns within the timeout; resumed, the cache recovers."""
    ledger = Ledger()
    async with opened(fault_config(redis_server.url)) as (cache, other):
        assert await cache.connect()
        async with Workload(cache, ledger, tasks=64) as work:
            await asyncio.sleep(0.7)
            redis_server.pause()
            try:
                FIGURES["pause: degraded after"] = await degraded_within(cache, time.monotonic())
                await asyncio.sleep(1.5)
                started = time.monotonic()
                assert (await cache.health()).status == "degraded"
                assert time.monotonic() - started <= TIMEOUT + MARGIN
            finally:
                redis_server.resume()
            ledger.resumed_at = time.monotonic()
            FIGURES["pause: recovered after"] = await until(
                lambda: recovered(cache, other), RECOVERY_BOUND, "recovery"
            )
            await asyncio.sleep(0.5)
    work.assert_clean()
    FIGURES["pause: longest call"] = max(work.longest.values())


async def test_faults_redis_absent_at_start_then_started(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    """connect() returns False at once without Redis; the cache serves, then recovers."""
    server = redis_server_factory(start=False)
    ledger = Ledger()
    async with opened(fault_config(server.url)) as (cache, other):
        started = time.monotonic()
        assert await cache.connect() is False
        assert time.monotonic() - started <= CONNECT_TIMEOUT + TIMEOUT + MARGIN
        assert resilient(cache).state == "degraded"
        async with Workload(cache, ledger, tasks=16) as work:
            await asyncio.sleep(0.8)
            await asyncio.to_thread(server.start)
            FIGURES["absent: recovered after"] = await until(
                lambda: recovered(cache, other), RECOVERY_BOUND, "recovery"
            )
            await asyncio.sleep(0.5)
    work.assert_clean(min_ops=100)
    assert work.counts["get:degraded"] > 0 and work.counts["get:hit"] > 0


async def test_faults_restart_on_the_same_port(redis_server: RedisServer) -> None:
    """A graceful restart under load: no errors; ok and serving from Redis again after."""
    ledger = Ledger()
    async with opened(fault_config(redis_server.url)) as (cache, other):
        assert await cache.connect()
        async with Workload(cache, ledger, tasks=32) as work:
            await asyncio.sleep(0.7)
            await asyncio.to_thread(redis_server.restart)
            FIGURES["restart: recovered after"] = await until(
                lambda: recovered(cache, other), RECOVERY_BOUND, "recovery"
            )
            await asyncio.sleep(0.5)
    work.assert_clean()


async def test_faults_maxmemory_noeviction_refuses_writes(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    """OOM on writes degrades them to memory; once Redis has room, Redis values win again."""
    server = redis_server_factory("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    ledger = Ledger()
    raw = aioredis.Redis.from_url(server.url)
    try:
        filler = b"x" * 20_000
        for i in range(1000):
            try:
                await raw.set(f"filler:{i}", filler)
            except Exception:
                break
        else:
            pytest.fail("maxmemory never refused a write")
        async with opened(fault_config(server.url)) as (cache, other):
            assert await cache.connect()
            async with Workload(cache, ledger, tasks=32) as work:
                await asyncio.sleep(1.0)
                await cache.set("contested", "written while redis refused writes")
                assert await cache.get("contested") == "written while redis refused writes"
                report = await cache.health()
                assert report.status == "degraded" and "maxmemory" in " ".join(report.reasons)
                await raw.config_set("maxmemory", 0)
                FIGURES["oom: recovered after"] = await until(
                    lambda: recovered(cache, other), RECOVERY_BOUND, "recovery"
                )
                await other.set("contested", "newer, from another process")

                async def redis_value_wins() -> bool:
                    return bool(await cache.get("contested") == "newer, from another process")

                await until(redis_value_wins, RECOVERY_BOUND, "the Redis value served")
                await asyncio.sleep(0.3)
    finally:
        await raw.aclose()
    work.assert_clean()


class SilentServer:
    """Accepts TCP connections and never answers a byte."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> SilentServer:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        await reader.read()

    async def close(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()
        self.server = None


async def test_faults_server_that_never_answers(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    """A port that accepts and stays silent: bounded calls, degraded; a real Redis there
    later brings the cache back."""
    silent = await SilentServer().start()
    ledger = Ledger()
    try:
        async with opened(fault_config(f"redis://127.0.0.1:{silent.port}/0")) as (cache, other):
            started = time.monotonic()
            assert await cache.connect() is False
            FIGURES["silent: connect() returned after"] = elapsed = time.monotonic() - started
            assert elapsed <= CONNECT_TIMEOUT + TIMEOUT + MARGIN
            async with Workload(cache, ledger, tasks=32) as work:
                await asyncio.sleep(1.5)
                started = time.monotonic()
                report = await cache.health()
                assert report.status == "degraded"
                assert time.monotonic() - started <= TIMEOUT + MARGIN
                await silent.close()
                server = redis_server_factory(start=False, port=silent.port)
                await asyncio.to_thread(server.start)
                FIGURES["silent: recovered after"] = await until(
                    lambda: recovered(cache, other), RECOVERY_BOUND, "recovery"
                )
                await asyncio.sleep(0.3)
    finally:
        await silent.close()
    work.assert_clean(min_ops=100)


GARBAGE = [
    b"",
    b"\x00",
    b"plain text someone SET by hand",
    random.Random(4).randbytes(64),
    b"ck\x01\x00\x00",  # envelope, empty payload
    b"ck\x01\x01\x01" + b"\xff" * 32,  # claims zlib, is not
    b"ck\x07\x00\x00\xc0",  # unknown format version
    b"ck\x01\x00\x00\x81\xa1a\x01\xc1",  # a valid value followed by a reserved byte
]


@pytest.mark.parametrize("memory", [True, False])
async def test_faults_garbage_bytes_in_a_cache_key_read_as_a_miss(
    shared_redis_server: RedisServer, memory: bool
) -> None:
    """Bytes written straight into Redis under a cache key read back as a miss, not an outage."""
    config = fault_config(shared_redis_server.url, **{"memory.enabled": memory})
    raw = aioredis.Redis.from_url(shared_redis_server.url)
    try:
        async with opened(config) as (cache, _):
            await cache.set("real", {"text": "lorem ipsum " * 500})
            good = await raw.get(config.key_prefix + "real")
            assert good is not None
            payloads = [*GARBAGE, good[: len(good) // 2]]
            for i, payload in enumerate(payloads):
                await raw.set(f"{config.key_prefix}g{i}", payload)
            for i in range(len(payloads)):
                result = await cache.get_result(f"g{i}")
                assert (result.status, result.value) == ("miss", None), payloads[i]
            assert await cache.get_many([f"g{i}" for i in range(len(payloads))]) == {}
            assert await cache.get_or_set("g0", lambda: "reloaded") == "reloaded"
            assert (await cache.health()).ok
            assert resilient(cache).breaker.closed
            await cache.clear()
    finally:
        await raw.aclose()


async def test_faults_soak_with_two_restarts_keeps_memory_flat(redis_server: RedisServer) -> None:
    """~20 s of mixed load with a kill -9 and a graceful restart: clean, bounded, flat."""
    ledger = Ledger()
    config = fault_config(redis_server.url, **{"memory.max_entries": 200})
    tasks_before = len(asyncio.all_tasks())
    async with opened(config) as (cache, other):
        layer = resilient(cache)
        assert await cache.connect()
        tracemalloc.start()
        try:
            async with Workload(cache, ledger, tasks=24, keys=400) as work:
                await asyncio.sleep(3.0)
                await asyncio.to_thread(redis_server.kill)
                await asyncio.sleep(1.5)
                await asyncio.to_thread(redis_server.start)
                await until(lambda: recovered(cache, other), RECOVERY_BOUND, "first recovery")
                await asyncio.sleep(3.0)
                with work.stall():
                    gc.collect()
                    warm = _traced(tracemalloc.take_snapshot())
                await asyncio.to_thread(redis_server.restart)
                await until(lambda: recovered(cache, other), RECOVERY_BOUND, "second recovery")
                await asyncio.sleep(7.0)
            gc.collect()
            end = _traced(tracemalloc.take_snapshot())
        finally:
            tracemalloc.stop()
        await until(_settled(layer), 2.0, "journal settled")
        memory = layer.memory
        assert memory.entries <= 200 and memory.max_bytes is not None
        assert memory.bytes_used <= memory.max_bytes
        assert layer._inflight == {} and layer.journal.lost_invalidations == 0
    work.assert_clean(min_ops=2000)
    FIGURES["soak: ops"] = sum(work.counts[op] for op in OPS)
    FIGURES["soak: heap growth (bytes)"] = end - warm
    assert end - warm < 512 * 1024, f"heap held by cachekit/redis grew by {end - warm} bytes"
    assert len(asyncio.all_tasks()) <= tasks_before


def _traced(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes still allocated from cachekit's and redis-py's own code."""
    filters = [
        tracemalloc.Filter(True, "*/cachekit/*"),
        tracemalloc.Filter(True, "*/redis/*"),
    ]
    return sum(stat.size for stat in snapshot.filter_traces(filters).statistics("filename"))


def _settled(layer: ResilientCache) -> Callable[[], Any]:
    async def check() -> bool:
        return not layer.journal.pending

    return check


FIGURES: dict[str, float] = {}
"""Measured figures, printed at the end of the module (``pytest -s``)."""


@pytest.fixture(scope="module", autouse=True)
def _print_figures() -> Any:
    """Print the measured figures once the module's tests have run."""
    yield
    for name, value in FIGURES.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
