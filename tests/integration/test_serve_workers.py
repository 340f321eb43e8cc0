"""``cachekit serve --workers 2``: two worker processes on one socket, one Redis, their
memory tiers coherent — after an acknowledged PUT no worker serves the old value beyond
the lag bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.http_helpers import wait_for_port
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.redis


def test_serve_two_workers_share_one_coherent_cache(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Both workers answer (each with its own pid-bound stack); a PUT acknowledged by one is
    what every later GET returns, on fresh connections spread over both, within 100 ms."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHEKIT_")}
    env.update(
        {
            "CACHEKIT_SETTINGS_ROOT": str(tmp_path),
            "CACHEKIT_REDIS__URL": redis_server.url,
            "CACHEKIT_MEMORY__COHERENCE": "tracking",
        }
    )
    cmd = [sys.executable, "-m", "cachekit.cli.main", "serve", "--port", str(port),
           "--workers", "2", "--log-level", "info"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:  # both workers are up when /readyz answers ok on fresh connections
            try:
                if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the workers did not get ready"
            time.sleep(0.1)
        stale_after_bound = 0
        for round_ in range(10):
            body = f'{{"round": {round_}}}'.encode()
            assert httpx.put(base + "/v1/cache/hot/k", content=body, timeout=5).status_code == 204
            acknowledged = time.monotonic()
            for _ in range(10):  # fresh connections: both workers answer some of them
                value = httpx.get(base + "/v1/cache/hot/k", timeout=5).json()
                if value != {"round": round_} and time.monotonic() - acknowledged > 0.1:
                    stale_after_bound += 1
        assert stale_after_bound == 0
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output.decode(errors="replace")[-2000:]
    assert output.count(b"Application startup complete") == 2  # two workers ran
