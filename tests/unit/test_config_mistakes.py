"""Configuration mistakes are errors, not silent fallbacks: a mistyped CACHEKIT_ENV, a
settings root that does not exist, a service without (or with a weak) token, a mistyped
preset name. Each names the key and suggests the fix."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cachekit import CacheConfigError
from cachekit.cli.main import main
from cachekit.config.settings import resolve_settings

TOKEN = "tok-0123456789abcdefghijklmnopqrstuvwxyz"


def run(*argv: str) -> tuple[int, str]:
    """Exit status and standard output of ``cachekit ARGV``."""
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_mistyped_cachekit_env_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    """``CACHEKIT_ENV=prod``: no preset, no [prod] section, no preset chosen: an error
    suggesting ``production`` (it used to run the simple preset, relaxed, on localhost)."""
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ={"CACHEKIT_ENV": "prod"}, root=tmp_path)
    (problem,) = [p for p in info.value.problems if p.key == "environment"]
    assert "did you mean 'production'" in problem.message
    assert problem.source == "CACHEKIT_ENV"


def test_cli_validate_mistyped_env_exits_2(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Acceptance: ``CACHEKIT_ENV=prod cachekit config validate`` exits 2 suggesting
    ``production``; ``--env prod`` does too."""
    monkeypatch.setenv("CACHEKIT_ENV", "prod")
    assert run("config", "validate") == (2, "")
    assert "did you mean 'production'" in capsys.readouterr().err
    monkeypatch.delenv("CACHEKIT_ENV")
    assert run("config", "validate", "--env", "prod")[0] == 2
    assert "did you mean 'production'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "settings_toml",
    [
        '[staging.redis]\nurl = "redis://localhost:6379/0"\n',  # a section of its name
        '[default]\npreset = "simple"\n',  # a preset chosen
    ],
)
def test_custom_environment_with_section_or_preset_is_fine(
    tmp_path: Path, settings_toml: str
) -> None:
    """An environment of your own is fine once settings.toml has its section or a preset."""
    (tmp_path / "settings.toml").write_text(settings_toml)
    config = resolve_settings(environ={"CACHEKIT_ENV": "staging"}, root=tmp_path).config
    assert (config.environment, config.preset) == ("staging", "simple")


def test_missing_settings_root_is_an_error(tmp_path: Path) -> None:
    """A CACHEKIT_SETTINGS_ROOT that does not exist is an error naming the variable."""
    missing = tmp_path / "nowhere"
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ={"CACHEKIT_SETTINGS_ROOT": str(missing)})
    (problem,) = [p for p in info.value.problems if p.key == "CACHEKIT_SETTINGS_ROOT"]
    assert "no such directory" in problem.message and "nowhere" in str(problem.value)


def test_cli_validate_for_serve_reports_missing_token(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``validate --for serve`` in production without a token exits 2 naming server.token;
    plain ``validate`` says the service would refuse, and exits 0."""
    monkeypatch.setenv("CACHEKIT_ENV", "production")
    monkeypatch.setenv("CACHEKIT_REDIS__URL", "rediss://:pw@cache.internal:6380/0")
    assert run("config", "validate", "--for", "serve") == (2, "")
    assert "server.token" in capsys.readouterr().err
    code, out = run("config", "validate")
    assert code == 0 and "would refuse to start" in out
    monkeypatch.setenv("CACHEKIT_SERVER__TOKEN", TOKEN)
    code, out = run("config", "validate", "--for", "serve")
    assert code == 0 and "would refuse" not in out


def test_cli_validate_weak_token_exits_2(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A one-character token in production exits 2, naming the key, never the token."""
    monkeypatch.setenv("CACHEKIT_ENV", "production")
    monkeypatch.setenv("CACHEKIT_REDIS__URL", "rediss://:pw@cache.internal:6380/0")
    monkeypatch.setenv("CACHEKIT_SERVER__TOKEN", "Q")
    assert run("config", "validate")[0] == 2
    err = capsys.readouterr().err
    assert "server.token: shorter than 32 characters" in err and "'Q'" not in err


def test_cli_presets_show_suggests_nearest_name(capsys: pytest.CaptureFixture[str]) -> None:
    """``presets show prodution`` exits 2 suggesting ``production`` (``prod`` too)."""
    for name in ("prodution", "prod"):
        assert run("presets", "show", name)[0] == 2
        assert "did you mean 'production'" in capsys.readouterr().err
