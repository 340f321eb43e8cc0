"""``memory.max_bytes`` bounds the real memory of ``cachekit serve``: the process's resident
set, read from ``/proc/<pid>/statm``, grows by no more than the limit plus headroom however
large the values PUT into it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers_net import free_port
from tests.http_helpers import wait_for_port

MiB = 1024 * 1024
FIGURES: dict[str, float] = {}


def rss(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes."""
    resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """``cachekit serve`` (testing, memory only, 64 MiB tier, 2 MiB bodies); (pid, port)."""
    if not Path("/proc/self/statm").exists():
        pytest.skip("needs /proc to read a process's resident set")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHEKIT_")}
    env.update(
        {
            "CACHEKIT_SETTINGS_ROOT": str(tmp_path),
            "CACHEKIT_ENV": "testing",
            "CACHEKIT_MEMORY__MAX_BYTES": str(64 * MiB),
            "CACHEKIT_MEMORY__MAX_ENTRIES": "10000",
            "CACHEKIT_SERVER__MAX_BODY_BYTES": str(2 * MiB),
        }
    )
    cmd = [sys.executable, "-m", "cachekit.cli.main", "serve", "--port", str(port),
           "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        yield proc.pid, port
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)


def test_memory_bound_holds_for_many_large_flat_objects(service: tuple[int, int]) -> None:
    """120 PUTs of a ~1 MB flat JSON object (95,000 keys) into a 64 MiB memory tier grow
    the server's RSS by at most 100 MiB (the old tier grew it by ~880 MB)."""
    pid, port = service
    body = json.dumps({f"field{i:05d}": i for i in range(95_000)}).encode()
    assert 1_000_000 < len(body) < 2 * MiB
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        assert http.get("/livez").status_code == 200
        baseline = rss(pid)
        for n in range(120):
            assert http.put(f"/v1/cache/big/{n}", content=body).status_code == 204
        grown = rss(pid) - baseline
        stats = http.get("/cache/stats").json()
        assert http.get("/v1/cache/big/119").json()["field94999"] == 94_999
    memory = next(v for k, v in stats.items() if k.startswith("InMemoryCache"))
    FIGURES["rss growth after 120 x 1 MB PUTs (MiB)"] = grown / MiB
    assert memory["bytes"] <= 64 * MiB and memory["evictions"] > 0
    assert grown <= 100 * MiB, f"RSS grew by {grown / MiB:.1f} MiB"


def test_memory_bound_holds_for_lists_of_ints(service: tuple[int, int]) -> None:
    """Lists of ints (held at 8x the limit by the old tier) stay within the bound too."""
    pid, port = service
    body = json.dumps(list(range(10**6, 10**6 + 120_000))).encode()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        assert http.get("/livez").status_code == 200
        baseline = rss(pid)
        for n in range(120):
            assert http.put(f"/v1/cache/ints/{n}", content=body).status_code == 204
        grown = rss(pid) - baseline
    FIGURES["rss growth after 120 x int-list PUTs (MiB)"] = grown / MiB
    assert grown <= 100 * MiB, f"RSS grew by {grown / MiB:.1f} MiB"
