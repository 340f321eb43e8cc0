"""A real Prometheus (Debian's ``prometheus``) scrapes ``cachekit serve``'s ``/metrics``
on a real Redis; a PromQL query over its HTTP API finds the workload's hits and misses.

The test waits for a scrape that started after the workload (``timestamp()`` of the
series), not for a fixed time; it skips, saying why, when Prometheus is not installed
(``.ci/run`` installs it when run as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers_net import free_port
from tests.http_helpers import wait_for_port
from tests.redis_server import RedisServer

HITS, MISSES = 37, 11
HIT_SERIES = 'cachekit_operations_total{cache_operation="get",cache_result="hit"}'
MISS_SERIES = 'cachekit_operations_total{cache_operation="get",cache_result="miss"}'


def _prometheus() -> str | None:
    return shutil.which("prometheus")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def served(tmp_path: Path, redis_server: RedisServer) -> Iterator[int]:
    """``cachekit serve`` (development, real Redis, metrics on ``/metrics``); its port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CACHEKIT_", "OTEL_"))}
    env.update(CACHEKIT_SETTINGS_ROOT=str(tmp_path), CACHEKIT_ENV="development",
               CACHEKIT_REDIS__URL=redis_server.url)  # fmt: skip
    cmd = [sys.executable, "-m", "cachekit", "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_port(port)
        yield port
    finally:
        _stop(proc)


@pytest.fixture
def prometheus(tmp_path: Path, served: int) -> Iterator[str]:
    """A Prometheus server scraping the service every second; its base URL."""
    binary = _prometheus()
    if binary is None:
        pytest.skip(
            "needs Debian's prometheus: .ci/run installs it when run as root "
            "(apt-get install prometheus)"
        )
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: cachekit\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{served}']\n"
    )
    cmd = [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
           f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def _query(http: httpx.Client, promql: str) -> float | None:
    """The value of a PromQL expression that yields one sample, or None when it yields none."""
    response = http.get("/api/v1/query", params={"query": promql})
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_hit_counter_equal_to_the_workload(
    served: int, prometheus: str
) -> None:
    """Acceptance: after 37 hits and 11 misses through the HTTP API, a PromQL query over
    Prometheus's API gives 37 for the get hit counter and 11 for the misses, from a scrape
    that started after the workload."""
    with httpx.Client(base_url=f"http://127.0.0.1:{served}", timeout=10) as service:
        assert service.put("/v1/cache/app/present", json={"v": 1}).status_code == 204
        for _ in range(HITS):
            assert service.get("/v1/cache/app/present").status_code == 200
        for i in range(MISSES):
            assert service.get(f"/v1/cache/app/absent{i}").status_code == 404
    finished = time.time()
    with httpx.Client(base_url=prometheus, timeout=10) as api:
        deadline = time.monotonic() + 90  # a bound on waiting, not a measured duration
        scraped_at = None
        while time.monotonic() < deadline:
            scraped_at = _query(api, f"max(timestamp({HIT_SERIES}))")
            if scraped_at is not None and scraped_at > finished:
                break
            time.sleep(0.5)
        else:
            targets = api.get("/api/v1/targets").json()
            pytest.fail(f"no scrape after the workload (last at {scraped_at}): {targets}")
        assert _query(api, f"sum({HIT_SERIES})") == HITS
        assert _query(api, f"sum({MISS_SERIES})") == MISSES
        assert _query(api, 'up{job="cachekit"}') == 1
