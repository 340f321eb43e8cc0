"""``cachekit check``: the report, the verdict line and the exit status, on real Redis."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from cachekit.cli.check import EXIT_OK, EXIT_UNFIT, run_check
from cachekit.cli.main import main
from tests.http_helpers import settings
from tests.redis_server import RedisServer, free_port


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A process environment without CACHEKIT_* variables, settings root in tmp_path."""
    for var in [v for v in os.environ if v.startswith("CACHEKIT_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("CACHEKIT_SETTINGS_ROOT", str(tmp_path))
    return monkeypatch


def run(argv: list[str]) -> tuple[int, list[str]]:
    """``cachekit <argv>``: exit status and the lines printed."""
    out = io.StringIO()
    status = main(argv, out=out)
    return status, out.getvalue().splitlines()


def test_check_memory_only_is_fit(environ: pytest.MonkeyPatch) -> None:
    """The embedded default (memory tier) is fit: exit 0, verdict last."""
    status, lines = run(["check"])
    assert status == EXIT_OK
    assert lines[0] == "cachekit check: environment development, preset development"
    assert lines[-1].startswith("ok: round trip in")
    assert any(line.split()[0] == "latency" for line in lines)


def test_check_real_redis_reports_connection(
    redis_server: RedisServer, environ: pytest.MonkeyPatch
) -> None:
    """Against a live Redis: tiers, TLS, auth, latency and an ok health."""
    environ.setenv("CACHEKIT_REDIS__URL", redis_server.url)
    status, lines = run(["check", "--env", "testing"])
    report = {line.split()[0]: line.split(None, 1)[1] for line in lines[1:-1]}
    assert status == EXIT_OK, lines
    assert report["tiers"] == f"memory + redis {redis_server.url}"
    assert report["tls"] == "off (plaintext to loopback)"
    assert report["auth"] == "none"
    assert report["health"].startswith("ok")
    assert all(step in report["latency"] for step in ("connect", "set", "get", "delete"))


def test_check_stopped_redis_is_unfit_in_one_line(
    redis_server: RedisServer, environ: pytest.MonkeyPatch
) -> None:
    """With Redis stopped, check exits 1 and its last line says why."""
    environ.setenv("CACHEKIT_REDIS__URL", redis_server.url)
    redis_server.kill()
    status, lines = run(["check", "--env", "testing"])
    assert status == EXIT_UNFIT
    verdict = lines[-1]
    assert verdict.startswith("unfit: degraded:")
    assert "redis" in verdict and str(redis_server.port) in verdict
    assert sum(line.startswith(("ok:", "unfit:")) for line in lines) == 1


async def test_check_never_started_redis_is_unfit() -> None:
    """A Redis URL where nothing listens is unfit, within the timeout budget."""
    config = settings(redis__url=f"redis://127.0.0.1:{free_port()}/0", redis__connect_timeout="0.5")
    out = io.StringIO()
    assert await run_check(config.config, out) == EXIT_UNFIT
    assert out.getvalue().splitlines()[-1].startswith("unfit:")


def test_check_acl_user_is_reported_and_password_masked(
    redis_server_factory: Callable[..., RedisServer], environ: pytest.MonkeyPatch
) -> None:
    """An ACL user is named in the auth line; the password appears nowhere."""
    password = "canary-pass-5e2c"
    server = redis_server_factory(
        "--user", "default", "off", "--user", "cache", "on", f">{password}", "~*", "+@all"
    )
    environ.setenv("CACHEKIT_REDIS__URL", server.url)
    environ.setenv("CACHEKIT_REDIS__USERNAME", "cache")
    environ.setenv("CACHEKIT_REDIS__PASSWORD", password)
    status, lines = run(["check", "--env", "testing"])
    assert status == EXIT_OK, lines
    assert "auth      ACL user 'cache'" in "\n".join(lines)
    assert password not in "\n".join(lines)


def test_check_wrong_password_is_unfit(
    redis_server_factory: Callable[..., RedisServer], environ: pytest.MonkeyPatch
) -> None:
    """A wrong password makes the deployment unfit, and the verdict names authentication."""
    server = redis_server_factory("--requirepass", "right-one")
    environ.setenv("CACHEKIT_REDIS__URL", server.url)
    environ.setenv("CACHEKIT_REDIS__PASSWORD", "wrong-one")
    status, lines = run(["check", "--env", "testing"])
    assert status == EXIT_UNFIT
    assert "auth" in lines[-1].lower() or "password" in lines[-1].lower()
    assert "wrong-one" not in "\n".join(lines)


def test_check_serve_flag_requires_a_token_in_production(
    redis_server: RedisServer, environ: pytest.MonkeyPatch
) -> None:
    """``--serve`` makes a missing server.token unfit in production; a token fixes it."""
    environ.setenv("CACHEKIT_REDIS__URL", redis_server.url)
    assert run(["check", "--env", "production"])[0] == EXIT_OK
    status, lines = run(["check", "--env", "production", "--serve"])
    assert status == EXIT_UNFIT and lines[-1].startswith("unfit: server.token: not set")
    environ.setenv("CACHEKIT_SERVER__TOKEN", "canary-token-31")
    status, lines = run(["check", "--env", "production", "--serve"])
    assert status == EXIT_OK and "writes need the bearer token" in "\n".join(lines)
    assert "canary-token-31" not in "\n".join(lines)


def test_check_invalid_settings_exit_2(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid settings are reported, not checked: exit 2 naming the key."""
    environ.setenv("CACHEKIT_SERVER__PORT", "70000")
    assert main(["check"], out=io.StringIO()) == 2
    assert "server.port" in capsys.readouterr().err
