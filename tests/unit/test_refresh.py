"""get_or_set refresh policies on a fakeredis stack: stale-while-revalidate serves an
expired value while one task reloads it, XFetch reloads before expiry, and the lease lets
one caller load while another waits for its write."""

from __future__ import annotations

import asyncio
from typing import Any

import fakeredis

from cachekit import CacheConfig, CacheConfigBuilder, resolve
from cachekit.config.model import RefreshConfig
from cachekit.layers.refresh import Refresher
from cachekit.layers.resilience.cache import ResilientCache
from cachekit.layers.wrapper import stack_layers


def config(**dotted: Any) -> CacheConfig:
    return (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_overrides(
            {
                "redis.url": "redis://fake:6379/0",
                "memory.enabled": False,  # Redis alone: its TTL says when an entry expires
                "monitoring.enabled": False,
                **dotted,
            }
        )
        .build()
    )


def resilient(cache: Any) -> ResilientCache:
    (found,) = [layer for layer in stack_layers(cache) if isinstance(layer, ResilientCache)]
    return found


async def test_refresh_stale_value_is_served_while_one_task_reloads() -> None:
    """Past its TTL but within stale_seconds, 100 readers get the old value at once and the
    loader runs once, in the background; then the new value is served."""
    client = fakeredis.FakeAsyncRedis()
    cfg = config(**{"refresh.stale_seconds": 60.0})
    cache = resolve(cfg, redis_client=client)
    assert await cache.get_or_set("k", lambda: "old", ttl=10) == "old"
    await client.pexpire(cfg.key_prefix + "k", 30_000)  # 30 s left of 10 + 60: expired
    loads = []

    async def load() -> str:
        loads.append(1)
        await asyncio.sleep(0.05)
        return "new"

    values = await asyncio.gather(*(cache.get_or_set("k", load, ttl=10) for _ in range(100)))
    assert set(values) == {"old"}
    await asyncio.sleep(0.1)
    assert loads == [1]
    assert await cache.get_or_set("k", load, ttl=10) == "new"
    assert resilient(cache).refresher is not None
    assert resilient(cache).refresher.stale_served == 100  # type: ignore[union-attr]
    await cache.aclose()


async def test_refresh_off_an_expired_entry_is_reloaded_by_the_caller() -> None:
    """Without a refresh policy, get_or_set has no refresher and loads when Redis misses."""
    client = fakeredis.FakeAsyncRedis()
    cache = resolve(config(), redis_client=client)
    assert resilient(cache).refresher is not None
    assert resilient(cache).refresher.policy("k") is None  # type: ignore[union-attr]
    assert await cache.get_or_set("k", lambda: "v", ttl=10) == "v"
    await client.flushall()
    assert await cache.get_or_set("k", lambda: "w", ttl=10) == "w"
    await cache.aclose()


def test_refresh_xfetch_probability_grows_as_expiry_nears() -> None:
    """XFetch reloads when delta * beta * -ln(1 - u) reaches the time left: with delta 1 s
    and beta 1, at 0.5 s left u = 0.3 waits and u = 0.5 reloads; at 5 s left neither."""
    policy = {"stale_seconds": 0.0, "early_beta": 1.0, "operations": {}}
    settings = RefreshConfig(**policy)  # type: ignore[arg-type]
    draws = iter([0.3, 0.5, 0.3, 0.5])
    refresher = Refresher(settings, rng=lambda: next(draws))
    refresher._record("k", 1.0)
    assert not refresher._early("k", 0.5, 1.0)
    assert refresher._early("k", 0.5, 1.0)
    assert not refresher._early("k", 5.0, 1.0)
    assert not refresher._early("k", 5.0, 1.0)
    assert not refresher._early("unknown", 0.001, 1.0)  # no duration measured yet


async def test_lease_second_stack_waits_for_the_first_ones_write() -> None:
    """Two stacks on one Redis (as two processes): while the first loads a missing key
    under its lease, the second does not run its loader and returns the first's value."""
    client = fakeredis.FakeAsyncRedis()
    cfg = config(**{"redis.lease_seconds": 5.0})
    first = resolve(cfg, redis_client=client)
    second = resolve(cfg, redis_client=client)
    release = asyncio.Event()
    ran = []

    async def slow() -> str:
        ran.append("first")
        await release.wait()
        return "from first"

    async def other() -> str:
        ran.append("second")
        return "from second"

    loading = asyncio.create_task(first.get_or_set("k", slow))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(second.get_or_set("k", other))
    await asyncio.sleep(0.05)
    release.set()
    assert await loading == "from first"
    assert await waiting == "from first"
    assert ran == ["first"]
    assert await client.exists(cfg.key_prefix + "__cachekit_lease__:k") == 0  # released
    await first.aclose()
    await second.aclose()


async def test_single_flight_waiter_takes_over_when_the_loading_task_is_cancelled() -> None:
    """The task running the loader is cancelled: the waiters do not end as cancelled,
    one of them loads instead."""
    cache = resolve(config(**{"redis.lease_seconds": 0.0}), redis_client=fakeredis.FakeAsyncRedis())
    started = asyncio.Event()

    async def never() -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    leader = asyncio.create_task(cache.get_or_set("k", never))
    await started.wait()
    waiters = [asyncio.create_task(cache.get_or_set("k", lambda: "taken over")) for _ in range(5)]
    await asyncio.sleep(0.01)
    leader.cancel()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert results == ["taken over"] * 5
    assert leader.cancelled()
    await cache.aclose()
