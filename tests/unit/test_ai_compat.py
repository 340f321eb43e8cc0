"""Tests of the original's AI configuration types over CacheConfig."""

from __future__ import annotations

import hashlib

import pytest

from cachekit import (
    AIResponseCache,
    AIResponseCacheConfig,
    CacheConfigError,
    CacheParameterMapper,
    EnvironmentPresets,
    SecurityConfig,
)

LOCAL = "redis://127.0.0.1:6390/0"


def test_ai_compat_kwargs_hold_only_what_was_given() -> None:
    """``to_ai_cache_kwargs`` returns the given parameters and the hash, nothing invented."""
    config = AIResponseCacheConfig(redis_url=LOCAL, text_hash_threshold=500)
    assert config.to_ai_cache_kwargs() == {
        "redis_url": LOCAL,
        "text_hash_threshold": 500,
        "hash_algorithm": hashlib.sha256,
    }
    assert AIResponseCacheConfig().to_ai_cache_kwargs() == {"hash_algorithm": hashlib.sha256}


def test_ai_compat_defaults_come_from_the_preset() -> None:
    """A bare config resolves to exactly the ai-production preset (no second defaults)."""
    preset = EnvironmentPresets.ai_production()
    config = AIResponseCacheConfig(redis_url=preset.redis.url).to_cache_config()
    assert config == preset
    cache = AIResponseCache(**AIResponseCacheConfig().to_ai_cache_kwargs())
    assert cache.config == preset
    assert cache.operation_ttls == preset.ai.operation_ttls


def test_ai_compat_cache_from_kwargs_applies_them() -> None:
    """``AIResponseCache(**config.to_ai_cache_kwargs())`` honours every given parameter."""
    config = AIResponseCacheConfig(
        redis_url=LOCAL,
        default_ttl=120,
        memory_cache_size=7,
        compression_level=3,
        text_size_tiers={"small": 10, "medium": 20, "large": 30},
        operation_ttls={"qa": 60},
        hash_algorithm=hashlib.sha256,
        overrides={"ai.max_text_length": 1234},
    )
    cache = AIResponseCache(**config.to_ai_cache_kwargs())
    resolved = cache.config
    assert resolved is not None
    assert (resolved.ttl.default, resolved.memory.max_entries, resolved.compression.level) == (
        120,
        7,
        3,
    )
    assert resolved.ai.max_text_length == 1234
    assert cache.operation_ttls["qa"] == 60
    assert cache.text_size_tiers == {"small": 10, "medium": 20, "large": 30}
    assert resolved == config.to_cache_config()


@pytest.mark.parametrize(
    ("factory", "preset", "url"),
    [
        (AIResponseCacheConfig.create_default, "ai-production", "redis://localhost:6379/0"),
        (AIResponseCacheConfig.create_development, "ai-development", "redis://localhost:6379/0"),
        (lambda: AIResponseCacheConfig.create_production(LOCAL), "ai-production", LOCAL),
        (AIResponseCacheConfig.create_testing, "testing", ""),
    ],
)
def test_ai_compat_environment_constructors(factory: object, preset: str, url: str) -> None:
    """Each per-environment constructor picks its preset, with the AI layer on."""
    config = factory().to_cache_config()  # type: ignore[operator]
    assert (config.preset, config.redis.url, config.ai.enabled) == (preset, url, True)


async def test_ai_compat_testing_config_runs_without_redis() -> None:
    """The testing config gives a memory-only AI cache that works with no server."""
    cache = AIResponseCache(**AIResponseCacheConfig.create_testing().to_ai_cache_kwargs())
    async with cache:
        key = cache.build_key("doc", "summarize")
        await cache.set(key, {"summary": "s"})
        assert await cache.get(key) == {"summary": "s"}
    assert cache.default_ttl == 60


def test_ai_compat_validate_reports_problems() -> None:
    """``validate`` lists every problem, naming the config key, instead of raising."""
    assert AIResponseCacheConfig(redis_url=LOCAL).validate().is_valid
    result = AIResponseCacheConfig(memory_cache_size=-10, compression_level=42).validate()
    assert not result.is_valid
    assert any("memory.max_entries" in e for e in result.errors)
    assert any("compression.level" in e for e in result.errors)
    with pytest.raises(CacheConfigError):
        AIResponseCacheConfig(memory_cache_size=-10).to_cache_config()


def test_ai_compat_validate_hash_and_recommendation() -> None:
    """A weak hash is an error; a config without per-operation TTLs gets advice."""
    assert (
        AIResponseCacheConfig(hash_algorithm="md5")
        .validate()
        .errors[0]
        .startswith("hash_algorithm")
    )
    advice = AIResponseCacheConfig.create_testing().validate()
    assert advice.is_valid and any("operation_ttls" in r for r in advice.recommendations)
    assert AIResponseCacheConfig().validate().recommendations == []


def test_ai_compat_from_dict_and_unknown_keys() -> None:
    """``from_dict`` takes the flat names; other keys go to overrides and are validated."""
    config = AIResponseCacheConfig.from_dict(
        {"redis_url": LOCAL, "default_ttl": 30, "ai.normalize_whitespace": True}
    )
    assert (config.redis_url, config.default_ttl) == (LOCAL, 30)
    assert config.to_cache_config().ai.normalize_whitespace is True
    typo = AIResponseCacheConfig.from_dict({"memory_cache_sise": 5}).validate()
    assert any("unknown key" in e and "memory_cache_sise" in e for e in typo.errors)


def test_ai_compat_merge_lays_given_values_on_top() -> None:
    """``merge`` keeps this config's values unless ``other`` gives them."""
    base = AIResponseCacheConfig(redis_url=LOCAL, default_ttl=100, overrides={"ai.enabled": True})
    top = AIResponseCacheConfig(default_ttl=200, preset="ai-development")
    merged = base.merge(top)
    assert (merged.redis_url, merged.default_ttl, merged.preset) == (LOCAL, 200, "ai-development")
    assert merged.overrides == {"ai.enabled": True}
    assert base.default_ttl == 100
    assert base.merge_with(default_ttl=5, redis_url=None).default_ttl == 5


def test_ai_compat_repr_masks_password() -> None:
    """The repr shows the given parameters with the URL's password masked."""
    text = repr(AIResponseCacheConfig(redis_url="redis://u:s3cret@127.0.0.1:6390/0"))
    assert "s3cret" not in text
    assert "redis://u:***@127.0.0.1:6390/0" in text


def test_ai_compat_mapper_splits_parameters() -> None:
    """Generic and AI parameters are separated; memory_cache_size maps to l1_cache_size
    (which turns the memory tier on, as in the original)."""
    generic, ai = CacheParameterMapper().map_ai_to_generic_params(
        {
            "redis_url": LOCAL,
            "memory_cache_size": 100,
            "compression_threshold": 2000,
            "text_hash_threshold": 1000,
            "operation_ttls": {"qa": 5},
            "hash_algorithm": "sha256",
            "text_size_tiers": {"small": 1, "medium": 2, "large": 3},
        }
    )
    assert generic == {
        "redis_url": LOCAL,
        "l1_cache_size": 100,
        "compression_threshold": 2000,
        "enable_l1_cache": True,
    }
    assert set(ai) == {"text_hash_threshold", "operation_ttls", "hash_algorithm", "text_size_tiers"}


def test_ai_compat_mapper_validation() -> None:
    """Contradicting and invalid parameters are reported; valid ones pass."""
    mapper = CacheParameterMapper()
    ok = mapper.validate_parameter_compatibility(
        {"redis_url": LOCAL, "security_config": SecurityConfig(), "text_hash_threshold": 10}
    )
    assert ok.is_valid and ok.ai_specific_params == {"text_hash_threshold"}
    bad = mapper.validate_parameter_compatibility(
        {"memory_cache_size": 10, "l1_cache_size": 20, "default_ttl": -1, "enable_l1_cache": False}
    )
    assert not bad.is_valid
    assert "memory_cache_size" in bad.parameter_conflicts
    assert any("ttl.default" in e for e in bad.errors)
    assert bad.warnings == ["memory_cache_size has no effect while enable_l1_cache is False"]
