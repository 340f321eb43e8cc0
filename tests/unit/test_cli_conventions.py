"""The command line's small conventions: ``--version``, ``python -m cachekit``,
``check --format json`` and ``serve --log-format``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from cachekit._version import __version__
from cachekit.cli.main import build_parser, main
from tests.helpers_net import free_port


def test_cli_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``cachekit --version`` prints ``cachekit <version>`` and exits 0."""
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"cachekit {__version__}"


def test_cli_python_dash_m_runs_the_command() -> None:
    """``python -m cachekit`` is the ``cachekit`` command (exit status passed through)."""
    done = subprocess.run(
        [sys.executable, "-m", "cachekit", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"cachekit {__version__}"
    bad = subprocess.run(
        [sys.executable, "-m", "cachekit", "nonsense"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_cli_check_format_json_fit(environ: pytest.MonkeyPatch) -> None:
    """``check --format json`` is one JSON object: environment, preset, fit, verdict,
    reason and the labelled checks; exit status as in text."""
    out = io.StringIO()
    assert main(["check", "--format", "json"], out=out) == 0
    doc = json.loads(out.getvalue())
    assert doc["environment"] == "development" and doc["preset"] == "development"
    assert doc["fit"] is True and doc["reason"] is None
    assert doc["verdict"].startswith("ok: round trip in")
    assert {"tiers", "serve", "latency", "health"} <= set(doc["checks"])


def test_cli_check_format_json_unfit_names_the_reason(environ: pytest.MonkeyPatch) -> None:
    """An unfit deployment gives ``fit: false`` and the reason, exit 1, and the Redis
    password stays masked."""
    environ.setenv("CACHEKIT_REDIS__URL", f"redis://:pa55word@127.0.0.1:{free_port()}/0")
    environ.setenv("CACHEKIT_REDIS__CONNECT_TIMEOUT", "0.5")
    out = io.StringIO()
    assert main(["check", "--format", "json"], out=out) == 1
    doc = json.loads(out.getvalue())
    assert doc["fit"] is False and doc["reason"]
    assert doc["verdict"] == f"unfit: {doc['reason']}"
    assert "pa55word" not in out.getvalue()


def test_cli_serve_log_format_flag() -> None:
    """``serve --log-format`` takes ``text`` (default) or ``json``."""
    parser = build_parser()
    assert parser.parse_args(["serve"]).log_format == "text"
    assert parser.parse_args(["serve", "--log-format", "json"]).log_format == "json"
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--log-format", "yaml"])
