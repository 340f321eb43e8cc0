"""The memory tier's glob matcher against a real redis-server: for any key set and pattern,
it selects exactly the keys ``SCAN MATCH`` returns (unprefixed, and behind a stack's key
prefix as ``delete_matching`` runs it), and the tiers of one stack remove the same keys."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachekit import CacheConfigBuilder, InMemoryCache
from cachekit.backends.glob import GlobMatcher, escape_glob
from cachekit.backends.redis.backend import RedisBackend
from tests.helpers_glob import KEY_BYTES, PATTERN_BYTES
from tests.redis_server import RedisServer

_NAMESPACES = itertools.count()

patterns = st.lists(st.sampled_from(PATTERN_BYTES), max_size=9).map(b"".join)
key_sets = st.sets(st.lists(st.sampled_from(KEY_BYTES), max_size=7).map(b"".join), max_size=25)


@pytest.fixture(scope="module")
def client(shared_redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A synchronous client of this module's redis-server (database 3, this module's own)."""
    made = redis.Redis(port=shared_redis_server.port, db=3)
    yield made
    made.close()


def scan(client: redis.Redis, pattern: bytes) -> set[bytes]:
    """Every key ``SCAN MATCH pattern`` returns."""
    return set(client.scan_iter(match=pattern, count=1000))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=key_sets, pattern=patterns)
def test_glob_matcher_selects_what_scan_match_returns(
    client: redis.Redis, keys: set[bytes], pattern: bytes
) -> None:
    """Unprefixed keys: the matcher and ``SCAN MATCH`` select the same keys."""
    client.flushdb()
    if keys:
        client.mset(dict.fromkeys(keys, b"v"))
    matcher = GlobMatcher(pattern)
    assert {k for k in keys if matcher(k)} == scan(client, pattern)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=key_sets, pattern=patterns)
def test_glob_matcher_prefixed_selects_what_scan_match_returns(
    client: redis.Redis, keys: set[bytes], pattern: bytes
) -> None:
    """Keys behind a stack's prefix, pattern behind the escaped prefix (as the Redis tier
    sends it): the prefixed matcher and ``SCAN MATCH`` select the same keys."""
    prefix = f"glob{next(_NAMESPACES)}:t:".encode()
    if keys:
        client.mset({prefix + k: b"v" for k in keys})
    matcher = GlobMatcher(pattern, prefixed=True)
    expected = {prefix + k for k in keys if matcher(k)}
    assert expected == scan(client, escape_glob(prefix.decode()).encode() + pattern)


async def test_tiers_remove_the_same_keys(shared_redis_server: RedisServer) -> None:
    """``delete_matching`` on the memory tier and on the Redis tier (behind its key prefix)
    leaves the same keys, for patterns of every kind."""
    keys = ["a", "ab", "a*b", "a[b]", "é", "aé", "a\\b", "", "-", "]", "x?y", "ba"]
    patterns = ["a*", "*b", "a\\*b", "[a-é]*", "[^a]", "?", "**", "*", "a[b", "[-]"]
    for n, pattern in enumerate(patterns):
        config = (
            CacheConfigBuilder()
            .with_preset("simple")
            .with_overrides({"redis.url": shared_redis_server.url, "namespace": f"tiers{n}"})
            .build()
        )
        memory, remote = InMemoryCache(), RedisBackend.from_config(config)
        await remote.connect()
        try:
            for key in keys:
                await remote.set(key, key)
                await memory.set(key, key)
            removed = await remote.delete_matching(pattern)
            assert await memory.delete_matching(pattern) == removed, pattern
            in_redis = {key for key in keys if await remote.exists(key)}
        finally:
            await remote.aclose()
        assert set(memory.get_keys()) == in_redis, pattern
        assert removed or pattern == "a[b", pattern  # the pattern did remove something
