"""``cachekit check``: the report, the verdict line and the exit status, on real Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cachekit.cli.check import EXIT_OK, EXIT_UNFIT
from tests.helpers_check import run
from tests.redis_server import RedisServer


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
    token = "canary-token-31-0123456789abcdefghij"  # production wants 32 characters or more
    environ.setenv("CACHEKIT_SERVER__TOKEN", token)
    status, lines = run(["check", "--env", "production", "--serve"])
    assert status == EXIT_OK and "and ops need a token (1 set)" in "\n".join(lines)
    assert token not in "\n".join(lines)
