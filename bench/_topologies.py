"""Sentinel and Cluster: cachekit against redis-py on the same local topology.

Starts the test suite's topologies (``tests/topologies.py``: 3 primaries + 3 replicas, and
a master + replica + 3 sentinels) on free ports, measures with the memory tier off (every
read goes to Redis), and stops them. The rows:

- ``cluster get-hit, 64 concurrent tasks``: cachekit vs redis-py ``RedisCluster`` + json;
- ``cluster get_many, 100 keys per call``: cachekit vs ``RedisCluster.mget_nonatomic`` + json;
- ``sentinel get-hit, 64 concurrent tasks``: cachekit through the sentinels vs cachekit
  on the same master by a standalone URL.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio.cluster import RedisCluster as PyRedisCluster

from bench import _stacks as stacks
from bench._measure import Contender, Result, Settings, compare
from bench._values import record_dict
from tests.topologies import RedisCluster, SentinelSet

TTL = 3600


async def cluster(settings: Settings, pool: int) -> list[Result]:
    """get-hit under concurrency and get_many across slots, on a 3 + 3 cluster."""
    topology = RedisCluster().start()
    try:
        return await _cluster(settings, topology, pool)
    finally:
        topology.cleanup()


async def _cluster(settings: Settings, topology: RedisCluster, pool: int) -> list[Result]:
    value = record_dict()
    ck = stacks.stack(topology.url, memory=False, pool=pool)
    seed = topology.nodes[0]
    # redis-py's cluster pool fails instead of waiting when it is out of connections: it
    # gets one connection per task per node (more than cachekit's ``pool``).
    raw = PyRedisCluster(host="127.0.0.1", port=seed.port, max_connections=settings.concurrency)
    keys = [f"user:{i}" for i in range(settings.keys)]
    await ck.set_many(dict.fromkeys(keys, value))
    for k in keys:
        await raw.set("raw:" + k, json.dumps(value), ex=TTL)
    assert await ck.get(keys[0]) == value

    async def raw_get(k: str) -> Any:
        found = await raw.get("raw:" + k)
        return None if found is None else json.loads(found)

    results = await compare(
        f"cluster get-hit, {settings.concurrency} concurrent tasks",
        [
            Contender("cachekit", ck.get, subject=True, note=stacks.describe(ck)),
            Contender(
                "redis-py RedisCluster + json",
                raw_get,
                note=f"pool {settings.concurrency} per node",
            ),
        ],
        [(k,) for k in keys],
        settings,
        tasks=settings.concurrency,
    )
    batches = [tuple(keys[i : i + 100]) for i in range(0, len(keys), 100)]

    async def ck_many(*batch: str) -> None:
        assert len(await ck.get_many(batch)) == len(batch)

    async def raw_many(*batch: str) -> None:
        found = await raw.mget_nonatomic(["raw:" + k for k in batch])
        assert len([json.loads(f) for f in found if f is not None]) == len(batch)

    results += await compare(
        "cluster get_many, 100 keys per call",
        [
            Contender("cachekit get_many", ck_many, subject=True),
            Contender("redis-py mget_nonatomic + json", raw_many),
        ],
        batches,
        settings,
        unit="calls/s",
    )
    await ck.clear()
    await ck.aclose()
    await raw.aclose()
    return results


async def sentinel(settings: Settings, pool: int) -> list[Result]:
    """get-hit through the sentinels against the same master by a standalone URL."""
    topology = SentinelSet().start()
    try:
        value = record_dict()
        via_sentinels = stacks.stack(topology.url, memory=False, pool=pool)
        direct = stacks.stack(topology.current_master().url, memory=False, pool=pool)
        keys = [f"user:{i}" for i in range(settings.keys)]
        await via_sentinels.set_many(dict.fromkeys(keys, value))
        assert await direct.get(keys[0]) == value  # one namespace, one master
        results = await compare(
            f"sentinel get-hit, {settings.concurrency} concurrent tasks",
            [
                Contender("cachekit via sentinels", via_sentinels.get, subject=True),
                Contender("cachekit standalone, same master", direct.get),
            ],
            [(k,) for k in keys],
            settings,
            tasks=settings.concurrency,
        )
        await via_sentinels.clear()
        await via_sentinels.aclose()
        await direct.aclose()
        return results
    finally:
        topology.cleanup()
