"""The AI response cache on a real redis-server: TTLs, invalidation, no KEYS, seed examples."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from cachekit import AIResponseCache, resolve
from cachekit.backends.glob import glob_matcher, key_bytes
from examples.text_processor import TextProcessorService, TextProcessorSettings
from tests.redis_server import RedisServer

RESPONSE = {"result": "ok", "model": "m", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
OPERATIONS = ("summarize", "sentiment", "key_points", "questions", "qa")


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the test's own server, for TTL, SCAN and INFO."""
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


def ai_cache(url: str, root: Path, **overrides: Any) -> AIResponseCache:
    """The ai-production stack on ``url`` (no settings files, no environment variables)."""
    cache = resolve(
        preset="ai-production", overrides={"redis.url": url, **overrides}, environ={}, root=root
    )
    assert isinstance(cache, AIResponseCache)
    return cache


async def names(client: aioredis.Redis) -> list[str]:
    """Every key on the server, via SCAN."""
    return sorted([k.decode() async for k in client.scan_iter("*")])


async def test_ai_redis_production_ttls_visible_with_ttl_command(
    redis_server: RedisServer, raw: aioredis.Redis, tmp_path: Path
) -> None:
    """With ai-production, summarize lives 14400 s and qa 7200 s in Redis (TTL command)."""
    async with ai_cache(redis_server.url, tmp_path) as cache:
        expected = {"summarize": 14400, "sentiment": 7200, "key_points": 10800}
        expected |= {"questions": 9600, "qa": 7200}
        for operation in OPERATIONS:
            key = cache.build_key("a document", operation)
            await cache.set(key, RESPONSE)
            ttl = await raw.ttl(cache.config.key_prefix + key)  # type: ignore[union-attr]
            assert expected[operation] - 5 <= ttl <= expected[operation]


async def test_ai_redis_settings_toml_ttls_follow(
    redis_server: RedisServer, raw: aioredis.Redis, tmp_path: Path
) -> None:
    """``[ai.operation_ttls]`` in settings.toml changes the TTLs Redis holds."""
    (tmp_path / "settings.toml").write_text(
        textwrap.dedent(
            f"""
            [default]
            preset = "ai-production"

            [default.redis]
            url = "{redis_server.url}"

            [default.ai.operation_ttls]
            summarize = 600
            qa = 300
            """
        )
    )
    cache = resolve(root=tmp_path, environ={})
    assert isinstance(cache, AIResponseCache)
    async with cache:
        ttls = {}
        for operation in ("summarize", "qa", "sentiment"):
            key = cache.build_key("doc", operation)
            await cache.set(key, RESPONSE)
            ttls[operation] = await raw.ttl(cache.config.key_prefix + key)  # type: ignore[union-attr]
    assert 595 <= ttls["summarize"] <= 600
    assert 295 <= ttls["qa"] <= 300
    assert 7195 <= ttls["sentiment"] <= 7200  # not in the file: the preset's value


async def test_ai_redis_invalidate_by_operation_exact_and_without_keys(
    redis_server: RedisServer, raw: aioredis.Redis, tmp_path: Path
) -> None:
    """Invalidating sentiment removes exactly its entries (Redis and memory tier), via SCAN;
    the server never sees a KEYS command."""
    async with ai_cache(redis_server.url, tmp_path) as cache:
        keys = {op: [cache.build_key(f"doc {i}", op) for i in range(20)] for op in OPERATIONS}
        for op_keys in keys.values():
            for key in op_keys:
                await cache.set(key, RESPONSE)
        await cache.set("user:1", "not an AI entry")
        before = await names(raw)
        await raw.config_resetstat()

        assert await cache.invalidate_by_operation("sentiment") == 20

        prefix = cache.config.key_prefix  # type: ignore[union-attr]
        sentiment = {prefix + k for k in keys["sentiment"]}
        assert await names(raw) == sorted(set(before) - sentiment)
        assert [await cache.get(k) for k in keys["sentiment"]] == [None] * 20
        for op in ("summarize", "qa"):
            assert await cache.get(keys[op][0]) == RESPONSE
        stats = await raw.info("commandstats")
    assert "cmdstat_keys" not in stats
    assert stats["cmdstat_scan"]["calls"] >= 1
    assert stats["cmdstat_unlink"]["calls"] >= 1


async def test_ai_redis_invalidate_pattern_is_literal(
    redis_server: RedisServer, raw: aioredis.Redis, tmp_path: Path
) -> None:
    """User patterns with ``*``, ``?`` or ``[`` remove only keys holding those characters."""
    async with ai_cache(redis_server.url, tmp_path) as cache:
        literal = {"a*b": "ai:op:a*b:none", "a?b": "ai:op:a?b:none", "a[bc]d": "ai:op:a[bc]d:none"}
        decoys = ["ai:op:aXYZb:none", "ai:op:aXb:none", "ai:op:abd:none", "ai:op:acd:none"]
        for key in [*literal.values(), *decoys]:
            await cache.set(key, "v")
        real = [cache.build_key(f"doc {i}", "summarize") for i in range(5)]
        for key in real:
            await cache.set(key, RESPONSE)
        for pattern in ("a*d", "a?d", "[a-f]", "*:*", "o[p]", "a[^x]d"):
            assert await cache.invalidate_pattern(pattern) == 0  # unescaped, each would match
        for pattern, key in literal.items():
            assert await cache.invalidate_pattern(pattern) == 1
            assert await cache.get(key) is None
        prefix = cache.config.key_prefix  # type: ignore[union-attr]
        assert await names(raw) == sorted(prefix + k for k in decoys + real)


async def test_ai_redis_memory_glob_agrees_with_scan(raw: aioredis.Redis) -> None:
    """The memory tier's pattern matcher selects exactly what Redis SCAN MATCH selects."""
    keys = [
        "a*b",
        "a?b",
        "a[b]c",
        "a\\b",
        "abc",
        "ab",
        "a\nb",
        "]",
        "x-y",
        "AB",
        "é",
        "a]",
        "-",
        "aé",
    ]
    for key in keys:
        await raw.set(key, "v")
    patterns = [
        "a*", "a?b", "a[b]c", "a\\[b\\]c", "[ab]*", "[^a]*", "[a-c]b*", "[c-a]*", "a\\*b",
        "*\\?*", "x[-]y", "[]", "[^]", "*", "?", "a\\", "[\\]]", "a[]]", "[a-]*", "A*", "*]",
        "??", "a?", "a[^b]*", "é", "[é]", "a[à-é]",
    ]  # fmt: skip
    for pattern in patterns:
        scanned = sorted([k.decode() async for k in raw.scan_iter(match=pattern)])
        local = sorted(k for k in keys if glob_matcher(pattern)(key_bytes(k)))
        assert local == scanned, pattern


# -- the seed documentation's AI examples, as written ----------------------------------
# From "Usage Example (Phase 3 Factory Pattern)", the AI lines, verbatim except for the
# import path of the example service.
FACTORY_AI_EXAMPLE = """
from cachekit import CacheFactory, CacheConfigBuilder

# Explicit cache creation for AI applications
ai_cache = CacheFactory.for_ai_app(redis_url="redis://localhost:6379")
await ai_cache.connect()

# Standard interface usage (infrastructure layer)
cache_key = ai_cache.build_key("Document to process", "summarize", {"max_length": 100})
await ai_cache.set(cache_key, {"summary": "Brief summary"}, ttl=3600)

# Get cached response using standard interface
result = await ai_cache.get(cache_key)

# Domain service usage (recommended pattern)
from examples.text_processor import TextProcessorService
service = TextProcessorService(settings=settings, cache=ai_cache)
# Domain service handles all cache logic internally using standard interface
"""

# From "Direct Infrastructure Usage (Advanced)", verbatim.
DIRECT_AI_EXAMPLE = """
from cachekit import AIResponseCache, GenericRedisCache, InMemoryCache
from cachekit import AIResponseCacheConfig

# AI-specific Redis cache with configuration (uses standard interface)
config = AIResponseCacheConfig(redis_url="redis://localhost:6379")
cache = AIResponseCache(**config.to_ai_cache_kwargs())
await cache.connect()

# Standard interface methods only
cache_key = cache.build_key("text", "operation", {"option": "value"})
await cache.set(cache_key, data, ttl=3600)
result = await cache.get(cache_key)
"""


async def run_example(source: str, url: str, **given: Any) -> dict[str, Any]:
    """Run example code (top-level await) with ``given`` names defined, on the test's Redis."""
    body = textwrap.indent(source.replace("redis://localhost:6379", url.rsplit("/", 1)[0]), "    ")
    namespace: dict[str, Any] = {}
    params = ", ".join(given)
    exec(f"async def __example({params}):\n{body}\n    return locals()", namespace)
    result: dict[str, Any] = await namespace["__example"](**given)
    return result


async def test_ai_redis_seed_factory_example_runs(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    """The seed's AI factory lines and the TextProcessorService line run against Redis."""
    settings = TextProcessorSettings(llm_latency_seconds=0)
    scope = await run_example(FACTORY_AI_EXAMPLE, redis_server.url, settings=settings)
    ai_cache = scope["ai_cache"]
    assert isinstance(ai_cache, AIResponseCache)
    assert scope["result"] == {"summary": "Brief summary"}
    prefix = ai_cache.config.key_prefix  # type: ignore[union-attr]
    assert 3595 <= await raw.ttl(prefix + scope["cache_key"]) <= 3600
    service: TextProcessorService = scope["service"]
    assert service.cache is ai_cache
    first = await service.summarize("Caching saves tokens. It also saves time.")
    second = await service.summarize("Caching saves tokens. It also saves time.")
    assert (first.cache_hit, second.cache_hit) == (False, True)
    stored = await names(raw)
    summaries = [n for n in stored if n.startswith(prefix + "ai:summarize:")]
    assert len(summaries) == 2
    ttls = [await raw.ttl(n) for n in summaries if n != prefix + scope["cache_key"]]
    assert len(ttls) == 1 and 14395 <= ttls[0] <= 14400
    await ai_cache.aclose()


async def test_ai_redis_seed_direct_example_runs(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    """The seed's direct AIResponseCache example runs with AIResponseCacheConfig kwargs."""
    data = {"summary": "text summary", "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    scope = await run_example(DIRECT_AI_EXAMPLE, redis_server.url, data=data)
    cache = scope["cache"]
    assert isinstance(cache, AIResponseCache)
    assert scope["result"] == data
    assert scope["cache_key"].startswith("ai:operation:")
    prefix = cache.config.key_prefix  # type: ignore[union-attr]
    assert 3595 <= await raw.ttl(prefix + scope["cache_key"]) <= 3600
    assert (await cache.get_cache_stats())["tokens_saved"] == 5
    await cache.aclose()
