"""The bugs of issue 16 that are wrong whatever the original did: AI settings accepted and
ignored (bug 2), a disabled memory tier's size validated (bug 3)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from cachekit import (
    AIResponseCache,
    AIResponseCacheConfig,
    CacheConfigBuilder,
    CacheConfigError,
    CacheFactory,
    GenericRedisCache,
)
from tests.helpers_net import free_port
from tests.redis_server import RedisServer

AI_SETTINGS = {"operation_ttls": {"summarize": 1800}, "text_hash_threshold": 500}


def _unused_url() -> str:
    """A Redis URL on a free local port (nothing connects in these tests)."""
    return f"redis://127.0.0.1:{free_port()}/0"


def test_bug2_create_cache_from_config_with_ai_settings_builds_the_ai_cache() -> None:
    """A config dict with AI settings gives an AIResponseCache that uses them."""
    cache = CacheFactory.create_cache_from_config({"redis_url": _unused_url(), **AI_SETTINGS})
    assert isinstance(cache, AIResponseCache)
    assert cache.operation_ttls["summarize"] == 1800
    assert cache.text_hash_threshold == 500
    assert cache.config is not None and cache.config.ai.enabled is True


@pytest.mark.redis
async def test_bug2_operation_ttl_reaches_redis(redis_server: RedisServer) -> None:
    """The per-operation TTL of such a config is the TTL the entry gets in Redis."""
    cache = CacheFactory.create_cache_from_config({"redis_url": redis_server.url, **AI_SETTINGS})
    raw = aioredis.from_url(redis_server.url)
    async with cache:
        key = cache.build_key("a document", "summarize")
        await cache.set(key, {"summary": "short"})
        assert cache.config is not None
        ttl = await raw.ttl(cache.config.key_prefix + key)
    await raw.aclose()
    assert 1790 <= ttl <= 1800


@pytest.mark.parametrize(
    "settings",
    [
        {"ai.operation_ttls": {"qa": 60}},
        {"ai": {"text_hash_threshold": 10}},
        {"ai_config": {"max_text_length": 5000}},
        {"text_size_tiers": {"small": 1, "medium": 2, "large": 3}},
    ],
)
def test_bug2_every_form_of_ai_setting_turns_the_ai_layer_on(settings: dict[str, object]) -> None:
    """Dotted, nested, ``ai_config`` and flat AI settings all give the AI cache."""
    cache = CacheFactory.create_cache_from_config({"redis_url": _unused_url(), **settings})
    assert isinstance(cache, AIResponseCache)


def test_bug2_ai_settings_with_ai_off_are_refused() -> None:
    """AI settings next to ``enable_ai_cache=False`` are a configuration error."""
    with pytest.raises(CacheConfigError) as info:
        CacheFactory.create_cache_from_config(
            {"redis_url": _unused_url(), "enable_ai_cache": False, **AI_SETTINGS}
        )
    keys = {p.key for p in info.value.problems}
    assert {"ai.operation_ttls.summarize", "ai.text_hash_threshold"} <= keys


def test_bug2_ai_settings_on_a_non_ai_cache_are_refused() -> None:
    """``GenericRedisCache`` and ``for_web_app`` refuse AI settings instead of dropping them."""
    with pytest.raises(CacheConfigError, match="no AI layer"):
        GenericRedisCache(_unused_url(), text_hash_threshold=500)
    with pytest.raises(CacheConfigError, match="no AI layer"):
        CacheFactory.for_web_app(_unused_url(), operation_ttls={"summarize": 1})


def test_bug2_config_without_ai_settings_stays_generic() -> None:
    """A config dict without AI settings still gives the plain Redis cache."""
    cache = CacheFactory.create_cache_from_config({"redis_url": _unused_url(), "default_ttl": 5})
    assert type(cache) is GenericRedisCache
    assert cache.default_ttl == 5


def test_bug3_disabled_memory_tier_size_is_not_validated() -> None:
    """``enable_l1_cache=False, l1_cache_size=0`` builds a Redis-only cache."""
    cache = GenericRedisCache(_unused_url(), enable_l1_cache=False, l1_cache_size=0)
    assert cache.config is not None and cache.config.memory.enabled is False
    assert cache.memory_cache_size == 0
    ai = AIResponseCache(_unused_url(), enable_l1_cache=False, memory_cache_size=0)
    assert ai.config is not None and ai.config.memory.enabled is False
    builder = CacheConfigBuilder().with_redis(_unused_url()).with_memory_cache(0, enabled=False)
    assert builder.build().memory.enabled is False


def test_bug3_enabled_memory_tier_size_is_still_validated() -> None:
    """With the memory tier on, a size of 0 is still refused, naming the key."""
    with pytest.raises(CacheConfigError) as info:
        GenericRedisCache(_unused_url(), enable_l1_cache=True, l1_cache_size=0)
    assert [p.key for p in info.value.problems] == ["memory.max_entries"]
    assert AIResponseCacheConfig(enable_l1_cache=False, memory_cache_size=0).validate().is_valid
