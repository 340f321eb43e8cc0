"""Tests of the ``cachekit`` command line (``cachekit.cli.main.main``), in process (the console
script run as a subprocess is in tests/integration)."""

from __future__ import annotations

import io
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cachekit.cli.main import main
from cachekit.config.presets import preset_names

PASSWORD = "canary-Cli-pw-4711"
FILE_SOURCE = re.compile(r"^(settings\.toml|\.secrets\.toml) \[[a-z-]+\]$")
PRESET_SOURCE = re.compile(r"^preset (base|[a-z-]+) \(environments/[a-z_-]+\.toml\)$")


def run(*argv: str) -> tuple[int, str]:
    """Run the CLI in-process; return its exit code and standard output."""
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def table_rows(text: str) -> dict[str, list[str]]:
    """The rows of piped table output, by their first column."""
    rows = [line.split("\t") for line in text.splitlines()]
    return {row[0]: row[1:] for row in rows}


def json_leaves(doc: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """The ``{"value", "source"}`` leaves of ``config show --format json --sources``."""
    out: dict[str, dict[str, Any]] = {}
    for key, node in doc.items():
        if set(node) == {"value", "source"}:
            out[f"{prefix}{key}"] = node
        else:
            out.update(json_leaves(node, f"{prefix}{key}."))
    return out


def test_cli_config_show_table_with_sources(root: Path) -> None:
    """The piped table is plain tab-separated text: key, value, source."""
    (root / "settings.toml").write_text('[default.redis]\nurl = "redis://a:6379/0"\n')
    code, out = run("config", "show", "--sources")
    assert code == 0
    assert "\x1b" not in out
    rows = table_rows(out)
    assert rows["redis.url"] == ["redis://a:6379/0", "settings.toml [default]"]
    assert rows["ttl.default"] == ["600", "preset development (environments/development.toml)"]
    assert rows["environment"] == ["development", "default"]


def test_cli_config_show_table_without_sources(root: Path) -> None:
    """Without ``--sources`` the table has two columns."""
    code, out = run("config", "show")
    assert code == 0
    assert table_rows(out)["redis.url"] == ['""']


def test_cli_config_show_json_with_sources(root: Path) -> None:
    """JSON with ``--sources`` gives every leaf as ``{"value", "source"}``."""
    (root / "settings.toml").write_text("[production.memory]\nmax_entries = 42\n")
    code, out = run("config", "show", "--env", "production", "--format", "json", "--sources")
    assert code == 0
    leaves = json_leaves(json.loads(out))
    assert leaves["memory.max_entries"] == {"value": 42, "source": "settings.toml [production]"}
    assert leaves["ttl.default"]["value"] == 7200
    assert leaves["ai.operation_ttls"] == {
        "value": {},
        "source": "preset base (environments/_base.toml)",
    }


def test_cli_config_show_json_plain(root: Path) -> None:
    """JSON without ``--sources`` is the nested config."""
    code, out = run("config", "show", "--preset", "minimal", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["preset"] == "minimal"
    assert doc["ttl"] == {"default": 900}
    assert doc["memory"]["enabled"] is False


def test_cli_config_show_toml_with_sources(root: Path) -> None:
    """TOML output parses back to the config and notes each leaf's source."""
    (root / "settings.toml").write_text("[default.compression]\nlevel = 2\n")
    code, out = run("config", "show", "--format", "toml", "--sources")
    assert code == 0
    doc = tomllib.loads(out)
    assert doc["compression"]["level"] == 2
    assert doc["ttl"]["default"] == 600
    assert "level = 2  # settings.toml [default]" in out.splitlines()


def test_cli_config_show_acceptance_env_url(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL from CACHEKIT_REDIS__URL is attributed to it; every other leaf to a file or preset."""
    (root / "settings.toml").write_text(
        '[default]\nnamespace = "orders"\n\n[production.redis]\nmax_connections = 30\n'
    )
    monkeypatch.setenv("CACHEKIT_ENV", "production")
    monkeypatch.setenv("CACHEKIT_REDIS__URL", "rediss://cache.internal:6380/0")
    code, out = run("config", "show", "--format", "json", "--sources")
    assert code == 0
    leaves = json_leaves(json.loads(out))
    assert leaves.pop("redis.url") == {
        "value": "rediss://cache.internal:6380/0",
        "source": "CACHEKIT_REDIS__URL",
    }
    assert leaves.pop("environment") == {"value": "production", "source": "CACHEKIT_ENV"}
    assert leaves.pop("preset")["value"] == "production"
    assert leaves["redis.max_connections"]["source"] == "settings.toml [production]"
    assert leaves["namespace"]["source"] == "settings.toml [default]"
    for key, leaf in leaves.items():
        source = leaf["source"]
        if leaf["value"] is None:
            assert source == "not set in any layer", key
        else:
            assert FILE_SOURCE.match(source) or PRESET_SOURCE.match(source), (key, source)
    assert "unknown" not in out


def test_cli_config_validate_ok(root: Path) -> None:
    """A valid configuration exits 0 and says which environment and preset it used."""
    code, out = run("config", "validate", "--env", "production")
    assert code == 0
    assert "environment production, preset production" in out


def test_cli_config_validate_typo(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo'd key exits 2 and names the key, file, section and the likely key."""
    (root / "settings.toml").write_text('[default.redis]\nurll = "redis://x:6379/0"\n')
    code, out = run("config", "validate")
    err = capsys.readouterr().err
    assert code == 2
    assert out == ""
    for part in ("redis.urll", "settings.toml", "[default]", "did you mean 'redis.url'"):
        assert part in err
    assert "Traceback" not in err


def test_cli_config_validate_reports_every_error(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every problem is printed, from files and variables alike."""
    (root / "settings.toml").write_text(
        '[default.compression]\nalgorithm = "zlib"\nlevel = 12\n\n[default.memroy]\nenabled = 1\n'
    )
    monkeypatch.setenv("CACHEKIT_REDIS__MAX_CONNECTIONS", "0")
    code, _ = run("config", "validate")
    err = capsys.readouterr().err
    assert code == 2
    assert "3 configuration problems" in err
    expected = ("compression.level", "memroy", "did you mean 'memory'", "MAX_CONNECTIONS")
    for part in expected:
        assert part in err


def test_cli_show_with_bad_config_exits_2(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``config show`` on invalid settings prints the problems and exits 2."""
    (root / "settings.toml").write_text("[default.ttl]\ndefault = 0\n")
    code, out = run("config", "show")
    assert code == 2
    assert out == ""
    assert "ttl.default" in capsys.readouterr().err


def test_cli_secret_password_never_printed(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A secrets file setting only the password keeps the URL and never shows the password."""
    (root / "settings.toml").write_text('[default.redis]\nurl = "redis://cache.example:6379/3"\n')
    (root / ".secrets.toml").write_text(f'[default.redis]\npassword = "{PASSWORD}"\n')
    code, out = run("config", "show", "--format", "json", "--sources")
    assert code == 0
    leaves = json_leaves(json.loads(out))
    assert leaves["redis.url"] == {
        "value": "redis://cache.example:6379/3",
        "source": "settings.toml [default]",
    }
    assert leaves["redis.password"] == {"value": "***", "source": ".secrets.toml [default]"}
    outputs = [out]
    for fmt in ("table", "json", "toml"):
        for extra in ([], ["--sources"]):
            code, text = run("config", "show", "--format", fmt, *extra)
            assert code == 0
            outputs.append(text)
    code, text = run("config", "validate")
    assert code == 0
    outputs.append(text)
    outputs.append(capsys.readouterr().err)
    for text in outputs:
        assert PASSWORD not in text


def test_cli_secret_password_not_in_errors(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """When validation fails, the password is still not printed."""
    (root / ".secrets.toml").write_text(f'[default.redis]\npassword = "{PASSWORD}"\nretries = -1\n')
    code, _ = run("config", "validate")
    err = capsys.readouterr().err
    assert code == 2
    assert "redis.retries" in err
    assert PASSWORD not in err


def test_cli_url_password_masked(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A password inside the Redis URL is masked in the output."""
    monkeypatch.setenv("CACHEKIT_REDIS__URL", f"redis://app:{PASSWORD}@cache:6379/0")
    code, out = run("config", "show", "--sources")
    assert code == 0
    assert PASSWORD not in out
    assert table_rows(out)["redis.url"][0] == "redis://app:***@cache:6379/0"


def test_cli_ignores_host_dynaconf_variables(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host app's ``*_FOR_DYNACONF`` variables change nothing the CLI shows."""
    (root / "settings.toml").write_text('[default.redis]\nurl = "redis://kept:6379/0"\n')
    (root / ".secrets.toml").write_text('[default.redis]\npassword = "pw"\n')
    monkeypatch.setenv("CACHEKIT_REDIS__MAX_CONNECTIONS", "@int 20")
    code, baseline = run("config", "show", "--format", "json", "--sources")
    assert code == 0
    host = root / "host"
    host.mkdir()
    (host / "host.toml").write_text("[production.ttl]\ndefault = 5\n")
    monkeypatch.setenv("ENV_FOR_DYNACONF", "production")
    monkeypatch.setenv("SETTINGS_FILE_FOR_DYNACONF", str(host / "host.toml"))
    monkeypatch.setenv("ENVVAR_PREFIX_FOR_DYNACONF", "HOST")
    monkeypatch.setenv("MERGE_ENABLED_FOR_DYNACONF", "false")
    monkeypatch.setenv("AUTO_CAST_FOR_DYNACONF", "false")
    monkeypatch.setenv("HOST_TTL__DEFAULT", "5")
    code, out = run("config", "show", "--format", "json", "--sources")
    assert code == 0
    assert out == baseline
    leaves = json_leaves(json.loads(out))
    assert leaves["redis.url"]["value"] == "redis://kept:6379/0"
    assert leaves["redis.max_connections"]["value"] == 20


def test_cli_presets_list(root: Path) -> None:
    """``presets list`` prints every preset with its description."""
    code, out = run("presets", "list")
    assert code == 0
    rows = table_rows(out)
    assert sorted(rows) == preset_names()
    assert all(row[0] for row in rows.values())


def test_cli_presets_show(root: Path) -> None:
    """``presets show NAME`` prints the description, use cases and values."""
    code, out = run("presets", "show", "ai-production")
    assert code == 0
    first, second, *rest = out.splitlines()
    assert first.startswith("ai-production: ")
    assert second.startswith("use cases: ")
    rows = table_rows("\n".join(rest))
    assert rows["ttl.default"] == ["14400"]
    assert rows["ai.operation_ttls.summarize"] == ["14400"]
    assert rows["ai.operation_ttls.qa"] == ["7200"]


def test_cli_presets_show_ignores_local_settings(root: Path) -> None:
    """``presets show`` prints the preset itself, not the local settings on top of it."""
    (root / "settings.toml").write_text("[default.ttl]\ndefault = 1\n")
    code, out = run("presets", "show", "simple")
    assert code == 0
    assert table_rows(out)["ttl.default"] == ["3600"]


def test_cli_presets_show_unknown(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown preset name exits 2 with a message."""
    code, _ = run("presets", "show", "nope")
    assert code == 2
    assert "unknown preset" in capsys.readouterr().err


def test_cli_usage_error_exits_2(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option is a usage error (argparse's exit status 2)."""
    with pytest.raises(SystemExit) as info:
        run("config", "show", "--format", "yaml")
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
