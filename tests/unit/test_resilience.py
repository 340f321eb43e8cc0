"""Resilience logic on fakeredis and a fake clock: breaker, degradation, recovery rules."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest
from redis.backoff import ExponentialBackoff

from cachekit import (
    CacheConfig,
    CacheConfigBuilder,
    CacheTimeoutError,
    CacheUnavailableError,
    CacheValueError,
    CircuitBreaker,
    CircuitState,
    GetResult,
    InMemoryCache,
    ResilientCache,
    StateChange,
    TieredCache,
    resolve,
)
from cachekit.backends.redis.backend import RedisBackend
from cachekit.cli.check import EXIT_UNFIT, run_check
from cachekit.layers.resilience.outage import MAX_DELETES, OutageJournal
from tests.conftest import FakeClock

FAST = {
    "redis.url": "redis://fake:6379/0",
    "redis.socket_timeout": 0.2,
    "redis.connect_timeout": 0.2,
    "resilience.failure_threshold": 2,
    "resilience.probe_backoff_base": 0.01,
    "resilience.probe_backoff_cap": 0.05,
    # fakeredis cannot track keys: these tests are about failures, not coherence
    "memory.coherence": "local",
}


def resilient_over(
    remote: RedisBackend, cfg: CacheConfig, *, memory: InMemoryCache | None = None
) -> ResilientCache:
    """``ResilientCache`` over ``remote`` as ``resolve`` builds it from ``cfg``: the memory
    tier in front, or a standby cache when there is none."""
    return ResilientCache(
        remote,
        cfg.resilience,
        cfg.budget,
        memory=memory,
        standby=None if memory is not None else InMemoryCache(),
        strict=cfg.redis.fail_on_connection_error,
    )


def config(**overrides: Any) -> CacheConfig:
    """The ``simple`` preset with fast resilience settings and dotted overrides."""
    return CacheConfigBuilder().with_preset("simple").with_overrides({**FAST, **overrides}).build()


def resilient(cache: Any) -> ResilientCache:
    """The resilience layer of a resolved stack (telemetry may wrap it)."""
    while not isinstance(cache, ResilientCache):
        cache = cache.inner
    return cache


class Stack:
    """A resolved stack on a fakeredis server that tests can take down and bring back."""

    def __init__(self, **overrides: Any) -> None:
        self.server = fakeredis.FakeServer()
        self.client = fakeredis.FakeAsyncRedis(server=self.server)
        self.other = fakeredis.FakeAsyncRedis(server=self.server)
        self.config = config(**overrides)
        self.outer = resolve(self.config, redis_client=self.client)
        self.cache = resilient(self.outer)
        self.prefix = self.config.key_prefix

    async def aclose(self) -> None:
        self.up()
        await self.outer.aclose()

    def down(self) -> None:
        self.server.connected = False

    def up(self) -> None:
        self.server.connected = True

    async def wait_ok(self, within: float = 3.0) -> float:
        """Seconds until the cache reports ``ok`` on its own (fails after ``within``)."""
        started = time.monotonic()
        while self.cache.state != "ok":
            assert time.monotonic() - started < within, "no recovery"
            await asyncio.sleep(0.01)
        return time.monotonic() - started


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """A tiered stack (memory + fakeredis) behind the resilience layer."""
    made = Stack()
    yield made
    await made.aclose()


# -- CircuitBreaker ---------------------------------------------------------------------
def breaker(clock: FakeClock, threshold: int = 3) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []
    made = CircuitBreaker(
        threshold,
        ExponentialBackoff(cap=4.0, base=0.5),
        clock=clock,
        on_change=lambda a, b, _: changes.append((a.value, b.value)),
    )
    return made, changes


def test_circuit_breaker_opens_after_consecutive_failures(clock: FakeClock) -> None:
    """The circuit opens at the threshold of consecutive failures, not before."""
    cb, changes = breaker(clock)
    cb.record_failure("a")
    cb.record_failure("b")
    assert cb.closed
    cb.record_failure("c")
    assert cb.state is CircuitState.OPEN
    assert cb.last_error == "c"
    assert changes == [("closed", "open")]


def test_circuit_breaker_success_resets_the_count(clock: FakeClock) -> None:
    """A success between failures starts the count again."""
    cb, _ = breaker(clock)
    for _ in range(5):
        cb.record_failure("x")
        cb.record_failure("x")
        cb.record_success()
    assert cb.closed and cb.failures == 0


def test_circuit_breaker_probes_with_doubling_backoff_up_to_cap(clock: FakeClock) -> None:
    """Probes are due after base, then 2x, 4x ... seconds, never more than cap."""
    cb, _ = breaker(clock, threshold=1)
    cb.record_failure("down")
    waits = []
    for _ in range(6):
        waits.append(cb.seconds_until_probe())
        assert not cb.begin_probe()
        clock.advance(cb.seconds_until_probe())
        assert cb.begin_probe()
        assert cb.state is CircuitState.HALF_OPEN
        cb.record_failure("still down")
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_circuit_breaker_closes_on_probe_success(clock: FakeClock) -> None:
    """A successful probe closes the circuit and resets the backoff."""
    cb, changes = breaker(clock, threshold=1)
    cb.record_failure("down")
    clock.advance(0.5)
    assert cb.begin_probe()
    cb.record_success()
    assert cb.closed and cb.failed_probes == 0 and cb.open_for() == 0.0
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    cb.record_failure("again")
    assert cb.seconds_until_probe() == 0.5


def test_circuit_breaker_ignores_late_success_while_open(clock: FakeClock) -> None:
    """A success from a call begun before the failures does not close an open circuit."""
    cb, _ = breaker(clock, threshold=1)
    cb.record_failure("down")
    cb.record_success()
    assert cb.state is CircuitState.OPEN


def test_circuit_breaker_trip_opens_at_once(clock: FakeClock) -> None:
    """``trip`` opens whatever the count, and reports how long the circuit has been open."""
    cb, _ = breaker(clock, threshold=10)
    cb.trip("probe failed")
    assert cb.state is CircuitState.OPEN
    clock.advance(3)
    assert cb.open_for() == 3


def test_circuit_breaker_from_config_uses_jittered_backoff_within_bounds(clock: FakeClock) -> None:
    """The configured breaker waits between half and all of base * 2**n, capped."""
    cb = CircuitBreaker.from_config(config().resilience, clock=clock)
    assert cb.failure_threshold == 2
    cb.trip("down")
    assert 0.005 <= cb.seconds_until_probe() <= 0.01


# -- degradation ------------------------------------------------------------------------
async def test_resilient_cache_serves_from_memory_while_redis_is_down(stack: Stack) -> None:
    """No call raises: reads miss or hit memory, writes land in memory."""
    cache = stack.cache
    await cache.set("before", 1)
    stack.down()
    assert await cache.get("missing") is None
    await cache.set("during", {"v": 2})
    assert await cache.get("during") == {"v": 2}
    assert await cache.get("before") == 1
    assert await cache.exists("during") is True
    await cache.set_many({"a": 1, "b": 2})
    assert await cache.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    assert await cache.delete("a") is True
    assert await cache.delete_many(["b", "zz"]) == 1
    assert await cache.delete_matching("dur*") == 1
    assert await cache.get_or_set("loaded", lambda: "x") == "x"
    await cache.clear()
    assert await cache.get("before") is None
    assert cache.state == "degraded"


async def test_resilient_cache_get_result_tells_hit_miss_and_degraded(stack: Stack) -> None:
    """get_result says hit or miss when Redis answered, degraded when it could not."""
    cache = stack.cache
    await cache.set("k", "v")
    assert await cache.get_result("k") == GetResult("hit", "v")
    assert await cache.get_result("nope") == GetResult("miss")
    stack.down()
    during = await cache.get_result("nope")
    assert during.status == "degraded" and during.value is None and during.degraded
    assert during.reason is not None and "redis" in during.reason
    assert (await cache.get_result("k")) == GetResult("hit", "v")  # memory needs no Redis
    await cache.get("nope")  # the second failure opens the circuit
    held = await cache.get_result("k")
    assert held.degraded and held.found and held.value == "v"


async def test_resilient_cache_health_reports_reasons_and_recovers(stack: Stack) -> None:
    """health() is ok, then degraded with reasons while down, then ok again by itself."""
    cache = stack.cache
    assert (await cache.health()).status == "ok"
    stack.down()
    report = await cache.health()
    assert report.status == "degraded" and report.serving
    assert any("redis" in r for r in report.reasons)
    assert report.tiers["redis"] == "failing"
    stack.up()
    await stack.wait_ok()
    assert (await cache.health()).ok


async def test_resilient_cache_calls_state_change_callbacks(stack: Stack) -> None:
    """Subscribers hear ok→degraded and degraded→ok once each, until they unsubscribe."""
    seen: list[StateChange] = []
    unsubscribe = stack.cache.on_state_change(seen.append)
    stack.down()
    for _ in range(3):
        await stack.cache.get("k")
    stack.up()
    await stack.wait_ok()
    assert [(c.previous, c.current) for c in seen] == [("ok", "degraded"), ("degraded", "ok")]
    assert seen[0].reason
    unsubscribe()
    stack.down()
    await stack.cache.health()
    assert len(seen) == 2


async def test_resilient_cache_callback_errors_do_not_reach_callers(stack: Stack) -> None:
    """A failing callback is logged; the call that changed the state still succeeds."""

    def broken(change: StateChange) -> None:
        raise RuntimeError("boom")

    stack.cache.on_state_change(broken)
    stack.down()
    assert await stack.cache.health() is not None
    assert stack.cache.state == "degraded"


async def test_resilient_cache_open_circuit_skips_redis(stack: Stack) -> None:
    """Once open, calls do not touch Redis until a probe succeeds."""
    cache = stack.cache
    assert isinstance(cache, ResilientCache)
    stack.down()
    await cache.get("a")
    await cache.get("b")
    assert cache.breaker.state is not CircuitState.CLOSED
    stack.up()
    cache.breaker.backoff = ExponentialBackoff(cap=60, base=60)
    cache.breaker.next_probe_at = time.monotonic() + 60
    await stack.other.set(stack.prefix + "k", b"ignored")
    assert (await cache.get_result("k")).degraded


async def test_resilient_cache_connect_returns_false_when_redis_is_absent() -> None:
    """connect() does not raise when Redis is down: False, degraded, then recovers."""
    made = Stack()
    made.down()
    assert await made.cache.connect() is False
    assert made.cache.state == "degraded"
    made.up()
    await made.wait_ok()
    assert await made.cache.connect() is True
    await made.aclose()


async def test_resilient_cache_aclose_cancels_the_probe_task() -> None:
    """aclose() stops background probing; no task is left behind."""
    made = Stack(**{"resilience.probe_backoff_base": 5, "resilience.probe_backoff_cap": 5})
    made.down()
    await made.cache.connect()
    cache = made.cache
    assert isinstance(cache, ResilientCache)
    task = cache.recovery._prober
    assert task is not None and not task.done()
    await cache.aclose()
    assert task.cancelled()
    await made.aclose()


async def test_resilient_cache_bad_arguments_still_raise(stack: Stack) -> None:
    """Caller errors are not outages: a bad TTL raises even while Redis is down."""
    with pytest.raises(CacheValueError):
        await stack.cache.set("k", 1, ttl=0)
    stack.down()
    with pytest.raises(CacheValueError):
        await stack.cache.set("k", 1, ttl=-1)


class SlowBackend(RedisBackend):
    """A Redis tier whose reads take far longer than any timeout (and which, unlike the
    auto-pipelined RedisBackend, does not bound its own calls)."""

    @property
    def call_deadline(self) -> float | None:
        return None

    async def get_with_ttl(self, key: str, *, type: Any = None) -> tuple[Any, float | None]:
        await asyncio.sleep(30)
        return None, None

    async def get(self, key: str, *, type: Any = None) -> Any:
        await asyncio.sleep(30)


async def test_resilient_cache_bounds_every_call_by_the_socket_timeout() -> None:
    """A Redis call that never returns is abandoned after redis.socket_timeout."""
    cfg = config()
    for memory in (InMemoryCache(), None):
        remote = SlowBackend.from_config(cfg, client=fakeredis.FakeAsyncRedis())
        cache = resilient_over(remote, cfg, memory=memory)
        started = time.monotonic()
        result = await cache.get_result("k")
        assert time.monotonic() - started < 0.2 + 0.3
        assert result.degraded and result.reason and "0.2s" in result.reason
        await cache.aclose()


# -- recovery rules ---------------------------------------------------------------------
async def test_resilient_cache_drop_policy_lets_redis_values_win(stack: Stack) -> None:
    """With recovery=drop, memory forgets outage writes: Redis's newer value is served."""
    cache = stack.cache
    stack.down()
    await cache.set("k", "written during outage")
    await cache.set("mine", "only here")
    stack.up()
    await stack.wait_ok()
    await asyncio.sleep(0.05)
    assert await cache.get("mine") is None
    backend = RedisBackend.from_config(stack.config, client=stack.other)
    await backend.set("k", "newer from another process")
    assert await cache.get("k") == "newer from another process"


async def test_resilient_cache_write_back_policy_sets_only_absent_keys() -> None:
    """With recovery=write_back, outage writes reach Redis only where no value exists."""
    made = Stack(**{"resilience.recovery": "write_back"})
    cache, other = made.cache, RedisBackend.from_config(made.config, client=made.other)
    made.down()
    await cache.set("absent", "from outage", ttl=30)
    await cache.set("taken", "from outage")
    made.up()
    await other.set("taken", "newer")
    await made.wait_ok()
    await asyncio.sleep(0.05)
    assert await other.get("absent") == "from outage"
    ttl = await made.other.pttl(made.prefix + "absent")
    assert 0 < ttl <= 30_000
    assert await other.get("taken") == "newer"
    assert await cache.get("taken") == "newer"
    await made.aclose()


async def test_resilient_cache_replays_invalidations_after_outage(stack: Stack) -> None:
    """Deletes and pattern invalidations made while Redis was down reach Redis after."""
    cache = stack.cache
    await cache.set_many({"a": 1, "b": 2, "user:1": 3, "user:2": 4, "keep": 5})
    stack.down()
    await cache.delete("a")
    await cache.delete_many(["b"])
    await cache.delete_matching("user:*")
    stack.up()
    await stack.wait_ok()
    await asyncio.sleep(0.05)
    names = sorted(k.decode() for k in await stack.other.keys(stack.prefix + "*"))
    assert [n.removeprefix(stack.prefix) for n in names if "probe" not in n] == ["keep"]


async def test_resilient_cache_replays_clear_after_outage(stack: Stack) -> None:
    """A clear made while Redis was down clears the namespace once Redis is back."""
    cache = stack.cache
    await cache.set("old", 1)
    stack.down()
    await cache.clear()
    await cache.set("new", 2)
    stack.up()
    await stack.wait_ok()
    await asyncio.sleep(0.05)
    assert await stack.other.get(stack.prefix + "old") is None
    assert await cache.get("old") is None


class WriteRefusingBackend(RedisBackend):
    """A Redis tier that reads fine but refuses writes (like OOM under noeviction)."""

    refuse = True

    async def set(self, key: str, value: Any, ttl: Any = None) -> None:
        if self.refuse:
            raise CacheUnavailableError("redis SET failed: ResponseError: OOM command not allowed")
        await super().set(key, value, ttl)


async def test_resilient_cache_isolated_write_failure_does_not_shadow_redis() -> None:
    """A write that failed alone is dropped from memory once Redis answers again."""
    cfg = config(**{"resilience.failure_threshold": 5})
    client = fakeredis.FakeAsyncRedis()
    far = WriteRefusingBackend.from_config(cfg, client=client)
    cache = resilient_over(far, cfg, memory=InMemoryCache())
    await cache.set("k", "refused by redis")
    assert await cache.get("k") == "refused by redis"
    assert cache.breaker.closed
    far.refuse = False
    await RedisBackend.from_config(cfg, client=client).set("k", "from another process")
    assert await cache.get("other") is None  # a Redis success settles the journal
    await asyncio.sleep(0.05)
    assert await cache.get("k") == "from another process"
    await cache.aclose()


async def test_resilient_cache_redis_only_stack_uses_standby_memory_only_when_down() -> None:
    """Without a memory tier, a standby cache serves the outage and is forgotten after."""
    made = Stack(**{"memory.enabled": False})
    cache = made.cache
    assert isinstance(cache, ResilientCache) and cache.standby
    assert (await cache.health()).tiers["memory"] == "standby"
    made.down()
    await cache.set("k", "during")
    assert await cache.get("k") == "during"
    made.up()
    await made.wait_ok()
    await asyncio.sleep(0.05)
    assert await cache.get("k") is None
    await made.aclose()


def test_outage_journal_bounds_what_it_remembers() -> None:
    """Deletes beyond the bound are counted as lost; the oldest go first."""
    cfg = config()
    journal = OutageJournal(
        InMemoryCache(),
        RedisBackend.from_config(cfg, client=fakeredis.FakeAsyncRedis()),
        recovery="drop",
        timeout=1.0,
    )
    journal.deleted(f"k{i}" for i in range(MAX_DELETES + 5))
    assert journal.lost_invalidations == 5
    assert journal.summary() == f"to reconcile: 0 writes, {MAX_DELETES} invalidations"


async def test_outage_journal_forgets_dirty_keys_only_with_their_memory_copy() -> None:
    """A dirty key beyond the memory tier's size is dropped from memory too."""
    cfg = config()
    near = InMemoryCache(max_size=1000)
    journal = OutageJournal(
        near,
        RedisBackend.from_config(cfg, client=fakeredis.FakeAsyncRedis()),
        recovery="drop",
        timeout=1.0,
    )
    near.max_size = 2
    for key in ("a", "b", "c"):
        await near.set(key, key)
        await journal.wrote([key])
    assert await near.get("a") is None
    assert await near.get("c") == "c"


# -- strict mode ------------------------------------------------------------------------
async def test_resilient_cache_strict_mode_raises_instead_of_degrading() -> None:
    """fail_on_connection_error=true: calls raise CacheUnavailableError, health unavailable."""
    made = Stack(**{"redis.fail_on_connection_error": True})
    cache = made.cache
    made.down()
    with pytest.raises(CacheUnavailableError):
        await cache.connect()
    with pytest.raises(CacheUnavailableError, match="circuit open"):
        await cache.get("k")
    with pytest.raises(CacheUnavailableError):
        await cache.set("k", 1)
    report = await cache.health()
    assert report.status == "unavailable" and not report.serving
    assert cache.state == "unavailable"
    made.up()
    await made.wait_ok()
    await cache.set("k", 1)
    assert await cache.get("k") == 1
    await made.aclose()


async def test_resilient_cache_strict_mode_raises_timeout_error() -> None:
    """In strict mode a call that outlives the timeout raises CacheTimeoutError."""
    cfg = config(**{"redis.fail_on_connection_error": True})
    cache = resilient_over(SlowBackend.from_config(cfg, client=fakeredis.FakeAsyncRedis()), cfg)
    with pytest.raises(CacheTimeoutError):
        await cache.get("k")
    await cache.aclose()


# -- wiring -----------------------------------------------------------------------------
async def test_resolve_wraps_only_stacks_with_redis() -> None:
    """The resilience layer sits over Redis stacks only; memory-only stacks are ok always."""
    memory_only = resolve(config(**{"redis.url": ""}))
    assert not isinstance(memory_only, ResilientCache)
    assert (await memory_only.get_result("k")).status == "miss"
    await memory_only.set("k", 1)
    assert (await memory_only.get_result("k")).status == "hit"
    assert memory_only.on_state_change(lambda change: None)() is None


def test_resilient_cache_needs_one_memory_cache_to_degrade_to() -> None:
    """Without a memory tier or a standby cache (or with both) there is nothing to degrade
    to: a TypeError."""
    cfg = config()
    remote = RedisBackend.from_config(cfg, client=fakeredis.FakeAsyncRedis())
    with pytest.raises(TypeError, match="memory tier or a standby"):
        ResilientCache(remote, cfg.resilience, cfg.budget)
    with pytest.raises(TypeError, match="memory tier or a standby"):
        ResilientCache(
            remote, cfg.resilience, cfg.budget, memory=InMemoryCache(), standby=InMemoryCache()
        )


async def test_resilient_cache_state_reaches_outer_wrappers(stack: Stack) -> None:
    """on_state_change and get_result work through a wrapper around the stack."""
    from cachekit import GenericRedisCache

    outer = GenericRedisCache(config=stack.config)
    outer.inner = stack.cache
    seen: list[StateChange] = []
    outer.on_state_change(seen.append)
    stack.down()
    assert (await outer.get_result("k")).degraded
    await outer.health()
    assert seen and seen[-1].current == "degraded"


async def test_check_is_unfit_when_redis_is_down() -> None:
    """``cachekit check`` exits non-zero with a one-line reason when Redis is unreachable."""
    from tests.helpers_net import free_port

    out = io.StringIO()
    cfg = config(**{"redis.url": f"redis://127.0.0.1:{free_port()}/0"})
    assert await run_check(cfg, out) == EXIT_UNFIT
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("unfit: degraded:") and "redis" in last


class LastMillisecond(RedisBackend):
    """A Redis tier whose entries all have 0 ms left (PTTL answers 0 just before expiry)."""

    async def get_with_ttl(self, key: str, *, type: Any = None) -> tuple[Any, float | None]:
        return "v", 0.0

    async def get_many_with_ttl(
        self, keys: Any, *, type: Any = None
    ) -> dict[str, tuple[Any, float | None]]:
        return {key: ("v", 0.0) for key in keys}


async def test_tiered_cache_serves_but_does_not_promote_an_expiring_entry() -> None:
    """An entry with 0 ms left is returned, not copied into memory (found by the soak)."""
    near = InMemoryCache()
    tiered = TieredCache(
        near, LastMillisecond.from_config(config(), client=fakeredis.FakeAsyncRedis())
    )
    assert await tiered.get("k") == "v"
    assert await tiered.get_many(["a", "b"]) == {"a": "v", "b": "v"}
    assert near.entries == 0


async def test_resilient_cache_degraded_calls_yield_so_the_loop_keeps_running(
    stack: Stack,
) -> None:
    """With the circuit open no call waits on I/O, yet a tight loop of 10,000 degraded calls
    lets other tasks (the recovery probe among them) run: they yield now and then."""
    cache = stack.cache
    stack.down()
    for _ in range(FAST["resilience.failure_threshold"] + 1):  # type: ignore[operator]
        await cache.get("k")
    assert not cache.breaker.closed
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)
    before = beats
    for i in range(10_000):
        await cache.get(f"k{i}")
    during = beats - before
    task.cancel()
    assert during >= 10_000 // 16 - 1
