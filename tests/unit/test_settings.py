"""Tests of ``cachekit.config.settings``: layer order, provenance, roots, presets, env typing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachekit.config.presets import preset_names
from cachekit.config.settings import load_config, load_settings, resolve_settings
from cachekit.config.tree import flatten
from cachekit.errors import CacheConfigError

BASE_SOURCE = "preset base (environments/_base.toml)"


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def preset_source(name: str) -> str:
    """The source label of a value that comes from preset ``name``."""
    return f"preset {name} (environments/{name}.toml)"


# --- layer order: one test per step up the stack ---------------------------------------


def test_resolve_settings_preset_file_overrides_base(tmp_path: Path) -> None:
    """The preset file overrides the shared base, which fills in what the preset omits."""
    resolved = resolve_settings(environ={}, root=tmp_path)
    assert resolved.config.ttl.default == 600
    assert resolved.sources["ttl.default"] == preset_source("development")
    assert resolved.config.redis.socket_timeout == 0.5
    assert resolved.sources["redis.socket_timeout"] == BASE_SOURCE


def test_resolve_settings_default_section_overrides_preset(tmp_path: Path) -> None:
    """``settings.toml [default]`` overrides the preset."""
    write(tmp_path / "settings.toml", "[default.ttl]\ndefault = 42\n")
    resolved = resolve_settings(environ={}, root=tmp_path)
    assert resolved.config.ttl.default == 42
    assert resolved.sources["ttl.default"] == "settings.toml [default]"


def test_resolve_settings_environment_section_overrides_default_section(tmp_path: Path) -> None:
    """``settings.toml [<env>]`` overrides ``settings.toml [default]``."""
    write(
        tmp_path / "settings.toml",
        "[default.ttl]\ndefault = 42\n\n[staging.ttl]\ndefault = 43\n",
    )
    resolved = resolve_settings(environ={"CACHEKIT_ENV": "staging"}, root=tmp_path)
    assert resolved.config.ttl.default == 43
    assert resolved.sources["ttl.default"] == "settings.toml [staging]"


def test_resolve_settings_secrets_default_section_overrides_settings_environment_section(
    tmp_path: Path,
) -> None:
    """``.secrets.toml [default]`` overrides ``settings.toml [<env>]``."""
    write(tmp_path / "settings.toml", "[staging.ttl]\ndefault = 43\n")
    write(tmp_path / ".secrets.toml", "[default.ttl]\ndefault = 44\n")
    resolved = resolve_settings(environ={"CACHEKIT_ENV": "staging"}, root=tmp_path)
    assert resolved.config.ttl.default == 44
    assert resolved.sources["ttl.default"] == ".secrets.toml [default]"


def test_resolve_settings_secrets_environment_section_overrides_secrets_default_section(
    tmp_path: Path,
) -> None:
    """``.secrets.toml [<env>]`` overrides ``.secrets.toml [default]``."""
    write(
        tmp_path / ".secrets.toml",
        "[default.ttl]\ndefault = 44\n\n[staging.ttl]\ndefault = 45\n",
    )
    resolved = resolve_settings(environ={"CACHEKIT_ENV": "staging"}, root=tmp_path)
    assert resolved.config.ttl.default == 45
    assert resolved.sources["ttl.default"] == ".secrets.toml [staging]"


def test_resolve_settings_env_var_overrides_secrets(tmp_path: Path) -> None:
    """A ``CACHEKIT_*`` variable overrides every file."""
    write(tmp_path / ".secrets.toml", "[staging.ttl]\ndefault = 45\n")
    environ = {"CACHEKIT_ENV": "staging", "CACHEKIT_TTL__DEFAULT": "46"}
    resolved = resolve_settings(environ=environ, root=tmp_path)
    assert resolved.config.ttl.default == 46
    assert resolved.sources["ttl.default"] == "CACHEKIT_TTL__DEFAULT"


def test_resolve_settings_code_override_beats_env_var(tmp_path: Path) -> None:
    """An override given in code beats a ``CACHEKIT_*`` variable."""
    resolved = resolve_settings(
        environ={"CACHEKIT_TTL__DEFAULT": "46"},
        overrides={"ttl": {"default": 47}},
        root=tmp_path,
    )
    assert resolved.config.ttl.default == 47
    assert resolved.sources["ttl.default"] == "code override"


def test_resolve_settings_dotted_override_key(tmp_path: Path) -> None:
    """Overrides accept dotted keys as well as nested tables."""
    config = load_config(environ={}, overrides={"memory.max_entries": 7}, root=tmp_path)
    assert config.memory.max_entries == 7


def test_resolve_settings_other_environment_section_ignored(tmp_path: Path) -> None:
    """A section named after another environment does not apply."""
    write(tmp_path / "settings.toml", "[production.ttl]\ndefault = 43\n")
    resolved = resolve_settings(environ={}, root=tmp_path)
    assert resolved.config.environment == "development"
    assert resolved.config.ttl.default == 600


def test_resolve_settings_environment_from_cachekit_env(tmp_path: Path) -> None:
    """``CACHEKIT_ENV`` picks the environment; without it the environment is development."""
    assert resolve_settings(environ={}, root=tmp_path).config.environment == "development"
    resolved = resolve_settings(environ={"CACHEKIT_ENV": "production"}, root=tmp_path)
    assert resolved.config.environment == "production"
    assert resolved.sources["environment"] == "CACHEKIT_ENV"


def test_resolve_settings_environment_argument_beats_cachekit_env(tmp_path: Path) -> None:
    """An explicit ``environment=`` wins over ``CACHEKIT_ENV``."""
    resolved = resolve_settings(
        environ={"CACHEKIT_ENV": "production"}, environment="testing", root=tmp_path
    )
    assert resolved.config.environment == "testing"
    assert resolved.config.preset == "testing"


# --- merging one leaf at a time ---------------------------------------------------------


def test_resolve_settings_secrets_password_keeps_settings_url(tmp_path: Path) -> None:
    """A .secrets.toml holding only ``redis.password`` changes only that leaf."""
    write(
        tmp_path / "settings.toml",
        '[default.redis]\nurl = "redis://cache.example:6379/2"\nmax_connections = 9\n',
    )
    write(tmp_path / ".secrets.toml", '[default.redis]\npassword = "s3cret-value"\n')
    resolved = resolve_settings(environ={}, root=tmp_path)
    assert resolved.config.redis.url == "redis://cache.example:6379/2"
    assert resolved.config.redis.max_connections == 9
    assert resolved.config.redis.password == "s3cret-value"
    assert resolved.sources["redis.url"] == "settings.toml [default]"
    assert resolved.sources["redis.password"] == ".secrets.toml [default]"
    assert resolved.sources["redis.socket_timeout"] == BASE_SOURCE


def test_resolve_settings_env_var_changes_one_leaf(tmp_path: Path) -> None:
    """A nested variable changes its leaf and leaves its siblings alone."""
    write(tmp_path / "settings.toml", '[default.redis]\nurl = "redis://a:6379/0"\n')
    resolved = resolve_settings(environ={"CACHEKIT_REDIS__MAX_CONNECTIONS": "20"}, root=tmp_path)
    assert resolved.config.redis.max_connections == 20
    assert resolved.config.redis.url == "redis://a:6379/0"


def test_resolve_settings_operation_ttls_merge_by_name(tmp_path: Path) -> None:
    """A layer naming one operation TTL keeps the preset's other operations."""
    write(tmp_path / "settings.toml", "[default.ai.operation_ttls]\nqa = 60\n")
    resolved = resolve_settings(environ={}, preset="ai-production", root=tmp_path)
    ttls = resolved.config.ai.operation_ttls
    assert ttls["qa"] == 60
    assert ttls["summarize"] == 14400
    assert resolved.sources["ai.operation_ttls.qa"] == "settings.toml [default]"
    assert resolved.sources["ai.operation_ttls.summarize"] == preset_source("ai-production")


# --- provenance -------------------------------------------------------------------------


def test_resolve_settings_sources_name_every_layer_kind(tmp_path: Path) -> None:
    """Each layer kind is named in ``sources`` for the leaf it set."""
    write(
        tmp_path / "settings.toml",
        "[default.memory]\nmax_entries = 11\n\n[production.memory]\nmax_bytes = 2048\n",
    )
    write(
        tmp_path / ".secrets.toml",
        '[default.redis]\nusername = "app"\n\n[production.redis]\npassword = "pw"\n',
    )
    environ = {"CACHEKIT_ENV": "production", "CACHEKIT_REDIS__RETRIES": "3"}
    resolved = resolve_settings(environ=environ, overrides={"namespace": "orders"}, root=tmp_path)
    expected = {
        "redis.socket_timeout": BASE_SOURCE,
        "ttl.default": preset_source("production"),
        "memory.max_entries": "settings.toml [default]",
        "memory.max_bytes": "settings.toml [production]",
        "redis.username": ".secrets.toml [default]",
        "redis.password": ".secrets.toml [production]",
        "redis.retries": "CACHEKIT_REDIS__RETRIES",
        "namespace": "code override",
        "environment": "CACHEKIT_ENV",
    }
    assert expected.items() <= resolved.sources.items()


def test_resolve_settings_sources_cover_every_leaf(tmp_path: Path) -> None:
    """Every leaf of the resolved config has a source, unset optional leaves included."""
    resolved = resolve_settings(environ={}, preset="ai-production", root=tmp_path)
    missing = [k for k in flatten(resolved.config.to_dict()) if k not in resolved.sources]
    assert missing == []
    assert resolved.sources["redis.password"] == "not set in any layer"


def test_resolve_settings_sources_name_file_layer_of_typo(tmp_path: Path) -> None:
    """``load_settings`` records sources even for keys validation will reject."""
    write(tmp_path / "settings.toml", '[default.redis]\nurll = "redis://x"\n')
    loaded = load_settings(environ={}, root=tmp_path)
    assert loaded.sources["redis.urll"] == "settings.toml [default]"


# --- where files are found --------------------------------------------------------------


def test_resolve_settings_root_from_cachekit_settings_root(tmp_path: Path) -> None:
    """``CACHEKIT_SETTINGS_ROOT`` names the folder holding settings.toml."""
    write(tmp_path / "conf" / "settings.toml", "[default.ttl]\ndefault = 77\n")
    resolved = resolve_settings(environ={"CACHEKIT_SETTINGS_ROOT": str(tmp_path / "conf")})
    assert resolved.config.ttl.default == 77
    assert resolved.root == str((tmp_path / "conf").resolve())


def test_resolve_settings_root_defaults_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a root or ``CACHEKIT_SETTINGS_ROOT`` the working directory is the root."""
    write(tmp_path / "settings.toml", "[default.ttl]\ndefault = 78\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_settings(environ={}).config.ttl.default == 78


def test_resolve_settings_ignores_settings_in_parent_dir(tmp_path: Path) -> None:
    """A settings.toml or .secrets.toml in a parent of the root is not read."""
    write(tmp_path / "settings.toml", "[default.ttl]\ndefault = 79\n")
    write(tmp_path / ".secrets.toml", '[default.redis]\npassword = "parent"\n')
    child = tmp_path / "app" / "sub"
    child.mkdir(parents=True)
    resolved = resolve_settings(environ={"CACHEKIT_SETTINGS_ROOT": str(child)})
    assert resolved.config.ttl.default == 600
    assert resolved.config.redis.password is None


def test_resolve_settings_ignores_dynaconf_control_vars(tmp_path: Path) -> None:
    """A host app's ``*_FOR_DYNACONF`` variables do not change cachekit's loading."""
    write(tmp_path / "settings.toml", '[default.redis]\nurl = "redis://kept:6379/0"\n')
    write(tmp_path / ".secrets.toml", '[default.redis]\npassword = "pw"\n')
    other = write(tmp_path / "other" / "host.toml", "[default.ttl]\ndefault = 5\n")
    baseline = resolve_settings(environ={}, root=tmp_path)
    hostile = {
        "ENV_FOR_DYNACONF": "production",
        "SETTINGS_FILE_FOR_DYNACONF": str(other),
        "ENVVAR_PREFIX_FOR_DYNACONF": "HOST",
        "MERGE_ENABLED_FOR_DYNACONF": "false",
        "HOST_TTL__DEFAULT": "5",
        "DYNACONF_TTL__DEFAULT": "5",
    }
    resolved = resolve_settings(environ=hostile, root=tmp_path)
    assert resolved.config == baseline.config
    assert resolved.sources == baseline.sources
    assert resolved.config.environment == "development"
    assert resolved.config.redis.url == "redis://kept:6379/0"


# --- typing of variables ----------------------------------------------------------------


def test_resolve_settings_env_values_are_typed(tmp_path: Path) -> None:
    """Variable values are parsed: ints, floats and bools arrive typed."""
    environ = {
        "CACHEKIT_REDIS__MAX_CONNECTIONS": "20",
        "CACHEKIT_REDIS__SOCKET_TIMEOUT": "1.5",
        "CACHEKIT_MEMORY__ENABLED": "false",
        "CACHEKIT_REDIS__URL": "redis://h:6379/0",
    }
    config = load_config(environ=environ, root=tmp_path)
    assert config.redis.max_connections == 20
    assert isinstance(config.redis.max_connections, int)
    assert config.redis.socket_timeout == 1.5
    assert config.memory.enabled is False


def test_resolve_settings_numeric_password_stays_string(tmp_path: Path) -> None:
    """A numeric password from a variable stays the string it was."""
    config = load_config(environ={"CACHEKIT_REDIS__PASSWORD": "0123456"}, root=tmp_path)
    assert config.redis.password == "0123456"


def test_resolve_settings_at_str_forces_string(tmp_path: Path) -> None:
    """``@str`` keeps a value that looks numeric as a string."""
    loaded = load_settings(environ={"CACHEKIT_AI__OPERATION_TTLS__QA": "@str 60"}, root=tmp_path)
    assert loaded.data["ai"]["operation_ttls"]["qa"] == "60"


def test_resolve_settings_env_keys_lower_cased(tmp_path: Path) -> None:
    """Variable names are lower-cased into keys, operation names included."""
    config = load_config(environ={"CACHEKIT_AI__OPERATION_TTLS__TRANSLATE": "120"}, root=tmp_path)
    assert config.ai.operation_ttls == {"translate": 120}


# --- presets ----------------------------------------------------------------------------


def test_resolve_settings_preset_from_key(tmp_path: Path) -> None:
    """A ``preset`` key in settings.toml picks the preset and is named as its source."""
    write(tmp_path / "settings.toml", '[default]\npreset = "minimal"\n')
    resolved = resolve_settings(environ={}, root=tmp_path)
    assert resolved.config.preset == "minimal"
    assert resolved.config.ttl.default == 900
    assert resolved.sources["preset"] == "settings.toml [default]"


def test_resolve_settings_preset_from_env_var(tmp_path: Path) -> None:
    """``CACHEKIT_PRESET`` picks the preset over a ``preset`` key in a file."""
    write(tmp_path / "settings.toml", '[default]\npreset = "minimal"\n')
    resolved = resolve_settings(environ={"CACHEKIT_PRESET": "production"}, root=tmp_path)
    assert resolved.config.preset == "production"
    assert resolved.config.ttl.default == 7200
    assert resolved.sources["preset"] == "CACHEKIT_PRESET"


def test_resolve_settings_preset_defaults_to_environment_name(tmp_path: Path) -> None:
    """Without a preset key the preset named like the environment is used."""
    config = load_config(environ={"CACHEKIT_ENV": "production"}, root=tmp_path)
    assert config.preset == "production"


def test_resolve_settings_preset_falls_back_to_simple(tmp_path: Path) -> None:
    """An environment named in code with no preset of its name uses ``simple`` (from
    ``CACHEKIT_ENV`` it must have a preset or a section: see test_settings_unknown_env...)."""
    config = load_config(environ={}, environment="staging", root=tmp_path)
    assert config.preset == "simple"
    assert config.environment == "staging"
    assert config.ttl.default == 3600


def test_resolve_settings_unknown_preset_suggests_name(tmp_path: Path) -> None:
    """An unknown preset is an error that suggests the nearest preset name."""
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ={"CACHEKIT_PRESET": "prodution"}, root=tmp_path)
    (problem,) = [p for p in info.value.problems if p.key == "preset"]
    assert "did you mean 'production'" in problem.message
    assert problem.source == "CACHEKIT_PRESET"


def test_resolve_settings_base_is_not_a_preset(tmp_path: Path) -> None:
    """The shared base file cannot be chosen as a preset."""
    with pytest.raises(CacheConfigError, match="unknown preset"):
        resolve_settings(environ={}, preset="_base", root=tmp_path)


def test_resolve_settings_environment_key_is_error(tmp_path: Path) -> None:
    """An ``environment`` key in a file is an error naming the file."""
    write(tmp_path / "settings.toml", '[default]\nenvironment = "production"\n')
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ={}, root=tmp_path)
    (problem,) = info.value.problems
    assert problem.key == "environment"
    assert problem.source == "settings.toml [default]"
    assert "CACHEKIT_ENV" in problem.message


PRESET_TTLS = {
    "disabled": 300,
    "minimal": 900,
    "simple": 3600,
    "development": 600,
    "production": 7200,
    "ai-development": 1800,
    "ai-production": 14400,
    "testing": 60,
}


@pytest.mark.parametrize("name", preset_names())
def test_resolve_settings_every_preset_resolves(name: str, tmp_path: Path) -> None:
    """Every preset file resolves to a valid config with its documented default TTL."""
    config = load_config(environ={}, preset=name, root=tmp_path)
    assert config.preset == name
    assert config.ttl.default == PRESET_TTLS[name]


def test_resolve_settings_preset_values(tmp_path: Path) -> None:
    """Presets carry the values of the original: memory-only dev, disabled, AI TTL table."""
    assert set(PRESET_TTLS) == set(preset_names())
    development = load_config(environ={}, preset="development", root=tmp_path)
    assert development.redis.url == ""
    assert development.redis_url is None
    assert load_config(environ={}, preset="disabled", root=tmp_path).enabled is False
    ai = load_config(environ={}, preset="ai-production", root=tmp_path)
    assert ai.ai.enabled is True
    assert ai.ai.operation_ttls == {
        "summarize": 14400,
        "sentiment": 7200,
        "key_points": 10800,
        "questions": 9600,
        "qa": 7200,
    }
