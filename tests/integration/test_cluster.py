"""A Redis Cluster (3 primaries + 3 replicas, real servers): keys spread over every primary,
batches grouped by node, SCAN of every primary, MOVED followed, a standalone URL at a node
caught, ``cachekit check``'s topology, tracking on every node, and a primary killed under
load (the test that kills heals the cluster for the rest of the module)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cachekit import CacheConfigBuilder, CacheConfigError, resolve
from cachekit.backends.redis.cluster import ClusterBackend
from cachekit.backends.redis.router import slot_of
from cachekit.config.model import CacheConfig
from cachekit.layers.wrapper import find_tier, stack_layers
from tests.certs import write_pki
from tests.helpers_check import run
from tests.topologies import RedisCluster, role

KEYS = 1000


def config(url: str, *, memory: bool = False, **dotted: Any) -> CacheConfig:
    """A ``simple`` config on ``url`` in a namespace of its own."""
    overrides = {
        "namespace": "c" + uuid.uuid4().hex[:10],
        "redis.url": url,
        "memory.enabled": memory,
        **dotted,
    }
    return CacheConfigBuilder().with_preset("simple").with_overrides(overrides).build()


def backend_of(stack: Any) -> ClusterBackend:
    remote = find_tier(stack, "redis")
    assert isinstance(remote, ClusterBackend)
    return remote


def keys_on_nodes(cluster: RedisCluster, match: str) -> dict[int, int]:
    """Port → how many keys matching ``match`` each primary holds (SCAN, node by node)."""
    counts = {}
    for node in cluster.primaries():
        with cluster.client(node) as client:
            counts[node.port] = sum(1 for _ in client.scan_iter(match=match, count=1000))
    return counts


async def test_cluster_keys_land_on_every_primary_and_read_back(
    redis_cluster: RedisCluster,
) -> None:
    """1,000 keys set through cachekit spread over all three primaries; get_many returns all."""
    cfg = config(redis_cluster.url)
    async with resolve(cfg) as stack:
        items = {f"k{i}": i for i in range(KEYS)}
        await stack.set_many(items)
        counts = keys_on_nodes(redis_cluster, f"{cfg.key_prefix}*")
        assert len(counts) == 3 and all(n > 0 for n in counts.values()), counts
        assert sum(counts.values()) == KEYS
        assert await stack.get_many(list(items)) == items
        await stack.clear()


async def test_cluster_batches_cost_one_round_trip_per_node(redis_cluster: RedisCluster) -> None:
    """get_many / set_many / delete_many of 1,000 keys over every slot: one round trip per
    primary each (grouped by slot and node, sent in parallel), never one per key."""
    cfg = config(redis_cluster.url)
    async with resolve(cfg) as stack:
        router = backend_of(stack).router
        names = [f"k{i}" for i in range(KEYS)]

        def trips() -> int:
            return sum(n.pipeline.round_trips for n in router.nodes.values() if n.pipeline)

        for call in (
            lambda: stack.set_many(dict.fromkeys(names, "v")),
            lambda: stack.get_many(names),
            lambda: stack.delete_many(names),
        ):
            before = trips()
            await call()
            assert trips() - before == len(router.primaries)
        assert await stack.get_many(names) == {}


async def test_cluster_delete_matching_and_clear_leave_no_key_on_any_node(
    redis_cluster: RedisCluster,
) -> None:
    """delete_matching (what invalidate_pattern runs) removes its keys from every
    primary, and clear the rest."""
    cfg = config(redis_cluster.url)
    async with resolve(cfg) as stack:
        await stack.set_many({f"user:{i}": i for i in range(KEYS)})
        await stack.set_many({f"item:{i}": i for i in range(300)})
        assert await stack.delete_matching("user:*") == KEYS
        assert set(keys_on_nodes(redis_cluster, f"{cfg.key_prefix}user:*").values()) == {0}
        assert sum(keys_on_nodes(redis_cluster, f"{cfg.key_prefix}item:*").values()) == 300
        await stack.clear()
        assert set(keys_on_nodes(redis_cluster, f"{cfg.key_prefix}*").values()) == {0}


async def test_cluster_ai_invalidations_leave_no_matching_key_on_any_node(
    redis_cluster: RedisCluster,
) -> None:
    """The AI cache's invalidate_pattern and invalidate_by_operation, over a memory tier:
    no matching key is left on any primary, nor in memory; the other operation's stay."""
    from cachekit.layers.ai.cache import AIResponseCache

    cfg = config(redis_cluster.url, memory=True, **{"ai.enabled": True})
    async with resolve(cfg) as stack:
        assert isinstance(stack, AIResponseCache)
        summaries = [stack.build_key(f"doc {i}", "summarize") for i in range(300)]
        sentiments = [stack.build_key(f"doc {i}", "sentiment") for i in range(100)]
        await stack.set_many({key: {"i": i} for i, key in enumerate(summaries + sentiments)})
        assert len(await stack.get_many(summaries)) == 300  # now in memory too
        assert await stack.invalidate_pattern("summarize") == 300
        assert set(keys_on_nodes(redis_cluster, f"{cfg.key_prefix}*summarize*").values()) == {0}
        assert await stack.get_many(summaries) == {}
        assert len(await stack.get_many(sentiments)) == 100
        assert await stack.invalidate_by_operation("sentiment") == 100
        assert set(keys_on_nodes(redis_cluster, f"{cfg.key_prefix}*").values()) == {0}
        assert await stack.get_many(sentiments) == {}


async def test_cluster_hash_tag_keeps_namespace_on_one_node(redis_cluster: RedisCluster) -> None:
    """``redis.hash_tag = 'namespace'``: every key in one slot, so on one primary."""
    cfg = config(redis_cluster.url, **{"redis.hash_tag": "namespace"})
    async with resolve(cfg) as stack:
        await stack.set_many({f"k{i}": i for i in range(100)})
        counts = keys_on_nodes(redis_cluster, cfg.key_prefix.replace("{", "\\{") + "*")
        assert sorted(counts.values()) == [0, 0, 100]
        assert len(await stack.get_many([f"k{i}" for i in range(100)])) == 100
        await stack.clear()


async def test_cluster_moved_reply_is_followed(redis_cluster: RedisCluster) -> None:
    """A slot table that is out of date (as after a resharding): the MOVED reply is
    followed, the value comes back, and the table is corrected."""
    cfg = config(redis_cluster.url)
    async with resolve(cfg) as stack:
        await stack.set("moved", "here")
        router = backend_of(stack).router
        slot = slot_of(cfg.key_prefix + "moved")
        right = router.primary(slot)
        wrong = next(n for n in router.primaries if n is not right)
        router._slots[slot] = wrong
        assert await stack.get("moved") == "here"
        assert router.redirects >= 1
        assert router.primary(slot).address == right.address
        await stack.clear()


async def test_cluster_standalone_url_at_node_is_config_error_naming_fix(
    redis_cluster: RedisCluster,
) -> None:
    """A redis:// URL at a cluster node fails at connect naming redis.mode = 'cluster'."""
    node = redis_cluster.nodes[0]
    stack = resolve(config(node.url))
    try:
        with pytest.raises(CacheConfigError) as info:
            await stack.connect()
    finally:
        await stack.aclose()
    (problem,) = info.value.problems
    assert problem.key == "redis.mode"
    assert "is a cluster node: set redis.mode = 'cluster'" in problem.message
    assert f"127.0.0.1:{node.port}" in problem.message


def test_check_standalone_url_at_cluster_node_exits_1_naming_fix(
    redis_cluster: RedisCluster, environ: pytest.MonkeyPatch
) -> None:
    """``cachekit check`` against a cluster node with a standalone URL: exit 1, the fix."""
    environ.setenv("CACHEKIT_REDIS__URL", redis_cluster.nodes[0].url)
    status, lines = run(["check", "--env", "testing"])
    assert status == 1
    assert lines[-1].startswith("unfit: redis.mode: ")
    assert "set redis.mode = 'cluster'" in lines[-1]


def test_check_prints_cluster_topology(
    redis_cluster: RedisCluster, environ: pytest.MonkeyPatch
) -> None:
    """``cachekit check`` on the cluster: ok, the primaries with their slots and replicas."""
    environ.setenv("CACHEKIT_REDIS__URL", redis_cluster.url)
    status, lines = run(["check", "--env", "testing"])
    text = "\n".join(lines)
    assert status == 0, text
    assert "topology  cluster: 3 primaries, 3 replicas, 16384/16384 slots covered" in text
    assert sum("primary  127.0.0.1:" in line for line in lines) == 3
    assert sum("replica  127.0.0.1:" in line for line in lines) == 3
    assert "slots 0-5460" in text
    status, lines = run(["check", "--env", "testing", "--format", "json"])
    nodes = json.loads("\n".join(lines))["checks"]["nodes"]
    assert status == 0 and len(nodes) == 6
    assert sum(node.startswith("primary") for node in nodes) == 3


async def test_cluster_tracking_on_every_node_invalidates_memory(
    redis_cluster: RedisCluster,
) -> None:
    """With the memory tier in front, a write by another process to a key on any primary
    reaches this process's memory tier (one tracking connection per primary)."""
    cfg = config(redis_cluster.url, memory=True, **{"memory.coherence": "tracking"})
    other_cfg = CacheConfigBuilder().with_preset("simple").with_overrides(
        {"namespace": cfg.namespace, "redis.url": redis_cluster.url, "memory.enabled": False}
    ).build()
    names = [f"t{i}" for i in range(30)]
    async with resolve(cfg) as stack, resolve(other_cfg) as other:
        remote = backend_of(stack)
        await stack.set_many(dict.fromkeys(names, "old"))
        assert await stack.get_many(names) == dict.fromkeys(names, "old")  # in memory now
        slots = {remote.router.primary(slot_of(cfg.key_prefix + n)).address for n in names}
        assert len(slots) == 3
        await other.set_many(dict.fromkeys(names, "new"))
        deadline = time.monotonic() + 10
        while await stack.get_many(names) != dict.fromkeys(names, "new"):
            assert time.monotonic() < deadline, "invalidations did not arrive"
            await asyncio.sleep(0.02)
        await stack.clear()


async def test_cluster_primary_killed_under_load_no_errors_and_writes_resume(
    redis_cluster: RedisCluster,
) -> None:
    """kill -9 one primary under 64 tasks of get/set: no caller sees an exception, and a
    write to a key of the dead primary's slots reaches the promoted replica."""
    cfg = config(redis_cluster.url)
    async with resolve(cfg) as stack:
        remote = backend_of(stack)
        victim = redis_cluster.primaries()[0]
        heir = redis_cluster.replica_of(victim)
        probe_key = next(
            f"p{i}" for i in range(10_000)
            if remote.router.primary(slot_of(f"{cfg.key_prefix}p{i}")).address[1] == victim.port
        )
        errors: list[BaseException] = []
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

        tasks = [asyncio.create_task(worker(n)) for n in range(64)]
        try:
            while calls < 2000:
                await asyncio.sleep(0.01)
            killed = time.monotonic()
            victim.kill()
            promoted = announced = resumed = None
            deadline = killed + 30
            marker = uuid.uuid4().hex
            while resumed is None:
                assert time.monotonic() < deadline, "writes did not resume on the promoted replica"
                if promoted is None and await asyncio.to_thread(role, heir) == "master":
                    promoted = time.monotonic() - killed
                if announced is None and await asyncio.to_thread(_serves, redis_cluster, heir):
                    announced = time.monotonic() - killed
                await stack.set(probe_key, marker)
                try:
                    if await remote.get(probe_key) == marker:  # in Redis, not the standby
                        resumed = time.monotonic() - killed
                except Exception:  # straight to the backend: failing during the failover
                    pass
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        assert errors == []
        print(
            f"cluster failover: replica promoted {promoted}s, cluster ok with it "
            f"{announced}s, writes resumed {resumed}s"
        )
        await stack.clear()
    await asyncio.to_thread(redis_cluster.heal)


async def test_cluster_tracking_follows_failover_to_promoted_replica(
    redis_cluster: RedisCluster,
) -> None:
    """With the memory tier in front, after a primary is killed the tracking group tracks
    exactly the new set of primaries (the promoted replica included) and is trusted again."""
    cfg = config(redis_cluster.url, memory=True, **{"memory.max_stale_seconds": 60})
    async with resolve(cfg) as stack:
        coherence = next(
            layer.coherence for layer in stack_layers(stack) if hasattr(layer, "coherence")
        )
        assert coherence.trusted
        victim = redis_cluster.primaries()[0]
        heir = redis_cluster.replica_of(victim)
        victim.kill()
        deadline = time.monotonic() + 30
        wanted = None
        while not (coherence.trusted and set(coherence.tracking.members) == wanted):
            assert time.monotonic() < deadline, coherence.describe()
            await asyncio.sleep(0.05)
            primaries = await asyncio.to_thread(redis_cluster.primaries)
            wanted = {("127.0.0.1", p.port) for p in primaries}
        assert ("127.0.0.1", heir.port) in wanted
        await stack.clear()
    await asyncio.to_thread(redis_cluster.heal)


def _serves(cluster: RedisCluster, heir: Any) -> bool:
    """Whether the promoted replica says the cluster is ok and it serves slots."""
    try:
        with cluster.client(heir) as client:
            slots = client.execute_command("CLUSTER", "SLOTS")
        state = cluster.info(heir)["cluster_state"]
    except Exception:
        return False
    return state == "ok" and any(int(entry[2][1]) == heir.port for entry in slots)


def _node_id(cluster: RedisCluster, node: Any) -> str:
    with cluster.client(node) as client:
        return str(client.execute_command("CLUSTER", "MYID").decode())


async def test_cluster_ask_during_slot_migration_is_followed(redis_cluster: RedisCluster) -> None:
    """A slot being migrated (one key already on the target): the ASK reply is followed
    for that key, the keys still on the source are read there, and once the slot has moved
    the MOVED reply updates the table."""
    cfg = config(redis_cluster.url, **{"redis.hash_tag": "namespace"})  # one slot
    async with resolve(cfg) as stack:
        await stack.set_many({"moved": 1, "stays": 2})
        router = backend_of(stack).router
        slot = slot_of(cfg.key_prefix + "moved")
        owner = router.primary(slot).address[1]
        source = next(n for n in redis_cluster.primaries() if n.port == owner)
        target = next(n for n in redis_cluster.primaries() if n is not source)
        source_id, target_id = _node_id(redis_cluster, source), _node_id(redis_cluster, target)
        with redis_cluster.client(source) as src, redis_cluster.client(target) as dst:
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            src.execute_command(
                "MIGRATE", "127.0.0.1", target.port, cfg.key_prefix + "moved", 0, 5000
            )
            try:
                assert await stack.get("moved") == 1  # ASK to the target
                assert await stack.get("stays") == 2  # still on the source
                assert router.redirects >= 1
                src.execute_command(
                    "MIGRATE", "127.0.0.1", target.port, cfg.key_prefix + "stays", 0, 5000
                )
                for node in redis_cluster.primaries():
                    with redis_cluster.client(node) as client:
                        client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
                assert await stack.get_many(["moved", "stays"]) == {"moved": 1, "stays": 2}
                assert router.primary(slot).address[1] == target.port
            finally:
                await stack.clear()
                for node in redis_cluster.primaries():  # give the (now empty) slot back
                    with redis_cluster.client(node) as client:
                        client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", source_id)
    await asyncio.to_thread(redis_cluster.wait_healthy)


async def test_cluster_stack_serves_without_explicit_connect(redis_cluster: RedisCluster) -> None:
    """A stack used before ``connect()`` reads the slot table on its first command."""
    stack = resolve(config(redis_cluster.url))
    try:
        await stack.set_many({f"k{i}": i for i in range(50)})
        assert len(await stack.get_many([f"k{i}" for i in range(50)])) == 50
        assert (await stack.health()).ok
        await stack.clear()
    finally:
        await stack.aclose()


async def test_cluster_over_tls_every_node_verified(tmp_path: Path) -> None:
    """A TLS-only cluster (client port, bus and replication): a rediss+cluster:// URL with
    the CA reaches every primary over verified TLS; a plaintext URL does not get in."""
    pki = write_pki(tmp_path)
    cluster = RedisCluster(tls=pki).start()
    try:
        cfg = config(cluster.url, **{"security.tls_ca_path": pki.ca})
        async with resolve(cfg) as stack:
            items = {f"k{i}": i for i in range(100)}
            await stack.set_many(items)
            assert await stack.get_many(list(items)) == items
            counts = keys_on_nodes(cluster, f"{cfg.key_prefix}*")
            assert len(counts) == 3 and all(counts.values()), counts
            router = backend_of(stack).router
            assert len(router.nodes) >= 3
            for node in router.primaries:
                pool = node.client.connection_pool
                connection = await pool.get_connection()
                try:
                    peer = connection._writer.get_extra_info("ssl_object").getpeercert()
                    assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
                finally:
                    await pool.release(connection)
            await stack.clear()
        plain = resolve(config(cluster.url.replace("rediss+", "redis+")))
        try:
            assert await plain.connect() is False  # degraded, not raised
            assert (await plain.health()).status == "degraded"
        finally:
            await plain.aclose()
    finally:
        cluster.cleanup()
