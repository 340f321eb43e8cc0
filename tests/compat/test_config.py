"""The original's ``CacheConfig`` / ``AICacheConfig`` records with ``validate()``,
``EnvironmentPresets`` and the builder's original forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachekit import (
    AICacheConfig,
    CacheConfig,
    CacheConfigBuilder,
    ConfigValidationResult,
    EnvironmentPresets,
    ValidationResult,
    resolve,
)
from cachekit.config.model import CacheConfig as CoreCacheConfig

SECRET = "s3cret-Record-pw-9"


def test_config_record_original_fields_and_validate() -> None:
    """``CacheConfig(redis_url=..., default_ttl=..., ...)`` validates to the original's result
    and converts to the typed config."""
    record = CacheConfig(
        redis_url="redis://127.0.0.1:6390/0",
        default_ttl=120,
        memory_cache_size=50,
        compression_threshold=500,
        enable_ai_cache=True,
        ai_config=AICacheConfig(text_hash_threshold=300, operation_ttls={"qa": 60}),
    )
    result = record.validate()
    assert isinstance(result, ValidationResult) and result.is_valid and result.errors == []
    assert ConfigValidationResult is ValidationResult
    typed = record.to_cache_config()
    assert isinstance(typed, CoreCacheConfig) and isinstance(typed, CacheConfig)
    assert (typed.ttl.default, typed.memory.max_entries, typed.compression.threshold) == (
        120,
        50,
        500,
    )
    assert (typed.ai.enabled, typed.ai.text_hash_threshold) == (True, 300)
    assert typed.ai.operation_ttls["qa"] == 60  # laid over the preset's table


def test_config_record_fields_left_out_are_the_presets() -> None:
    """Reading a field that was not given gives the preset's value, as in the original."""
    record = CacheConfig()
    assert (record.environment, record.default_ttl) == ("development", 600)
    assert record.memory_cache_size == 50 and record.redis_url is None
    assert record.enable_ai_cache is False and record.ai_config is None
    production = CacheConfig(environment="production")
    assert (production.default_ttl, production.to_cache_config().environment) == (
        7200,
        "production",
    )


def test_config_record_validate_reports_every_problem() -> None:
    """Bad values are errors naming the config key; AI settings without AI are refused."""
    result = CacheConfig(default_ttl=-1, compression_level=99, memory_cache_size=0).validate()
    assert not result.is_valid
    for key in ("ttl.default", "compression.level", "memory.max_entries"):
        assert any(key in error for error in result.errors)
    contradiction = CacheConfig(
        ai_config=AICacheConfig(text_hash_threshold=5), enable_ai_cache=False
    )
    assert not contradiction.validate().is_valid


def test_config_record_to_dict_round_trips_and_masks_in_repr() -> None:
    """``to_dict`` gives the original's flat keys; the repr hides the password."""
    record = CacheConfig(redis_url="redis://127.0.0.1:6390/0", redis_password=SECRET)
    data = record.to_dict()
    assert set(data) == {
        "redis_url",
        "redis_password",
        "use_tls",
        "tls_cert_path",
        "tls_key_path",
        "default_ttl",
        "memory_cache_size",
        "compression_threshold",
        "compression_level",
        "environment",
        "ai_config",
        "enable_ai_cache",
    }
    assert CacheConfig(**data).to_cache_config() == record.to_cache_config()
    assert record.to_cache_config().redis.password == SECRET
    assert SECRET not in repr(record)


def test_config_typed_fields_build_the_typed_config() -> None:
    """Called with the typed config's own fields, ``CacheConfig`` builds the typed one."""
    typed = EnvironmentPresets.simple()
    fields = {name: getattr(typed, name) for name in CoreCacheConfig.__struct_fields__}
    rebuilt = CacheConfig(**fields)
    assert type(rebuilt) is CoreCacheConfig and rebuilt == typed
    assert isinstance(resolve(rebuilt).config, CacheConfig)


def test_ai_config_record_defaults_and_validate() -> None:
    """``AICacheConfig`` fills what is left out from ai-development and validates."""
    ai = AICacheConfig(text_hash_threshold=100)
    assert ai.text_hash_threshold == 100 and ai.max_text_length == 50_000
    assert ai.text_size_tiers == {"small": 500, "medium": 2000, "large": 10000}
    assert ai.validate().is_valid
    bad = AICacheConfig(text_size_tiers={"small": 9, "medium": 2, "large": 3}, hash_algorithm="md5")
    errors = bad.validate().errors
    assert any("hash_algorithm" in e for e in errors)
    assert any("ai.size_tiers" in e for e in errors)
    assert set(ai.to_dict()) == {
        "text_hash_threshold",
        "hash_algorithm",
        "text_size_tiers",
        "operation_ttls",
        "enable_smart_promotion",
        "max_text_length",
    }
    assert not AICacheConfig(enable_smart_promotion=False).validate().is_valid


@pytest.mark.parametrize(
    ("method", "environment", "ai"),
    [
        (EnvironmentPresets.disabled, "testing", False),
        (EnvironmentPresets.minimal, "development", False),
        (EnvironmentPresets.simple, "development", False),
        (EnvironmentPresets.development, "development", False),
        (EnvironmentPresets.testing, "testing", False),
        (EnvironmentPresets.production, "production", False),
        (EnvironmentPresets.ai_development, "development", True),
        (EnvironmentPresets.ai_production, "production", True),
    ],
)
def test_presets_environment_of_each_preset(method: object, environment: str, ai: bool) -> None:
    """Each preset is built in its environment (``production().environment == "production"``)."""
    config = method()  # type: ignore[operator]
    assert (config.environment, config.ai.enabled) == (environment, ai)


def test_presets_names_details_and_recommendation() -> None:
    """Preset names, details with the original's keys, and the recommender."""
    assert "ai-production" in EnvironmentPresets.get_preset_names()
    details = EnvironmentPresets.get_preset_details("ai-production")
    assert {
        "name",
        "description",
        "configuration",
        "environment_contexts",
        "ai_optimizations",
    } <= set(details)
    configuration = details["configuration"]
    for key in ("default_ttl", "max_connections", "memory_cache_size", "enable_ai_cache"):
        assert key in configuration
    assert details["ai_optimizations"]["operation_ttls"]["summarize"] == 14400
    assert EnvironmentPresets.get_preset_details("simple")["ai_optimizations"] is None
    assert EnvironmentPresets.recommend_preset("staging") == "production"
    assert EnvironmentPresets.recommend_preset() == "development"


def test_builder_original_forms(tmp_path: Path) -> None:
    """``with_redis(url, password, use_tls)``, ``with_security(cert, key)``, the original's AI
    option names, ``validate()`` results and JSON ``save_to_file`` / ``from_file``."""
    builder = (
        CacheConfigBuilder()
        .for_environment("production")
        .with_redis("redis://127.0.0.1:6390/0", SECRET)
        .with_memory_cache(300)
        .with_compression(800, 5)
        .with_ai_features(
            text_size_tiers={"small": 10, "medium": 20, "large": 30}, hash_algorithm="sha256"
        )
    )
    problems = builder.validate()
    assert problems.is_valid and problems.errors == [] and problems.warnings == []
    config = builder.build()
    assert (config.redis.password, config.memory.max_entries, config.ai.size_tiers.small) == (
        SECRET,
        300,
        10,
    )
    path = tmp_path / "cache.json"
    builder.save_to_file(path)
    saved = json.loads(path.read_text())
    assert SECRET not in path.read_text() and saved["memory.max_entries"] == 300
    loaded = (
        CacheConfigBuilder().from_file(path).with_redis("redis://127.0.0.1:6390/0", SECRET).build()
    )
    assert loaded.memory.max_entries == 300 and loaded.environment == "production"
    bad = CacheConfigBuilder().with_redis("redis://cache:6379/0", None, True).validate()
    assert not bad.is_valid and any("security.use_tls" in e for e in bad.errors)
    tls = CacheConfigBuilder().with_redis("rediss://cache:6380/0").with_security("c.pem", "k.pem")
    assert any("security.tls_cert_path" in e for e in tls.validate().errors)
