"""Tag invalidation across processes on a real redis-server: ``invalidate_tags`` in one
worker removes the tagged entries from Redis and from another worker's memory tier within
the coherence bound, and leaves the others alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.helpers_workers import Worker, within
from tests.integration.test_coherence import LAG, cached_in, overrides
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def pair(redis_server: RedisServer) -> Iterator[tuple[Worker, Worker]]:
    """Two worker processes with stacks of their own on one redis-server."""
    a, b = Worker(overrides(redis_server)), Worker(overrides(redis_server))
    yield a, b
    a.stop()
    b.stop()


def test_coherence_invalidate_tags_reaches_another_process_within_100ms(
    pair: tuple[Worker, Worker], redis_server: RedisServer
) -> None:
    """Acceptance: B holds 8 entries tagged ``user:42`` (and 4 tagged ``user:43``, 2 of
    them with both) in memory; A's ``invalidate_tags(["user:42"])`` removes the 8 from
    Redis and from B's memory tier within 100 ms, every round (5 rounds); the others
    stay in both."""
    a, b = pair
    raw = redis.Redis(port=redis_server.port)
    try:
        for round_ in range(5):
            tagged = [f"r{round_}:u42:{i}" for i in range(6)]
            both = [f"r{round_}:both:{i}" for i in range(2)]
            kept = [f"r{round_}:u43:{i}" for i in range(2)]
            for key in tagged:
                a.call("set_tagged", key=key, value={"k": key}, tags=["user:42"])
            for key in both:
                a.call("set_tagged", key=key, value={"k": key}, tags=["user:43", "user:42"])
            for key in kept:
                a.call("set_tagged", key=key, value={"k": key}, tags=["user:43"])
            for key in tagged + both + kept:
                cached_in(b, key, {"k": key})
            assert a.call("invalidate_tags", tags=["user:42"]) == len(tagged + both)

            def gone_from_b(removed: list[str] = tagged + both) -> bool:
                return all(b.call("memory", key=key) is None for key in removed)

            assert within(LAG, gone_from_b) <= LAG
            stored = {key.decode() for key in raw.keys(f"*r{round_}:*")}
            assert not any(key.endswith(tuple(tagged + both)) for key in stored), stored
            assert all(any(key.endswith(k) for key in stored) for k in kept), stored
            for key in kept:
                assert b.call("memory", key=key) == {"k": key}
                assert b.call("get", key=key) == {"k": key}
            for key in tagged + both:
                assert b.call("get", key=key) is None
    finally:
        raw.close()
