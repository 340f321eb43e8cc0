"""Coherence of the memory tier on real redis-server processes: what one worker (an OS
process of its own) writes, deletes or flushes, another sees within the stated bound, and
no read puts back into memory what a change superseded."""

from __future__ import annotations

import asyncio
import bisect
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from cachekit import CacheConfig, CacheConfigBuilder, CacheInterface, resolve
from cachekit.layers.wrapper import memory_tier
from tests.helpers_workers import Worker, within
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

LAG = 0.1
"""The bound: another process sees a change within 100 ms."""


def overrides(server: RedisServer, **extra: Any) -> dict[str, Any]:
    return {
        "redis.url": server.url,
        "memory.coherence": "tracking",
        "memory.max_entries": 5000,
        "redis.socket_timeout": 1.0,
        **extra,
    }


def config(server: RedisServer, **extra: Any) -> CacheConfig:
    return (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_overrides({"monitoring.enabled": False, **overrides(server, **extra)})
        .build()
    )


@pytest.fixture
def pair(redis_server: RedisServer) -> Iterator[tuple[Worker, Worker]]:
    """Two worker processes with stacks of their own on one redis-server."""
    a, b = Worker(overrides(redis_server)), Worker(overrides(redis_server))
    yield a, b
    a.stop()
    b.stop()


def cached_in(worker: Worker, key: str, value: Any) -> None:
    """``worker`` reads ``key`` until its memory tier holds ``value`` (the report of the
    write that stored it may still be on its way and drop the first copy)."""

    def held() -> bool:
        assert worker.call("get", key=key) == value
        return bool(worker.call("memory", key=key) == value)

    within(1.0, held)


# -- two processes -------------------------------------------------------------------------
def test_coherence_workers_track_their_redis(pair: tuple[Worker, Worker]) -> None:
    """Each worker's health shows the memory tier kept coherent by tracking."""
    for worker in pair:
        assert worker.ready["ready"]["tiers"]["coherence"] == "tracking"


@pytest.mark.parametrize(
    "operation",
    ["set", "delete", "delete_many", "invalidate_pattern", "invalidate_by_operation", "clear"],
)
def test_coherence_another_process_sees_the_change_within_100ms(
    pair: tuple[Worker, Worker], operation: str
) -> None:
    """B holds the old value in memory; after A's change B returns the new state within
    100 ms, every time (20 rounds)."""
    a, b = pair
    lags = []
    for round_ in range(20):
        if operation == "invalidate_by_operation":
            key = a.call("build_key", text=f"text {round_}", operation="summarize")
        else:
            key = f"user:{round_}"
        a.call("set", key=key, value={"v": 1})
        cached_in(b, key, {"v": 1})
        if operation == "set":
            a.call("set", key=key, value={"v": 2})
            expected: Any = {"v": 2}
        elif operation == "delete":
            a.call("delete", key=key)
            expected = None
        elif operation == "delete_many":
            a.call("delete_many", keys=[key, "other"])
            expected = None
        elif operation == "invalidate_pattern":
            a.call("invalidate_pattern", pattern="user:*")
            expected = None
        elif operation == "invalidate_by_operation":
            a.call("invalidate_by_operation", operation="summarize")
            expected = None
        else:
            a.call("clear")
            expected = None
        lags.append(
            within(LAG, lambda key=key, expected=expected: b.call("get", key=key) == expected)
        )
    assert max(lags) <= LAG


# -- events that lose certainty ----------------------------------------------------------------
async def _drop_everything(server: RedisServer, how: str) -> None:
    client = aioredis.Redis(host="127.0.0.1", port=server.port)
    try:
        if how == "flushall":
            await client.flushall()
        elif how == "client_kill":
            await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # the tracking one
            await client.flushall()  # what it missed meanwhile must not be served
        elif how == "eviction":
            filler = "x" * 10_000
            for i in range(2000):  # far more than maxmemory holds: the LRU key goes
                await client.set(f"filler:{i}", filler)
    finally:
        await client.aclose()


@pytest.mark.parametrize("how", ["flushall", "restart", "client_kill", "eviction"])
async def test_coherence_no_value_redis_no_longer_holds_after_1s(
    redis_server_factory: Any, how: str
) -> None:
    """After a FLUSHALL, a restart of redis-server (empty), a CLIENT KILL of the tracking
    connection, or an eviction under maxmemory, B serves no value Redis does not hold."""
    args = ("--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru") if how == "eviction" else ()
    server = redis_server_factory(*args)
    b = Worker(overrides(server))
    try:
        keys = [f"k{i}" for i in range(20)]
        for key in keys:
            b.call("set", key=key, value=key)
            cached_in(b, key, key)
        if how == "restart":
            server.restart()
        else:
            await _drop_everything(server, how)
        time.sleep(1.0)
        check = aioredis.Redis(host="127.0.0.1", port=server.port)
        try:
            held = {key for key in keys if await check.exists(config(server).key_prefix + key)}
        finally:
            await check.aclose()
        if how != "eviction":
            assert held == set()
        assert len(held) < len(keys)  # the event did remove keys from Redis
        served = {key for key in keys if b.call("get", key=key) is not None}
        assert served <= held
    finally:
        b.stop()


# -- races inside one process --------------------------------------------------------------------
@pytest.mark.parametrize("coherence", ["local", "tracking"])
async def test_coherence_read_racing_delete_never_resurrects(
    redis_server: RedisServer, coherence: str
) -> None:
    """A get whose Redis read is in flight when a delete runs does not put the deleted value
    back into memory: 0 resurrections in 500 trials."""
    cache = resolve(config(redis_server, **{"memory.coherence": coherence}))
    async with cache:
        memory = memory_tier(cache)
        assert memory is not None
        resurrected = 0
        for trial in range(500):
            key = f"race:{trial}"
            await cache.set(key, "old")
            await memory.delete(key)  # the next get reads Redis
            read = asyncio.create_task(cache.get(key))
            await asyncio.sleep(0)  # the read is on its way
            await cache.delete(key)
            await read
            resurrected += await memory.get(key) is not None
        assert resurrected == 0


async def test_coherence_mixed_operations_match_a_model(redis_server: RedisServer) -> None:
    """256 tasks of mixed set/get/delete on 50 keys for 10 s, spread over two stacks in one
    process: no get returns a value that a completed set or delete had superseded before
    the get began."""
    stacks = [resolve(config(redis_server)), resolve(config(redis_server))]
    clock = 0
    writes: dict[str, list[tuple[int, int, Any]]] = {f"m{i}": [] for i in range(50)}
    reads: list[tuple[str, int, int, Any]] = []
    stop = time.monotonic() + 10.0

    def tick() -> int:
        nonlocal clock
        clock += 1
        return clock

    async def worker(n: int) -> None:
        rng = random.Random(n)
        serial = 0
        while time.monotonic() < stop:
            cache = rng.choice(stacks)
            key = rng.choice(list(writes))
            roll = rng.random()
            start = tick()
            if roll < 0.3:
                serial += 1
                value = f"{key}:{n}:{serial}"
                await cache.set(key, value)
                writes[key].append((start, tick(), value))
            elif roll < 0.4:
                await cache.delete(key)
                writes[key].append((start, tick(), None))
            else:
                value = await cache.get(key)
                reads.append((key, start, tick(), value))

    for stack in stacks:
        await stack.connect()
    try:
        await asyncio.gather(*(worker(n) for n in range(256)))
    finally:
        for stack in stacks:
            await stack.aclose()

    # A write is superseded for a read that began at ``began`` when another write of the
    # key started after it ended and ended before ``began``: precompute, per write, the
    # earliest end of a write that started after it ended.
    earliest: dict[tuple[str, int], int] = {}
    for key, history in writes.items():
        ordered = sorted(history)
        starts = [w[0] for w in ordered]
        suffix = [clock + 1] * (len(ordered) + 1)
        for i in range(len(ordered) - 1, -1, -1):
            suffix[i] = min(suffix[i + 1], ordered[i][1])
        for write in ordered:
            earliest[(key, write[0])] = suffix[bisect.bisect_right(starts, write[1])]

    by_value = {w[2]: (key, w) for key, history in writes.items() for w in history if w[2]}
    # Per key: deletes by start, with the best (latest) "earliest superseding end" so far.
    deletes: dict[str, tuple[list[int], list[int]]] = {}
    first_end: dict[str, int] = {}
    for key, history in writes.items():
        ordered = sorted(w for w in history if w[2] is None)
        best, running = [], -1
        for write in ordered:
            running = max(running, earliest[(key, write[0])])
            best.append(running)
        deletes[key] = ([w[0] for w in ordered], best)
        first_end[key] = min((w[1] for w in history), default=clock + 1)

    wrong = []
    for key, began, ended, value in reads:
        if value is None:
            starts, best = deletes[key]
            i = bisect.bisect_left(starts, ended)  # deletes that started before the read ended
            ok = first_end[key] >= began or (i > 0 and best[i - 1] >= began)
        else:
            owner, write = by_value[value]
            ok = owner == key and write[0] < ended and earliest[(key, write[0])] >= began
        if not ok:
            wrong.append((key, value))
    assert len(reads) > 1000
    assert wrong == []


# -- one loader across processes ------------------------------------------------------------------
def test_lease_one_loader_run_across_8_processes(redis_server: RedisServer) -> None:
    """8 processes x 16 tasks ask for one missing key with a 0.5 s loader: the loader runs
    once, and every process returns the same value."""
    workers = [Worker(overrides(redis_server)) for _ in range(8)]
    try:
        for worker in workers:
            worker.send("get_or_set", key="hot", tasks=16, load_seconds=0.5)
        answers = [worker.answer(timeout=30) for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
    assert sum(answer["loads"] for answer in answers) == 1
    values = {value for answer in answers for value in answer["value"]}
    assert len(values) == 1


def test_lease_holder_killed_mid_load_is_taken_over(redis_server: RedisServer) -> None:
    """The process holding the lease dies mid-load: another loads once the lease expires."""
    extra = {"redis.lease_seconds": 1.0}
    holder = Worker(overrides(redis_server, **extra))
    waiter = Worker(overrides(redis_server, **extra))
    try:
        holder.send("get_or_set", key="hot", tasks=1, load_seconds=30)
        time.sleep(0.3)  # the holder has the lease and is loading
        waiter.send("get_or_set", key="hot", tasks=4, load_seconds=0.1)
        time.sleep(0.2)
        holder.kill()
        started = time.monotonic()
        answer = waiter.answer(timeout=10)
        taken_over_after = time.monotonic() - started
    finally:
        holder.stop()
        waiter.stop()
    assert answer["loads"] == 1
    assert set(answer["value"]) == {f"loaded by {waiter.pid}"}
    assert taken_over_after < 1.0 + 1.0  # within the lease, plus the wait's last pause


# -- cancellation and outages ----------------------------------------------------------
@pytest.mark.parametrize("auto_pipeline", [True, False])
async def test_coherence_cancellation_storm(redis_server: RedisServer, auto_pipeline: bool) -> None:
    """64 tasks on 1,000 keys, random cancels and 0.1-5 ms timeouts, Redis paused and
    resumed: no value of another key, no CancelledError in a task nobody cancelled, and
    after recovery memory serves nothing Redis does not hold."""
    cfg = config(
        redis_server,
        **{
            "redis.auto_pipeline": auto_pipeline,
            "redis.socket_timeout": 0.2,
            "resilience.probe_backoff_base": 0.05,
            "resilience.probe_backoff_cap": 0.2,
        },
    )
    cache: CacheInterface = resolve(cfg)
    keys = [f"s{i}" for i in range(1000)]
    wrong_key: list[tuple[str, Any]] = []
    unasked_cancels = 0
    stop = time.monotonic() + 3.0

    async def one(rng: random.Random) -> None:
        key = rng.choice(keys)
        roll = rng.random()
        if roll < 0.3:
            await cache.set(key, f"{key}:{rng.random()}")
        elif roll < 0.4:
            await cache.delete(key)
        elif roll < 0.5:
            batch = rng.sample(keys, 5)
            found = await cache.get_many(batch)
            wrong_key.extend((k, v) for k, v in found.items() if not str(v).startswith(k + ":"))
        elif roll < 0.6:
            value = await cache.get_or_set(key, lambda: f"{key}:loaded")
            if not str(value).startswith(key + ":"):
                wrong_key.append((key, value))
        else:
            value = await cache.get(key)
            if value is not None and not str(value).startswith(key + ":"):
                wrong_key.append((key, value))

    async def task(n: int) -> None:
        nonlocal unasked_cancels
        rng = random.Random(n)
        while time.monotonic() < stop:
            call = asyncio.ensure_future(one(rng))
            mode = rng.random()
            try:
                if mode < 0.1:
                    await asyncio.sleep(rng.uniform(0, 0.002))
                    call.cancel()
                    await asyncio.gather(call, return_exceptions=True)
                elif mode < 0.3:
                    await asyncio.wait_for(call, rng.uniform(0.0001, 0.005))
                else:
                    await call
            except TimeoutError:
                pass
            except asyncio.CancelledError:
                unasked_cancels += 1  # nobody cancelled this task
                if asyncio.current_task() is not None:
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]

    async def outage() -> None:
        await asyncio.sleep(1.0)
        redis_server.pause()
        await asyncio.sleep(0.7)
        redis_server.resume()

    logging.getLogger("cachekit").setLevel(logging.ERROR)
    async with cache:
        await asyncio.gather(outage(), *(task(n) for n in range(64)))
        deadline = time.monotonic() + 10
        while (await cache.health()).status != "ok":
            assert time.monotonic() < deadline, "no recovery"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # outage writes settled, tracking back
        check = aioredis.Redis(host="127.0.0.1", port=redis_server.port)
        memory = memory_tier(cache)
        assert memory is not None
        stale = []
        try:
            from cachekit.backends.codec import Codec

            codec = Codec.from_config(cfg.compression)
            for key in keys:
                held = await memory.get(key)
                if held is None:
                    continue
                raw = await check.get(cfg.key_prefix + key)
                if raw is None or codec.decode(raw) != held:
                    stale.append(key)
        finally:
            await check.aclose()
    assert wrong_key == []
    assert unasked_cancels == 0
    assert stale == []


# -- a user that cannot track ----------------------------------------------------------
async def test_coherence_acl_user_without_client_permission_is_bounded(
    redis_server_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An ACL user without CLIENT TRACKING: the stack falls back to bounded, says so, and no
    memory entry outlives memory.max_stale_seconds."""
    server = redis_server_factory(
        "--user", "default", "off",
        "--user", "app", "on", ">app-password-1234", "~*", "&*", "+@all", "-client",
        "+client|setname", "+client|info",
    )  # fmt: skip
    url = f"redis://app:app-password-1234@127.0.0.1:{server.port}/0"
    cfg = (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_overrides(
            {
                "redis.url": url,
                "monitoring.enabled": False,
                "memory.coherence": "tracking",
                "memory.max_stale_seconds": 2.0,
            }
        )
        .build()
    )
    cache = resolve(cfg)
    with caplog.at_level(logging.WARNING, logger="cachekit"):
        async with cache:
            report = await cache.health()
            assert report.status == "ok"
            assert report.tiers["coherence"].startswith("bounded")
            assert "unsupported" in report.tiers["coherence"]
            await cache.set("k", "v", ttl=3600)
            memory = memory_tier(cache)
            assert memory is not None
            await memory.delete("k")
            assert await cache.get("k") == "v"
            ttl = await memory.get_ttl("k")
            assert ttl is not None and ttl <= 2.0
    assert any("cannot track" in record.getMessage() for record in caplog.records)


# -- telemetry ---------------------------------------------------------------------------------
async def test_coherence_telemetry_counts_reports_lag_refusals_flushes_and_lease_waits(
    redis_server: RedisServer, pipeline: Any
) -> None:
    """The coherence metrics reach OpenTelemetry: reports received, their lag, the tracking
    gauge, flushes by reason, lease waits; and an alert fires while tracking is down."""
    from cachekit.telemetry.attach import instrument_around

    cfg = config(redis_server, **{"monitoring.degraded_alert_seconds": 0.05})
    watched = instrument_around(resolve(cfg), pipeline.telemetry)
    other = resolve(cfg)
    async with watched, other:
        await watched.set("k", 1)
        await asyncio.sleep(0.05)  # Redis reports the write: the lag of this process's write
        assert await watched.get("k") == 1
        await other.set("k", 2)  # a report from another stack
        await asyncio.sleep(0.05)

        release = asyncio.Event()

        async def slow() -> str:
            await release.wait()
            return "loaded"

        loading = asyncio.create_task(other.get_or_set("hot", slow))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(watched.get_or_set("hot", lambda: "not me"))
        await asyncio.sleep(0.05)
        release.set()
        assert await loading == "loaded" and await waiting == "loaded"

        killer = aioredis.Redis(host="127.0.0.1", port=redis_server.port)
        await killer.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # reconnects at once
        await killer.aclose()
        redis_server.pause()  # PINGs go unanswered: tracking is lost and stays down
        try:
            await asyncio.sleep(1.3)
            watched.monitor.evaluate()
            await asyncio.sleep(0.1)
            watched.monitor.evaluate()
            rules = {alert.rule for alert in watched.monitor.active_alerts}
        finally:
            redis_server.resume()
        assert "tracking" in rules

    def total(name: str) -> float:
        return sum(point.value for _, point in pipeline.points(name))

    assert total("cachekit.coherence.invalidations") >= 2
    assert total("cachekit.lease.waits") >= 1
    lags = [point for _, point in pipeline.points("cachekit.coherence.lag")]
    assert lags and sum(point.count for point in lags) >= 1
    reasons = {
        attrs["cache.flush.reason"] for attrs, _ in pipeline.points("cachekit.coherence.flushes")
    }
    assert {"tracking started", "tracking lost"} <= reasons
