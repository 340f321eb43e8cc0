"""Tests of ``CacheConfigBuilder`` and ``EnvironmentPresets`` (``cachekit.compat``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachekit.compat.builder import CacheConfigBuilder
from cachekit.compat.presets import EnvironmentPresets
from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.config.presets import preset_names
from cachekit.errors import CacheConfigError
from tests.certs import write_pki


def test_builder_defaults_to_development_preset() -> None:
    """A bare builder builds the development preset."""
    config = CacheConfigBuilder().build()
    assert config.environment == "development"
    assert config.preset == "development"
    assert config.ttl.default == 600


def test_builder_for_environment_picks_matching_preset() -> None:
    """``for_environment`` sets the environment and the preset of that name."""
    config = CacheConfigBuilder().for_environment("production").build()
    assert (config.environment, config.preset, config.ttl.default) == (
        "production",
        "production",
        7200,
    )


def test_builder_for_environment_without_preset_uses_simple() -> None:
    """An environment with no preset of its name falls back to ``simple``."""
    config = CacheConfigBuilder().for_environment("staging").build()
    assert (config.environment, config.preset) == ("staging", "simple")


def test_builder_with_redis() -> None:
    """``with_redis`` sets the URL, credentials and pool options."""
    config = (
        CacheConfigBuilder()
        .with_redis(
            "redis://cache:6379/1",
            password="pw",
            username="app",
            max_connections=12,
            socket_timeout=0.25,
            connect_timeout=2.5,
            fail_on_connection_error=True,
        )
        .build()
    )
    redis = config.redis
    assert redis.url == "redis://cache:6379/1"
    assert (redis.username, redis.password) == ("app", "pw")
    assert (redis.max_connections, redis.socket_timeout, redis.connect_timeout) == (12, 0.25, 2.5)
    assert redis.fail_on_connection_error is True
    assert config.redis_url == "redis://cache:6379/1"


def test_builder_with_security_object(tmp_path: Path) -> None:
    """``with_security`` accepts a ``SecurityConfig`` and requires a TLS URL with it."""
    ca = write_pki(tmp_path).ca
    security = SecurityConfig(use_tls=True, tls_ca_path=ca, min_tls_version="TLSv1.3")
    config = (
        CacheConfigBuilder().with_redis("rediss://cache:6380/0").with_security(security).build()
    )
    assert config.security == security


def test_builder_with_security_fields_contradiction() -> None:
    """``with_security`` keyword fields go through validation like any layer."""
    builder = CacheConfigBuilder().with_redis("redis://cache:6379/0").with_security(use_tls=True)
    with pytest.raises(CacheConfigError, match=r"security\.use_tls"):
        builder.build()


def test_builder_with_compression() -> None:
    """``with_compression`` sets threshold, level and algorithm."""
    config = CacheConfigBuilder().with_compression(threshold=64, level=19, algorithm="zstd").build()
    assert (config.compression.algorithm, config.compression.level) == ("zstd", 19)
    assert config.compression.threshold == 64


def test_builder_with_compression_bad_level() -> None:
    """A level the algorithm does not accept fails ``build``."""
    with pytest.raises(CacheConfigError, match=r"zlib accepts levels 0\.\.9"):
        CacheConfigBuilder().with_compression(level=12, algorithm="zlib").build()


def test_builder_with_memory_cache() -> None:
    """``with_memory_cache`` bounds the memory tier or switches it off."""
    config = CacheConfigBuilder().with_memory_cache(250, max_bytes=1024).build()
    assert (config.memory.enabled, config.memory.max_entries, config.memory.max_bytes) == (
        True,
        250,
        1024,
    )
    off = (
        CacheConfigBuilder()
        .with_redis("redis://cache:6379/0")
        .with_memory_cache(enabled=False)
        .build()
    )
    assert off.memory.enabled is False


def test_builder_with_ai_features_development() -> None:
    """``with_ai_features`` enables the AI layer with the ai-development values."""
    config = CacheConfigBuilder().with_ai_features(max_text_length=1234).build()
    assert config.ai.enabled is True
    assert config.ai.max_text_length == 1234
    assert config.ai.operation_ttls["summarize"] == 1800
    assert config.preset == "development"


def test_builder_with_ai_features_production() -> None:
    """In production ``with_ai_features`` takes the ai-production TTL table."""
    config = CacheConfigBuilder().for_environment("production").with_ai_features().build()
    assert config.ai.enabled is True
    assert config.ai.operation_ttls["summarize"] == 14400
    assert config.ai.operation_ttls["qa"] == 7200


def test_builder_with_preset_and_overrides() -> None:
    """``with_preset`` and ``with_overrides`` (dotted or nested) apply."""
    config = (
        CacheConfigBuilder()
        .with_preset("minimal")
        .with_overrides({"ttl.default": 61, "monitoring": {"enabled": False}})
        .build()
    )
    assert (config.preset, config.ttl.default, config.monitoring.enabled) == ("minimal", 61, False)


def test_builder_ignores_files_and_variables_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``from_environment`` no settings.toml in the working directory is read."""
    (tmp_path / "settings.toml").write_text("[default.ttl]\ndefault = 5\n")
    monkeypatch.chdir(tmp_path)
    assert CacheConfigBuilder().build().ttl.default == 600


def test_builder_from_environment_reads_layers(tmp_path: Path) -> None:
    """``from_environment`` reads settings.toml, .secrets.toml and the given variables."""
    (tmp_path / "settings.toml").write_text(
        '[default.redis]\nurl = "rediss://cache:6380/0"\n\n[production.ttl]\ndefault = 99\n'
    )
    (tmp_path / ".secrets.toml").write_text('[default.redis]\npassword = "pw"\n')
    environ = {"CACHEKIT_ENV": "production", "CACHEKIT_MEMORY__MAX_ENTRIES": "33"}
    builder = CacheConfigBuilder().from_environment(environ, root=tmp_path)
    resolved = builder.resolve()
    config = resolved.config
    assert (config.environment, config.preset) == ("production", "production")
    assert config.ttl.default == 99
    assert (config.redis.url, config.redis.password) == ("rediss://cache:6380/0", "pw")
    assert config.memory.max_entries == 33
    assert resolved.sources["memory.max_entries"] == "CACHEKIT_MEMORY__MAX_ENTRIES"


def test_builder_from_environment_root_from_variable(tmp_path: Path) -> None:
    """``from_environment`` honours ``CACHEKIT_SETTINGS_ROOT`` in the given mapping."""
    (tmp_path / "settings.toml").write_text("[default.ttl]\ndefault = 98\n")
    builder = CacheConfigBuilder().from_environment({"CACHEKIT_SETTINGS_ROOT": str(tmp_path)})
    assert builder.build().ttl.default == 98


def test_builder_code_overrides_beat_environment(tmp_path: Path) -> None:
    """``with_*`` values sit above files and variables read by ``from_environment``."""
    environ = {"CACHEKIT_TTL__DEFAULT": "97", "CACHEKIT_REDIS__URL": "redis://env:6379/0"}
    config = (
        CacheConfigBuilder()
        .with_redis("redis://code:6379/0")
        .from_environment(environ, root=tmp_path)
        .build()
    )
    assert config.redis.url == "redis://code:6379/0"
    assert config.ttl.default == 97


def test_builder_from_file_sectioned(tmp_path: Path) -> None:
    """``from_file`` adds a settings-style file with ``[default]``/``[<env>]`` sections."""
    path = tmp_path / "cache.toml"
    path.write_text("[default.ttl]\ndefault = 96\n\n[production.memory]\nmax_entries = 7\n")
    resolved = CacheConfigBuilder().for_environment("production").from_file(path).resolve()
    assert resolved.config.ttl.default == 96
    assert resolved.config.memory.max_entries == 7
    assert resolved.sources["ttl.default"] == f"{path} [default]"


def test_builder_from_file_flat(tmp_path: Path) -> None:
    """``from_file`` accepts a flat table of config keys."""
    path = tmp_path / "flat.toml"
    path.write_text("[ttl]\ndefault = 95\n")
    resolved = CacheConfigBuilder().from_file(path).resolve()
    assert resolved.config.ttl.default == 95
    assert resolved.sources["ttl.default"] == str(path)


def test_builder_from_file_missing(tmp_path: Path) -> None:
    """A missing file given to ``from_file`` is a config problem."""
    problems = CacheConfigBuilder().from_file(tmp_path / "nope.toml").validate()
    assert [p.message for p in problems] == ["no such file"]


def test_builder_validate_returns_problems() -> None:
    """``validate`` returns every problem instead of raising; empty when valid."""
    assert CacheConfigBuilder().validate() == []
    problems = (
        CacheConfigBuilder()
        .with_overrides({"redis.urll": "redis://x", "ttl.default": 0})
        .with_compression(level=99)
        .validate()
    )
    keys = {p.key for p in problems}
    assert keys == {"redis.urll", "ttl.default", "compression.level"}
    assert all(p.source == "code override" for p in problems)


def test_builder_to_dict() -> None:
    """``to_dict`` is the built config as plain nested data."""
    data = CacheConfigBuilder().with_preset("simple").to_dict()
    assert data["ttl"] == {"default": 3600}
    assert data["redis"]["url"] == "redis://localhost:6379/0"
    assert data["preset"] == "simple"


PRESET_METHODS = {
    "disabled": EnvironmentPresets.disabled,
    "minimal": EnvironmentPresets.minimal,
    "simple": EnvironmentPresets.simple,
    "development": EnvironmentPresets.development,
    "testing": EnvironmentPresets.testing,
    "production": EnvironmentPresets.production,
    "ai-development": EnvironmentPresets.ai_development,
    "ai-production": EnvironmentPresets.ai_production,
}


@pytest.mark.parametrize("name", sorted(PRESET_METHODS))
def test_environment_presets_method_builds_preset(name: str) -> None:
    """Each preset method builds a valid config of that preset."""
    config = PRESET_METHODS[name]()
    assert isinstance(config, CacheConfig)
    assert config.preset == name


def test_environment_presets_cover_every_preset_file() -> None:
    """There is one method per preset file, and ``get_preset_names`` lists them all."""
    assert EnvironmentPresets.get_preset_names() == preset_names() == sorted(PRESET_METHODS)


def test_environment_presets_values() -> None:
    """The presets carry the original's TTLs and tiers."""
    ttls = {name: method().ttl.default for name, method in PRESET_METHODS.items()}
    assert ttls == {
        "disabled": 300,
        "minimal": 900,
        "simple": 3600,
        "development": 600,
        "testing": 60,
        "production": 7200,
        "ai-development": 1800,
        "ai-production": 14400,
    }
    assert EnvironmentPresets.disabled().enabled is False
    assert EnvironmentPresets.development().redis.url == ""
    assert EnvironmentPresets.minimal().memory.enabled is False
    assert EnvironmentPresets.ai_production().ai.operation_ttls == {
        "summarize": 14400,
        "sentiment": 7200,
        "key_points": 10800,
        "questions": 9600,
        "qa": 7200,
    }


@pytest.mark.parametrize("name", preset_names())
def test_environment_presets_details(name: str) -> None:
    """``get_preset_details`` gives description, use cases and main values."""
    details = EnvironmentPresets.get_preset_details(name)
    assert details["name"] == name
    assert details["description"]
    assert details["use_cases"]
    assert details["configuration"]["default_ttl"] == PRESET_METHODS[name]().ttl.default


def test_environment_presets_details_unknown() -> None:
    """``get_preset_details`` of an unknown name raises ``CacheConfigError``."""
    with pytest.raises(CacheConfigError, match="unknown preset"):
        EnvironmentPresets.get_preset_details("nope")


@pytest.mark.parametrize(
    ("environment", "ai", "expected"),
    [
        ("prod", False, "production"),
        ("production", False, "production"),
        ("staging", False, "production"),
        ("ci", False, "testing"),
        ("test", False, "testing"),
        ("local", False, "development"),
        (None, False, "development"),
        ("prod", True, "ai-production"),
        ("staging", True, "ai-production"),
        ("local", True, "ai-development"),
        ("ai-production", False, "ai-production"),
    ],
)
def test_environment_presets_recommend_preset(
    environment: str | None, ai: bool, expected: str
) -> None:
    """``recommend_preset`` maps environment names (and ``ai=True``) to a preset."""
    assert EnvironmentPresets.recommend_preset(environment, ai=ai) == expected
