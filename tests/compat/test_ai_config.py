"""``AIResponseCacheConfig`` and ``CacheParameterMapper``: the original's methods and
result shapes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cachekit import (
    AIResponseCache,
    AIResponseCacheConfig,
    CacheConfigError,
    CacheParameterMapper,
    GenericRedisCache,
    ValidationResult,
)

LOCAL = "redis://127.0.0.1:6390/0"


@pytest.mark.parametrize(
    ("make", "preset", "ttl"),
    [
        (AIResponseCacheConfig.create_development, "ai-development", 1800),
        (lambda: AIResponseCacheConfig.create_production(LOCAL), "ai-production", 14400),
        (AIResponseCacheConfig.create_testing, "testing", 60),
    ],
)
def test_ai_config_create_methods_are_filled(make: object, preset: str, ttl: int) -> None:
    """The per-environment constructors fill every field with their preset's values."""
    config = make()  # type: ignore[operator]
    assert (config.preset, config.default_ttl) == (preset, ttl)
    for name in (
        "redis_url",
        "enable_l1_cache",
        "memory_cache_size",
        "compression_threshold",
        "compression_level",
        "text_hash_threshold",
        "text_size_tiers",
        "operation_ttls",
        "hash_algorithm",
    ):
        assert getattr(config, name) is not None, name


def test_ai_config_create_production_insecure_url_reported_not_raised() -> None:
    """A plaintext remote URL in production is reported by ``validate``, not raised."""
    config = AIResponseCacheConfig.create_production("redis://cache.internal:6379")
    assert config.redis_url == "redis://cache.internal:6379"
    assert any("plaintext" in e for e in config.validate().errors)


def test_ai_config_kwargs_for_both_caches() -> None:
    """``to_ai_cache_kwargs`` carries ``hash_algorithm``; ``to_generic_cache_kwargs`` builds
    the same Redis settings without the AI ones."""
    config = AIResponseCacheConfig(redis_url=LOCAL, default_ttl=99, memory_cache_size=7)
    ai_kwargs = config.to_ai_cache_kwargs()
    assert ai_kwargs["hash_algorithm"] is hashlib.sha256
    ai = AIResponseCache(**ai_kwargs)
    generic_kwargs = config.to_generic_cache_kwargs()
    assert set(generic_kwargs) == {
        "redis_url",
        "default_ttl",
        "enable_l1_cache",
        "l1_cache_size",
        "compression_threshold",
        "compression_level",
        "fail_on_connection_error",
    }
    generic = GenericRedisCache(**generic_kwargs)
    assert ai.config is not None and generic.config is not None
    assert (generic.config.redis.url, generic.config.ttl.default) == (LOCAL, 99)
    assert generic.config.memory == ai.config.memory
    assert generic.config.ai.enabled is False


def test_ai_config_from_sources(tmp_path: Path) -> None:
    """``from_dict``, ``from_env``, ``from_json`` and ``from_yaml`` read the original's names."""
    data = {"redis_url": LOCAL, "default_ttl": 30, "hash_algorithm": "sha256"}
    assert AIResponseCacheConfig.from_dict(data).hash_algorithm is hashlib.sha256
    assert (
        AIResponseCacheConfig.from_dict(data, convert_hash_algorithm=False).hash_algorithm
        == "sha256"
    )
    env = AIResponseCacheConfig.from_env(
        environ={
            "AI_CACHE_REDIS_URL": LOCAL,
            "AI_CACHE_DEFAULT_TTL": "45",
            "AI_CACHE_ENABLE_L1_CACHE": "true",
            "AI_CACHE_OPERATION_TTLS": json.dumps({"qa": 5}),
        }
    )
    assert (env.redis_url, env.default_ttl, env.enable_l1_cache, env.operation_ttls) == (
        LOCAL,
        45,
        True,
        {"qa": 5},
    )
    with pytest.raises(CacheConfigError, match="AI_CACHE_DEFAULT_TTL"):
        AIResponseCacheConfig.from_env(environ={"AI_CACHE_DEFAULT_TTL": "soon"})
    json_path = tmp_path / "ai.json"
    json_path.write_text(json.dumps(data))
    assert AIResponseCacheConfig.from_json(json_path).default_ttl == 30
    yaml_path = tmp_path / "ai.yaml"
    yaml_path.write_text(f"redis_url: {LOCAL}\ndefault_ttl: 31\n")
    assert AIResponseCacheConfig.from_yaml(yaml_path).default_ttl == 31
    with pytest.raises(CacheConfigError):
        AIResponseCacheConfig.from_json(tmp_path / "missing.json")


def test_ai_config_merge_and_validate_shape() -> None:
    """``merge`` / ``merge_with`` lay values on top; ``validate`` returns the original's result."""
    merged = AIResponseCacheConfig(redis_url=LOCAL).merge_with(default_ttl=5)
    assert (merged.redis_url, merged.default_ttl) == (LOCAL, 5)
    assert AIResponseCacheConfig(redis_url=LOCAL).merge(merged).default_ttl == 5
    result = AIResponseCacheConfig(redis_url=LOCAL, compression_level=99).validate()
    assert isinstance(result, ValidationResult) and not result.is_valid
    assert result.context == {} and isinstance(result.recommendations, list)


def test_mapper_original_semantics() -> None:
    """Unknown names are AI-specific, ``memory_cache_size`` turns the memory tier on, and
    ``get_parameter_info`` has the original's keys."""
    mapper = CacheParameterMapper()
    generic, ai = mapper.map_ai_to_generic_params(
        {
            "redis_url": LOCAL,
            "memory_cache_size": 10,
            "something_new": 1,
            "performance_monitor": None,
        }
    )
    assert generic == {
        "redis_url": LOCAL,
        "l1_cache_size": 10,
        "enable_l1_cache": True,
        "performance_monitor": None,
    }
    assert ai == {"something_new": 1}
    info = mapper.get_parameter_info()
    assert set(info) == {
        "generic_parameters",
        "ai_specific_parameters",
        "parameter_mappings",
        "parameter_conflicts",
        "validation_rules",
        "total_parameters",
    }
    assert {"redis_url", "l1_cache_size", "security_config"} <= set(info["generic_parameters"])
    assert {"operation_ttls", "hash_algorithm"} <= set(info["ai_specific_parameters"])
    assert info["parameter_mappings"] == {"memory_cache_size": "l1_cache_size"}
    assert info["validation_rules"]["default_ttl"] == {"config_key": "ttl.default"}
    result = mapper.validate_parameter_compatibility(
        {"redis_url": LOCAL, "operation_ttls": {"qa": 0}}
    )
    assert result.generic_params == {"redis_url"} and result.ai_specific_params == {
        "operation_ttls"
    }
    assert not result.is_valid and any("ai.operation_ttls.qa" in e for e in result.errors)
