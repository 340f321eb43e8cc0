"""``cachekit check`` without a server: the memory-only verdict, a Redis URL where nothing
listens, invalid settings (the real-Redis reports are in tests/integration)."""

from __future__ import annotations

import io

import pytest

from cachekit.cli.check import EXIT_OK, EXIT_UNFIT, run_check
from cachekit.cli.main import main
from tests.helpers_check import run
from tests.helpers_net import free_port
from tests.http_helpers import settings


def test_check_memory_only_is_fit(environ: pytest.MonkeyPatch) -> None:
    """The embedded default (memory tier) is fit: exit 0, verdict last."""
    status, lines = run(["check"])
    assert status == EXIT_OK
    assert lines[0] == "cachekit check: environment development, preset development"
    assert lines[-1].startswith("ok: round trip in")
    assert any(line.split()[0] == "latency" for line in lines)


async def test_check_never_started_redis_is_unfit() -> None:
    """A Redis URL where nothing listens is unfit, within the timeout budget."""
    config = settings(redis__url=f"redis://127.0.0.1:{free_port()}/0", redis__connect_timeout="0.5")
    out = io.StringIO()
    assert await run_check(config.config, out) == EXIT_UNFIT
    assert out.getvalue().splitlines()[-1].startswith("unfit:")


def test_check_invalid_settings_exit_2(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid settings are reported, not checked: exit 2 naming the key."""
    environ.setenv("CACHEKIT_SERVER__PORT", "70000")
    assert main(["check"], out=io.StringIO()) == 2
    assert "server.port" in capsys.readouterr().err
