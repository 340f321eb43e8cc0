"""The memory tier's Redis glob matcher: Redis's rules, a bounded amount of work whatever the
pattern, and the pattern length limit. The differential test against a real redis-server is
in tests/integration/test_glob.py."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachekit import CacheValueError, InMemoryCache
from cachekit.backends.glob import (
    MAX_PATTERN_LENGTH,
    GlobMatcher,
    check_pattern,
    escape_glob,
    glob_matcher,
    key_bytes,
)
from tests.helpers_glob import KEY_BYTES, PATTERN_BYTES, stringmatchlen

PATHOLOGICAL = ["*a*a*a*a*ab", "*?*?*?*?*?*?!", "*a" * 40 + "b", "*[a]*[^b]*?*a*" * 8 + "!"]
"""Patterns that made a backtracking matcher (``re``) run for seconds to minutes."""


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(st.sampled_from(PATTERN_BYTES), max_size=10).map(b"".join),
    st.lists(st.sampled_from(KEY_BYTES), max_size=9).map(b"".join),
    st.booleans(),
)
def test_glob_matcher_agrees_with_a_port_of_redis(
    pattern: bytes, key: bytes, prefixed: bool
) -> None:
    """The matcher gives what a line-by-line port of Redis's ``stringmatchlen`` gives."""
    if prefixed:  # as Redis sees the stack's keys: behind a literal prefix
        expected = stringmatchlen(b"ns:" + pattern, b"ns:" + key)
    else:
        expected = pattern == b"*" or stringmatchlen(pattern, key)
    assert GlobMatcher(pattern, prefixed=prefixed)(key) is expected


@pytest.mark.parametrize(
    ("pattern", "key", "prefixed", "expected"),
    [
        ("*", "", False, True),  # SCAN's match-all short cut
        ("**", "", False, False),  # stringmatchlen never matches the empty key ...
        ("**", "", True, True),  # ... but behind a prefix any run of stars does
        ("", "", False, True),
        ("[a-é]", "\x00", False, True),  # the range is 0xc3 (signed: -61) .. 'a'
        ("[a-é]", "b", False, False),
        ("a[", "a", False, False),  # an unterminated empty class matches nothing
        ("a[^", "ab", False, True),  # ... an unterminated negated one anything
        ("\\", "\\", False, True),  # a trailing backslash is literal
    ],
)
def test_glob_matcher_keeps_redis_quirks(
    pattern: str, key: str, prefixed: bool, expected: bool
) -> None:
    """Empty keys, signed range bounds and unterminated classes match as in Redis 7."""
    assert glob_matcher(pattern, prefixed=prefixed)(key_bytes(key)) is expected


def test_glob_matcher_stops_past_redis_nesting_limit() -> None:
    """Past 1,000 ``*`` runs a pattern matches nothing unless the last run ends it (Redis 7)."""
    key = b"a" * 1100 + b"b"
    assert glob_matcher("*a" * 1000 + "b")(key)
    assert glob_matcher("*a" * 1000 + "*")(key)
    assert not glob_matcher("*a" * 1001 + "b")(key)
    assert not glob_matcher("*a" * 1001 + "*")(key)


def test_glob_matcher_work_is_bounded_on_pathological_patterns() -> None:
    """The issue's patterns over 10,000 keys of 250 characters: at most one search per
    segment per key (a backtracking matcher explores combinations of ``*`` positions)."""
    keys = [b"a" * 249 + str(i % 10).encode() for i in range(10_000)]
    started = time.perf_counter()
    for pattern in PATHOLOGICAL:
        matcher = GlobMatcher(key_bytes(pattern))
        segments = pattern.count("*") + 1
        assert sum(map(matcher, keys)) == 0
        assert matcher.steps <= len(keys) * segments
    # A matcher that accepts everything still searches each segment once per key.
    everything = GlobMatcher(b"*a*a*a*")
    assert all(map(everything, keys))
    assert everything.steps <= len(keys) * 4
    assert time.perf_counter() - started < 10  # safety net only: the bound is the steps


async def test_memory_delete_matching_on_pathological_patterns() -> None:
    """``delete_matching`` with the issue's patterns over 10,000 long keys removes the right
    keys with a bounded number of matcher steps."""
    cache = InMemoryCache(max_size=20_000)
    keys = ["a" * 249 + str(i % 10) + str(i) for i in range(10_000)]
    for key in keys:
        await cache.set(key, 1)
    for pattern in PATHOLOGICAL:
        matcher = glob_matcher(pattern, prefixed=True)
        before = matcher.steps
        assert await cache.delete_matching(pattern) == 0
        assert matcher.steps - before <= len(keys) * (pattern.count("*") + 1)
    assert await cache.delete_matching("*a*a*a*a*a1*") == 1000
    assert cache.size() == 9_000


@pytest.mark.parametrize("text", ["a*b", "[x]?", "back\\slash", "plain"])
async def test_memory_delete_matching_escaped_text_is_literal(text: str) -> None:
    """A pattern made by ``escape_glob`` removes exactly the key spelled like the text."""
    cache = InMemoryCache()
    for key in (text, text + "x", "a" + text, "axb", "xx?"):
        await cache.set(key, 1)
    assert await cache.delete_matching(escape_glob(text)) == 1
    assert not await cache.exists(text)
    assert await cache.exists(text + "x")


def test_check_pattern_limits_length() -> None:
    """Patterns up to the limit pass, longer ones raise ``CacheValueError`` naming it."""
    assert check_pattern("a" * MAX_PATTERN_LENGTH) == "a" * MAX_PATTERN_LENGTH
    with pytest.raises(CacheValueError, match=str(MAX_PATTERN_LENGTH)):
        check_pattern("a" * (MAX_PATTERN_LENGTH + 1))
    with pytest.raises(CacheValueError, match="str"):
        check_pattern(b"a*")


async def test_memory_delete_matching_refuses_long_patterns() -> None:
    """The memory tier refuses a pattern over the limit and removes nothing."""
    cache = InMemoryCache()
    await cache.set("k", 1)
    with pytest.raises(CacheValueError, match="limit"):
        await cache.delete_matching("*" * (MAX_PATTERN_LENGTH + 1))
    assert await cache.exists("k")
