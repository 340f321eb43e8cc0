"""Secrets never leave: canaries set through the secrets file, environment variables and
URL userinfo appear in no settings validation error and in nothing the CLI prints (show,
validate, presets, and check against a port where nothing listens). The paths that talk to
a real redis-server, and telemetry, are in tests/integration/test_canary.py.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from cachekit import CacheConfigError
from cachekit.cli.main import main
from cachekit.config.settings import resolve_settings
from tests.helpers_canary import (
    ENV_KEY,
    ENV_PASSWORD,
    FILE_KEY,
    FILE_PASSWORD,
    ODD_PASSWORD,
    QUERY_PASSWORD,
    URL_PASSWORD,
    Capture,
    layers,
)
from tests.helpers_net import free_port


def test_canary_never_leaves_validation_errors(root: Path, capture: Capture) -> None:
    """Invalid settings around the canaries: every problem reported, no canary in the report."""
    (root / "settings.toml").write_text(
        f'passwrd = "{FILE_PASSWORD}"\n\n[default.redis]\n'
        f'url = "http://u:{URL_PASSWORD}@h:1/0"\npasword = "{FILE_PASSWORD}"\n'
        "max_connections = 0\n\n[default.security]\n"
        f'password = "{ENV_PASSWORD}"\nsigning_key = ["{FILE_KEY}"]\n'
    )
    (root / ".secrets.toml").write_text(
        f'[default.redis]\npassword = "{FILE_PASSWORD}"\n'
        f'[default.security]\nencryption_keys = "{ENV_KEY}"\n'
    )
    for environ in (
        {"CACHEKIT_SECURITY__SIGNING_KEYS": f'["{FILE_KEY}'},
        {"CACHEKIT_SECURITY__SIGNING_KEYS": f"@json [{FILE_KEY}"},
        {"CACHEKIT_SECURITY__ENCRYPTION_KEYS": f"[{ENV_KEY}]"},
        {"CACHEKIT_REDIS__PASSWORD": f"@int {ENV_PASSWORD}"},
        {"CACHEKIT_SECURITY__PASSWROD": ENV_PASSWORD},
        {"CACHEKIT_SECURITY__SIGNING_KEYS": ENV_PASSWORD[:10]},
    ):
        with pytest.raises(CacheConfigError) as info:
            resolve_settings(environ=environ, root=root)
        capture.add(info.value, info.value.problems)
        assert len(info.value.problems) >= 5
    assert capture.leaks() == []


def test_canary_never_leaves_the_cli(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    capture: Capture, caplog: pytest.LogCaptureFixture,
) -> None:
    """config show (every format), validate, presets and check print no canary."""
    caplog.set_level(logging.DEBUG)
    environ = layers(
        root, f"redis://canary:{URL_PASSWORD}@127.0.0.1:{free_port()}/0", strict=True
    )
    (root / ".secrets.toml").write_text(
        f'[default.redis]\npassword = "{URL_PASSWORD}"\n\n'
        f'[default.security]\nsigning_keys = ["{FILE_KEY}"]\n'
    )
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    codes = []
    for argv in (
        ["config", "show"],
        ["config", "show", "--sources"],
        ["config", "show", "--format", "json", "--sources"],
        ["config", "show", "--format", "toml", "--sources"],
        ["config", "validate"],
        ["check"],
        ["presets", "show", "production"],
    ):
        out = io.StringIO()
        codes.append(main(argv, out=out))
        capture.add(out.getvalue())
    assert codes[:5] == [0, 0, 0, 0, 0] and codes[5] == 1  # check fails: nothing listens
    monkeypatch.setenv("CACHEKIT_REDIS__PASSWORD", ENV_PASSWORD)  # contradicts the file? no:
    monkeypatch.setenv("CACHEKIT_SECURITY__PASSWORD", FILE_PASSWORD)  # two different values
    out = io.StringIO()
    assert main(["config", "validate"], out=out) == 2
    capture.add(out.getvalue())
    captured = capsys.readouterr()
    capture.add(captured.out, captured.err, caplog.text)
    assert "contradicts" in captured.err
    assert capture.leaks() == []


@pytest.mark.parametrize(
    "url",
    [
        f"redis://127.0.0.1:{free_port()}/0?username=canary&password={QUERY_PASSWORD}",
        f"redis://canary:{ODD_PASSWORD}@127.0.0.1:{free_port()}/0",
        f"redis://127.0.0.1:{free_port()}/0?password={ODD_PASSWORD}",
    ],
    ids=["query", "odd-userinfo", "odd-query"],
)
def test_canary_url_secrets_never_leave_the_cli(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    capture: Capture, caplog: pytest.LogCaptureFixture, url: str,
) -> None:
    """Query-string passwords and raw ``/ # @`` in passwords: config show (every format),
    validate and check print no piece of them."""
    caplog.set_level(logging.DEBUG)
    (root / "settings.toml").write_text(f'[default.redis]\nurl = "{url}"\n')
    codes = []
    for argv in (
        ["config", "show"],
        ["config", "show", "--format", "json", "--sources"],
        ["config", "show", "--format", "toml", "--sources"],
        ["config", "validate"],
        ["check"],
    ):
        out = io.StringIO()
        codes.append(main(argv, out=out))
        capture.add(out.getvalue())
    assert codes == [0, 0, 0, 0, 1]  # check fails: nothing listens
    monkeypatch.setenv("CACHEKIT_REDIS__URL", url.replace("/0", ":99999/0", 1))
    assert main(["config", "validate"], out=io.StringIO()) == 2  # an error shows the URL
    captured = capsys.readouterr()
    assert "redis.url" in captured.err
    capture.add(captured.out, captured.err, caplog.text)
    assert capture.leaks() == []


def test_canary_url_secrets_never_leave_the_ops_endpoints(capture: Capture) -> None:
    """``/cache/config`` and ``/cache/status`` mask a query-string and an odd password."""
    from fastapi.testclient import TestClient

    from cachekit import CacheConfigBuilder
    from cachekit.testing import FakeCache
    from cachekit.web.server import create_app

    for url in (
        f"redis://127.0.0.1:1/0?password={QUERY_PASSWORD}",
        f"redis://u:{ODD_PASSWORD}@127.0.0.1:1/0",
    ):
        config = (
            CacheConfigBuilder()
            .for_environment("testing")
            .with_preset("testing")
            .with_overrides({"redis.url": url})
            .build()
        )
        with TestClient(create_app(config=config, cache=FakeCache())) as client:
            for path in ("/cache/config", "/cache/status", "/cache/stats", "/readyz"):
                response = client.get(path)
                assert response.status_code == 200, path
                capture.add(response.text)
    assert any("password=***" in t for t in capture.texts)
    assert capture.leaks() == []
