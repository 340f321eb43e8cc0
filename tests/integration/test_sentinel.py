"""Redis Sentinel (a master, a replica, three sentinels; real servers): the master found
through the sentinels, reads from the replica on demand, a sentinel port or a replica
behind a standalone URL caught, ``cachekit check``'s topology, and the master killed under
load (failover followed; the test that kills heals the set for the rest of the module)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from cachekit import CacheConfigBuilder, CacheConfigError, resolve
from cachekit.backends.redis.sentinel import SentinelBackend
from cachekit.config.model import CacheConfig
from cachekit.layers.wrapper import find_tier, stack_layers
from cachekit.testing import running_app
from cachekit.web.server import create_app
from tests.certs import write_pki
from tests.helpers_check import run
from tests.redis_server import RedisServer
from tests.topologies import SentinelSet, role


def config(url: str, *, memory: bool = False, **dotted: Any) -> CacheConfig:
    """A ``simple`` config on ``url`` in a namespace of its own."""
    overrides = {
        "namespace": "s" + uuid.uuid4().hex[:10],
        "redis.url": url,
        "memory.enabled": memory,
        **dotted,
    }
    return CacheConfigBuilder().with_preset("simple").with_overrides(overrides).build()


def gets_served(server: RedisServer) -> int:
    """How many GETs ``server`` has run (``INFO commandstats``)."""
    with redis.Redis(port=server.port) as client:
        stats = client.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


async def test_sentinel_writes_reach_the_master_the_sentinels_name(
    sentinel_set: SentinelSet,
) -> None:
    """A value set through a redis+sentinel:// URL is on the current master."""
    cfg = config(sentinel_set.url)
    async with resolve(cfg) as stack:
        await stack.set("k", "v")
        master = sentinel_set.current_master()
        with redis.Redis(port=master.port) as client:
            assert client.exists(cfg.key_prefix + "k") == 1
        assert await stack.get("k") == "v"
        await stack.clear()


async def test_sentinel_read_from_replica_reads_on_the_replica(sentinel_set: SentinelSet) -> None:
    """``redis.read_from = 'replica'``: GETs run on the replica, writes on the master."""
    cfg = config(sentinel_set.url, **{"redis.read_from": "replica"})
    async with resolve(cfg) as stack:
        replica = next(s for s in sentinel_set.servers if role(s) == "slave")
        await stack.set("r", "v")
        deadline = time.monotonic() + 10
        before = gets_served(replica)
        while await stack.get("r") != "v":  # replication is asynchronous
            assert time.monotonic() < deadline, "the write never reached the replica"
            await asyncio.sleep(0.02)
        assert gets_served(replica) > before
        await stack.clear()


async def test_sentinel_standalone_url_at_sentinel_is_config_error_naming_fix(
    sentinel_set: SentinelSet,
) -> None:
    """A redis:// URL at a sentinel port fails at connect naming redis.mode = 'sentinel'."""
    stack = resolve(config(sentinel_set.sentinels[0].url))
    try:
        with pytest.raises(CacheConfigError) as info:
            await stack.connect()
    finally:
        await stack.aclose()
    (problem,) = info.value.problems
    assert problem.key == "redis.mode"
    assert "is a sentinel: set redis.mode = 'sentinel'" in problem.message


async def test_sentinel_mode_at_a_plain_server_is_config_error(sentinel_set: SentinelSet) -> None:
    """Sentinel mode pointed at a data server instead of the sentinels: named."""
    url = f"redis+sentinel://127.0.0.1:{sentinel_set.master.port}/mymaster/0"
    stack = resolve(config(url))
    try:
        with pytest.raises(CacheConfigError) as info:
            await stack.connect()
    finally:
        await stack.aclose()
    (problem,) = info.value.problems
    assert problem.key == "redis.mode"
    assert "is a Redis server, not a sentinel: list the sentinels" in problem.message


def test_check_standalone_url_at_sentinel_exits_1_naming_fix(
    sentinel_set: SentinelSet, environ: pytest.MonkeyPatch
) -> None:
    """``cachekit check`` against a sentinel port with a standalone URL: exit 1, the fix."""
    environ.setenv("CACHEKIT_REDIS__URL", sentinel_set.sentinels[0].url)
    status, lines = run(["check", "--env", "testing"])
    assert status == 1
    assert "set redis.mode = 'sentinel'" in lines[-1]


def test_check_standalone_url_at_replica_is_unfit(
    sentinel_set: SentinelSet, environ: pytest.MonkeyPatch
) -> None:
    """A standalone URL at a read-only replica: check names the fix (the master, or
    sentinel mode) instead of passing."""
    replica = next(s for s in sentinel_set.servers if role(s) == "slave")
    environ.setenv("CACHEKIT_REDIS__URL", replica.url)
    status, lines = run(["check", "--env", "testing"])
    assert status == 1
    assert "replica" in lines[-1]


def test_check_prints_sentinel_topology(
    sentinel_set: SentinelSet, environ: pytest.MonkeyPatch
) -> None:
    """``cachekit check`` through the sentinels: ok, the master, its replica, 3/3 sentinels."""
    environ.setenv("CACHEKIT_REDIS__URL", sentinel_set.url)
    status, lines = run(["check", "--env", "testing"])
    text = "\n".join(lines)
    assert status == 0, text
    master = sentinel_set.current_master()
    assert f"master 127.0.0.1:{master.port}, 1 replica, 3/3 sentinels answer" in text
    assert f"master   127.0.0.1:{master.port}" in text


async def test_sentinel_master_killed_under_load_no_errors_and_failover_followed(
    sentinel_set: SentinelSet,
) -> None:
    """kill -9 the master under 64 tasks of get/set: no caller sees an exception, health
    goes degraded then ok, and writes reach the promoted replica."""
    cfg = config(sentinel_set.url)
    async with resolve(cfg) as stack:
        remote = find_tier(stack, "redis")
        assert isinstance(remote, SentinelBackend)
        victim = sentinel_set.current_master()
        heir = next(s for s in sentinel_set.servers if s is not victim)
        errors: list[BaseException] = []
        statuses: list[str] = []
        calls = 0
        stop = asyncio.Event()

        async def worker(n: int) -> None:
            nonlocal calls
            i = 0
            while not stop.is_set():
                key = f"w{n}:{i % 20}"
                try:
                    await stack.set(key, i)
                    await stack.get(key)
                    calls += 2
                except BaseException as exc:  # the assertion: nothing reaches a caller
                    errors.append(exc)
                i += 1
                await asyncio.sleep(0.001)

        async def watch_health() -> None:
            while not stop.is_set():
                status = (await stack.health()).status
                if not statuses or statuses[-1] != status:
                    statuses.append(status)
                await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(worker(n)) for n in range(64)]
        tasks.append(asyncio.create_task(watch_health()))
        try:
            while calls < 2000:
                await asyncio.sleep(0.01)
            killed = time.monotonic()
            victim.kill()
            promoted = announced = resumed = None
            deadline = killed + 30
            marker = uuid.uuid4().hex
            while resumed is None or statuses[-1] != "ok":
                assert time.monotonic() < deadline, f"no recovery: health {statuses}"
                if promoted is None and await asyncio.to_thread(role, heir) == "master":
                    promoted = time.monotonic() - killed
                if announced is None and await asyncio.to_thread(_names, sentinel_set, heir):
                    announced = time.monotonic() - killed
                await stack.set("marker", marker)
                if resumed is None and await asyncio.to_thread(_holds, heir, cfg, marker):
                    resumed = time.monotonic() - killed
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        assert errors == []
        assert "degraded" in statuses and statuses[-1] == "ok", statuses
        print(
            f"sentinel failover: replica promoted {promoted}s, named by the sentinels "
            f"{announced}s, writes on it {resumed}s"
        )
        await stack.clear()
    await asyncio.to_thread(sentinel_set.heal)


def _names(sentinels: SentinelSet, server: RedisServer) -> bool:
    """Whether the sentinels name ``server`` as the master now."""
    try:
        return sentinels.current_master() is server
    except (redis.RedisError, StopIteration):
        return False


def _holds(server: RedisServer, cfg: CacheConfig, marker: str) -> bool:
    """Whether ``server`` holds the marker key with ``marker`` in its stored form."""
    try:
        with redis.Redis(port=server.port, socket_timeout=1) as client:
            raw = client.get(cfg.key_prefix + "marker")
    except redis.RedisError:
        return False
    return raw is not None and marker.encode() in raw


async def test_sentinel_tracking_follows_failover_to_new_master(sentinel_set: SentinelSet) -> None:
    """With the memory tier in front, tracking comes back on the promoted replica after
    the master is killed (the memory tier is trusted again, and hears its writes)."""
    cfg = config(sentinel_set.url, memory=True, **{"memory.max_stale_seconds": 60})
    other_cfg = CacheConfigBuilder().with_preset("simple").with_overrides(
        {"namespace": cfg.namespace, "redis.url": sentinel_set.url, "memory.enabled": False}
    ).build()
    async with resolve(cfg) as stack, resolve(other_cfg) as other:
        coherence = next(
            layer.coherence for layer in stack_layers(stack) if hasattr(layer, "coherence")
        )
        assert coherence.trusted
        victim = sentinel_set.current_master()
        heir = next(s for s in sentinel_set.servers if s is not victim)
        victim.kill()
        deadline = time.monotonic() + 30
        while not (
            coherence.trusted
            and coherence.tracking.inner.address == ("127.0.0.1", heir.port)
            and (await stack.health()).ok
        ):
            assert time.monotonic() < deadline, coherence.describe()
            await asyncio.sleep(0.05)
        names = [f"f{i}" for i in range(10)]
        await stack.set_many(dict.fromkeys(names, "old"))
        assert await stack.get_many(names) == dict.fromkeys(names, "old")
        await other.set_many(dict.fromkeys(names, "new"))
        while await stack.get_many(names) != dict.fromkeys(names, "new"):
            assert time.monotonic() < deadline, "no invalidation from the new master"
            await asyncio.sleep(0.02)
        await stack.clear()
    await asyncio.to_thread(sentinel_set.heal)


async def test_sentinel_password_is_the_sentinels_own_secret() -> None:
    """Sentinels with their own password (``requirepass``) and data nodes without one:
    ``redis.sentinel_password`` gets cachekit through; without it the stack is degraded
    (never raises) and says why; the password shows in no report."""
    password = "sentinel-canary-4d1f"
    sentinels = SentinelSet(sentinel_password=password).start()
    try:
        cfg = config(sentinels.url, **{"redis.sentinel_password": password})
        async with resolve(cfg) as stack:
            await stack.set("k", "v")
            assert await stack.get("k") == "v"
            assert (await stack.health()).ok
            await stack.clear()
        async with resolve(config(sentinels.url)) as refused:
            assert await refused.get("k") is None
            report = await refused.health()
            assert report.status == "degraded"
            assert "auth" in " ".join(report.reasons).lower()
            assert password not in repr(report)
    finally:
        sentinels.cleanup()


async def test_sentinel_over_tls_sentinels_and_master_verified(tmp_path: Path) -> None:
    """TLS-only sentinels, master and replica: a rediss+sentinel:// URL with the CA finds
    the master through the sentinels and writes there over verified TLS."""
    pki = write_pki(tmp_path)
    sentinels = SentinelSet(tls=pki).start()
    try:
        cfg = config(sentinels.url, **{"security.tls_ca_path": pki.ca})
        async with resolve(cfg) as stack:
            await stack.set("k", "v")
            assert await stack.get("k") == "v"
            remote = find_tier(stack, "redis")
            assert isinstance(remote, SentinelBackend)
            pool = remote.client.connection_pool
            connection = await pool.get_connection()
            try:
                peer = connection._writer.get_extra_info("ssl_object").getpeercert()
                assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
                assert connection.port == sentinels.current_master().port
            finally:
                await pool.release(connection)
            await stack.clear()
    finally:
        sentinels.cleanup()


async def test_sentinel_read_from_replica_memory_tier_hears_writes(
    sentinel_set: SentinelSet,
) -> None:
    """Reads from the replica with the memory tier in front: tracking runs on that replica,
    so a write by another process (on the master, replicated) reaches the memory tier."""
    cfg = config(
        sentinel_set.url,
        memory=True,
        **{"redis.read_from": "replica", "memory.max_stale_seconds": 60},
    )
    other_cfg = CacheConfigBuilder().with_preset("simple").with_overrides(
        {"namespace": cfg.namespace, "redis.url": sentinel_set.url, "memory.enabled": False}
    ).build()
    names = [f"r{i}" for i in range(10)]
    async with resolve(cfg) as stack, resolve(other_cfg) as other:
        coherence = next(
            layer.coherence for layer in stack_layers(stack) if hasattr(layer, "coherence")
        )
        assert coherence.trusted, coherence.describe()
        await other.set_many(dict.fromkeys(names, "old"))
        deadline = time.monotonic() + 10
        while await stack.get_many(names) != dict.fromkeys(names, "old"):  # replication lag
            assert time.monotonic() < deadline, "the replica never got the writes"
            await asyncio.sleep(0.02)
        await other.set_many(dict.fromkeys(names, "new"))
        while await stack.get_many(names) != dict.fromkeys(names, "new"):
            assert time.monotonic() < deadline, "no invalidation from the replica"
            await asyncio.sleep(0.02)
        await other.clear()


async def test_sentinel_readyz_degraded_then_ok_across_failover(sentinel_set: SentinelSet) -> None:
    """``cachekit serve``'s ``/readyz`` while the master is killed: 200 throughout (serving
    from memory meanwhile), ``degraded`` then ``ok`` once the sentinels promoted the replica."""
    cfg = config(sentinel_set.url, memory=True, **{"server.readiness_interval": 0.05})
    statuses: list[str] = []
    codes: set[int] = set()
    async with running_app(create_app(config=cfg)) as client:

        async def poll() -> str:
            response = await client.get("/readyz")
            codes.add(response.status_code)
            status = str(response.json()["status"])
            if not statuses or statuses[-1] != status:
                statuses.append(status)
            return status

        assert await poll() == "ok"
        sentinel_set.current_master().kill()
        deadline = time.monotonic() + 30
        while "degraded" not in statuses or statuses[-1] != "ok":
            assert time.monotonic() < deadline, statuses
            await poll()
            await asyncio.sleep(0.05)
    assert statuses == ["ok", "degraded", "ok"]
    assert codes == {200}
    await asyncio.to_thread(sentinel_set.heal)
