"""Tests of the posture rules (``config.posture``): what each environment refuses or warns
(in process; the console-script acceptance test is in tests/integration)."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from cachekit import CacheConfigBuilder, CacheConfigError, resolve
from cachekit.cli.main import main
from cachekit.config.posture import evaluate, findings
from cachekit.config.urls import endpoint, is_loopback
from tests.certs import write_pki

REMOTE = "redis://cache.internal:6379/0"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings root the CLI reads, with host ``CACHEKIT_*`` variables cleared."""
    for var in list(os.environ):
        if var.startswith("CACHEKIT_") or var.endswith("_FOR_DYNACONF"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CACHEKIT_SETTINGS_ROOT", str(tmp_path))
    return tmp_path


def build(preset: str = "production", **dotted: Any) -> Any:
    """A config from ``preset`` with dotted overrides."""
    return CacheConfigBuilder().with_preset(preset).with_overrides(dotted).build()


def problems(preset: str = "production", **dotted: Any) -> dict[str, str]:
    """Problem messages by key of a config that must be refused."""
    with pytest.raises(CacheConfigError) as info:
        build(preset, **dotted)
    return {p.key: p.message for p in info.value.problems}


def run(*argv: str) -> tuple[int, str]:
    """Run the CLI in-process; exit code and standard output."""
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


@pytest.mark.parametrize("preset", ["production", "ai-production"])
def test_posture_strict_presets_refuse_plaintext_remote(preset: str) -> None:
    """The strict presets refuse redis:// to a remote host, naming the rule and the fix."""
    found = problems(preset, **{"redis.url": REMOTE})
    assert "posture rule 'plaintext-remote' failed" in found["redis.url"]
    assert "rediss://" in found["redis.url"]
    assert "security.allow_insecure" in found["redis.url"]
    assert "posture rule 'unauthenticated-remote' failed" in found["redis.password"]


def test_posture_strict_refuses_unauthenticated_tls() -> None:
    """TLS alone is not enough for a remote host: it needs a password or client certificate."""
    found = problems(**{"redis.url": "rediss://cache.internal:6380/0"})
    assert list(found) == ["redis.password"]
    assert "unauthenticated-remote" in found["redis.password"]


def test_posture_strict_accepts_tls_with_password() -> None:
    """rediss:// with a password (from either name of the setting) satisfies strict posture."""
    for key in ("redis.password", "security.password"):
        config = build(**{"redis.url": "rediss://cache.internal:6380/0", key: "pw"})
        assert [f.severity for f in findings(config)] == []


def test_posture_strict_accepts_client_certificate(tmp_path: Path) -> None:
    """A client certificate authenticates a TLS connection under strict posture."""
    pki = write_pki(tmp_path)
    config = build(
        **{
            "redis.url": "rediss://cache.internal:6380/0",
            "security.tls_cert_path": pki.client_cert,
            "security.tls_key_path": pki.client_key,
        }
    )
    assert findings(config) == []


def test_posture_strict_refuses_unverified_tls() -> None:
    """verify_certificates = false is refused under strict posture, naming the rule."""
    found = problems(
        **{
            "redis.url": "rediss://:pw@cache.internal:6380/0",
            "security.verify_certificates": False,
        }
    )
    assert "posture rule 'unverified-tls' failed" in found["security.verify_certificates"]
    assert "security.tls_ca_path" in found["security.verify_certificates"]


def test_posture_allow_insecure_accepts_and_warns_at_every_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """allow_insecure turns refusals into warnings logged on logger "cachekit" at every resolve."""
    config = build(**{"redis.url": REMOTE, "security.allow_insecure": True})
    assert {f.rule: f.severity for f in findings(config)} == {
        "plaintext-remote": "warning",
        "unauthenticated-remote": "warning",
    }
    with caplog.at_level(logging.DEBUG, logger="cachekit"):
        resolve(config)
        resolve(config)
    warnings = [r for r in caplog.records if r.name == "cachekit" and r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert all("allow_insecure" in r.getMessage() for r in warnings)


def test_posture_loopback_plaintext_runs_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    """The seed docs' production example (redis://localhost:6379) builds and logs warnings."""
    config = (
        CacheConfigBuilder()
        .for_environment("production")
        .with_redis("redis://localhost:6379")
        .with_ai_features()
        .build()
    )
    assert {f.rule: f.severity for f in findings(config)} == {
        "plaintext-local": "warning",
        "unauthenticated-local": "warning",
    }
    with caplog.at_level(logging.WARNING, logger="cachekit"):
        resolve(config)
    assert any("plaintext-local" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("url", ["unix:///run/redis/redis.sock", "redis://127.0.0.1:6379/0"])
def test_posture_unix_socket_and_loopback_are_local(url: str) -> None:
    """Unix sockets and loopback addresses may be plaintext and unauthenticated."""
    config = build(**{"redis.url": url})
    assert {f.rule for f in findings(config)} == {"plaintext-local", "unauthenticated-local"}


def test_posture_relaxed_only_notes(caplog: pytest.LogCaptureFixture) -> None:
    """Relaxed presets accept a plaintext remote URL; findings are notes, not warnings."""
    config = build("simple", **{"redis.url": REMOTE})
    assert {f.severity for f in findings(config)} == {"note"}
    with caplog.at_level(logging.DEBUG, logger="cachekit"):
        resolve(config)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_posture_configurable_per_environment(root: Path) -> None:
    """settings.toml can make a non-production environment strict (or production relaxed)."""
    (root / "settings.toml").write_text(
        f'[default.redis]\nurl = "{REMOTE}"\n\n[staging.security]\nposture = "strict"\n'
        '\n[production.security]\nposture = "relaxed"\n'
    )
    with pytest.raises(CacheConfigError, match=r"plaintext-remote.*settings\.toml \[staging\]"):
        CacheConfigBuilder().for_environment("staging").from_environment({}, root=root).build()
    relaxed = CacheConfigBuilder().for_environment("production").from_environment({}, root=root)
    assert relaxed.build().security.posture == "relaxed"


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("10.0.0.7", False),
        ("cache.internal", False),
        ("localhost.example.com", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_posture_is_loopback(host: str, local: bool) -> None:
    """Loopback names and addresses count as local; everything else (unresolved) is remote."""
    assert is_loopback(host) is local


def test_posture_url_without_host_is_refused() -> None:
    """A Redis URL without a host is an error (redis-py would guess localhost), and posture
    finds nothing in it (validation reports it, naming redis.url)."""
    with pytest.raises(ValueError, match="no host"):
        endpoint("redis://:6379/0")
    assert evaluate({"redis": {"url": "redis://:6379/0"}, "security": {"posture": "strict"}}) == []
    assert endpoint("redis://cache.internal:6379/0")[2] is False


def test_posture_cli_validate_exits_2_naming_rule(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Acceptance: production, plaintext remote URL, no password: exit 2 naming the rule."""
    (root / "settings.toml").write_text(f'[production.redis]\nurl = "{REMOTE}"\n')
    monkeypatch.setenv("CACHEKIT_ENV", "production")
    code, out = run("config", "validate")
    err = capsys.readouterr().err
    assert (code, out) == (2, "")
    assert "posture rule 'plaintext-remote' failed" in err
    assert "posture rule 'unauthenticated-remote' failed" in err
    assert "from settings.toml [production]" in err


def test_posture_cli_validate_reports_warnings(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid production config still lists its posture warnings."""
    monkeypatch.setenv("CACHEKIT_ENV", "production")
    code, out = run("config", "validate")
    assert code == 0
    assert "warning: posture rule 'plaintext-local'" in out


def test_posture_cli_show_prints_with_findings_on_stderr(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 2 acceptance holds: show prints a config its preset refuses, findings on stderr."""
    monkeypatch.setenv("CACHEKIT_ENV", "production")
    monkeypatch.setenv("CACHEKIT_REDIS__URL", "rediss://cache.internal:6380/0")
    code, out = run("config", "show", "--format", "json", "--sources")
    assert code == 0
    doc = json.loads(out)
    assert doc["redis"]["url"]["value"] == "rediss://cache.internal:6380/0"
    assert doc["security"]["posture"] == {
        "value": "strict",
        "source": "preset production (environments/production.toml)",
    }
    assert "error: posture rule 'unauthenticated-remote'" in capsys.readouterr().err
