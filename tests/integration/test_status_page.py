"""The ``/status`` page of ``cachekit serve`` (real Redis) in headless Chromium with every
other host unresolvable: after a workload the rendered DOM holds its live hit ratio and
the per-tag counts, and the screenshot is not blank.

Set ``CACHEKIT_TEST_ARTIFACTS`` to a directory to keep the screenshot
(``status.png``); otherwise it lives in the test's temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.helpers_net import free_port
from tests.http_helpers import wait_for_port
from tests.redis_server import RedisServer


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _flags(chromium: str) -> list[str]:
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tempfile.mkdtemp(prefix='ck-chromium-')}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--window-size=1280,1100", "--virtual-time-budget=3000",
    ]  # fmt: skip


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_status_page_in_chromium_shows_the_live_hit_ratio(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Acceptance: after 30 hits and 10 misses (in four rounds, the page read between
    them so its chart has points), Chromium's DOM of ``/status`` shows 75.0% from 30 of
    40 lookups, the stack over Redis, the tag counts; the screenshot is not blank."""
    chromium = _chromium()
    assert chromium is not None
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CACHEKIT_", "OTEL_"))}
    env.update(CACHEKIT_SETTINGS_ROOT=str(tmp_path), CACHEKIT_ENV="development",
               CACHEKIT_REDIS__URL=redis_server.url)  # fmt: skip
    cmd = [sys.executable, "-m", "cachekit", "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    shot = tmp_path / "status.png"
    url = f"http://127.0.0.1:{port}/status"
    try:
        wait_for_port(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for user in range(4):
                tags = f"user:{user},team:blue"
                assert http.put(f"/v1/cache/app/u{user}?tags={tags}", json={"u": user}).is_success
                for _ in range(10 if user < 3 else 0):
                    assert http.get(f"/v1/cache/app/u{user}").status_code == 200
                for miss in range(3 if user < 3 else 1):
                    assert http.get(f"/v1/cache/app/none{user}-{miss}").status_code == 404
                assert http.get("/status").status_code == 200  # a point on the chart
            invalidated = http.post("/cache/invalidate", json={"tags": ["user:0"]}).json()
            assert invalidated["removed"] == 1
        flags = _flags(chromium)
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True,
                             timeout=120).stdout  # fmt: skip
        subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    ratio = re.search(r'id="hit-ratio" data-hits="(\d+)" data-lookups="(\d+)">\s*([\d.]+)%', dom)
    assert ratio is not None, dom[:2000]
    assert ratio.groups() == ("30", "40", "75.0")
    assert "RedisBackend" in dom  # the stack
    assert f"standalone 127.0.0.1:{redis_server.port}: master, Redis " in dom  # its topology
    assert re.search(r"<td>team:blue</td><td>4</td><td>0</td>", dom)
    assert re.search(r"<td>user:0</td><td>1</td><td>1</td>", dom)
    assert "<polyline" in dom  # the chart has a line
    assert shot.is_file() and shot.stat().st_size > 20_000  # a blank page is ~5 KB
    keep = os.environ.get("CACHEKIT_TEST_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "status.png")
