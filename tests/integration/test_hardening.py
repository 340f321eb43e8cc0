"""The service's hardening against real sockets, servers and a browser: thousands of
connections that never finish their headers are closed by the header timeout while
``/livez`` keeps answering; pathological invalidation patterns leave ``/livez`` answering;
a flood of ``/readyz`` costs a handful of Redis writes; ``/docs`` renders Swagger UI in
headless Chromium with no network but the service's own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis

from cachekit.testing import running_app
from cachekit.web.server import create_app
from tests.helpers_net import free_port
from tests.http_helpers import settings, wait_for_port
from tests.redis_server import RedisServer

FIGURES: dict[str, float] = {}
SLOW_CONNECTIONS = 3000
"""Connections that never finish their headers (the issue's number; 2 cores manage it)."""


def serve(tmp_path: Path, **leaves: str) -> tuple[subprocess.Popen[bytes], int]:
    """``cachekit serve`` on the testing preset with ``section__leaf`` settings."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHEKIT_")}
    env.update({"CACHEKIT_SETTINGS_ROOT": str(tmp_path), "CACHEKIT_ENV": "testing"})
    env.update({f"CACHEKIT_{k.upper()}": v for k, v in leaves.items()})
    cmd = [sys.executable, "-m", "cachekit.cli.main", "serve", "--port", str(port),
           "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for_port(port)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a served process (SIGINT, then wait)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_HEARTBEAT = """
import json, sys, time, httpx
url, latencies, failures = sys.argv[1], [], 0
sys.stdout.write("ready\\n"); sys.stdout.flush()
while not sys.stdin.readline().strip() == "stop":
    started = time.perf_counter()
    try:
        ok = httpx.get(url, timeout=10).status_code == 200
    except httpx.HTTPError:
        ok = False
    latencies.append(time.perf_counter() - started)
    failures += not ok
print(json.dumps({"latencies": latencies, "failures": failures}))
"""


class Heartbeat:
    """Polls ``/livez`` on fresh connections every 20 ms from a process of its own (so the
    test's own work does not slow the measurement); keeps every latency."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def _tick(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        while not self._stop.wait(0.02):
            self._proc.stdin.write("beat\n")
            self._proc.stdin.flush()

    def __enter__(self) -> Heartbeat:
        url = f"http://127.0.0.1:{self.port}/livez"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _HEARTBEAT, url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._proc.stdout is not None and self._proc.stdout.readline() == "ready\n"
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join(timeout=15)
        assert self._proc is not None
        out, _ = self._proc.communicate("stop\n", timeout=30)
        result = json.loads(out.strip().splitlines()[-1])
        self.latencies, self.failures = result["latencies"], result["failures"]


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _slow_clients(port: int, count: int) -> list[Connection]:
    """``count`` connections that send half a request's headers and then nothing."""
    connections = []
    for n in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: " + str(n).encode())
        connections.append((reader, writer))
        if n % 200 == 199:
            await asyncio.sleep(0)  # let the accept queue drain
    return connections


async def _close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()
    for _, writer in connections:
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _closed(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the server closes the connection within ``within`` seconds, unanswered."""
    try:
        return await asyncio.wait_for(reader.read(1024), within) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


def test_slow_header_connections_are_closed_while_livez_answers(tmp_path: Path) -> None:
    """3,000 connections that never finish their headers are all closed by the server
    after the header timeout, and ``/livez`` answers on new connections throughout."""
    proc, port = serve(tmp_path, server__header_timeout="3.0")
    try:
        with Heartbeat(port) as beat:

            async def attack() -> tuple[int, float]:
                started = time.perf_counter()
                connections = await _slow_clients(port, SLOW_CONNECTIONS)
                opened = time.perf_counter() - started
                try:
                    results = await asyncio.gather(*(_closed(r, 20.0) for r, _ in connections))
                finally:
                    await _close_all(connections)
                return sum(results), opened

            closed, opened = asyncio.run(attack())
        latencies = sorted(beat.latencies)
    finally:
        stop(proc)
    FIGURES["slow connections closed"] = closed
    FIGURES["slow connections opened in (s)"] = opened
    FIGURES["/livez p100 during the attack (ms)"] = latencies[-1] * 1000
    FIGURES["/livez p50 during the attack (ms)"] = latencies[len(latencies) // 2] * 1000
    assert closed == SLOW_CONNECTIONS
    assert beat.failures == 0 and len(latencies) >= 10
    assert latencies[-1] < 5.0  # safety net only: the figure above is the measurement


def test_slow_body_connection_is_closed_after_the_body_timeout(tmp_path: Path) -> None:
    """A request whose body trickles in slower than the body timeout is cut off, and the
    write never lands."""
    proc, port = serve(tmp_path, server__body_timeout="1.0")

    async def trickle() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"PUT /v1/cache/n/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        try:
            for _ in range(10):
                with contextlib.suppress(ConnectionError):
                    writer.write(b"1")
                    await writer.drain()
                if await _closed(reader, 0.3):
                    return True
            return False
        finally:
            await _close_all([(reader, writer)])

    try:
        assert asyncio.run(trickle())
        assert httpx.get(f"http://127.0.0.1:{port}/v1/cache/n/slow").status_code == 404
    finally:
        stop(proc)


def test_pathological_invalidation_keeps_livez_answering(tmp_path: Path) -> None:
    """The issue's patterns over 10,000 keys of 250 characters: each invalidation
    returns quickly and ``/livez`` keeps answering meanwhile."""
    proc, port = serve(tmp_path, memory__max_entries="20000")
    keys = [f"{'a' * 245}{i:05d}" for i in range(10_000)]
    try:
        base = f"http://127.0.0.1:{port}"

        def fill(part: list[str]) -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                for key in part:
                    assert http.put(f"/v1/cache/n/{key}", content=b"1").status_code == 204

        threads = [threading.Thread(target=fill, args=(keys[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        timings = {}
        with Heartbeat(port) as beat, httpx.Client(base_url=base, timeout=60) as http:
            time.sleep(0.2)
            for pattern in ("*a*a*a*a*ab", "*?*?*?*?*?*?!", "n/" + "*a" * 40 + "b"):
                started = time.perf_counter()
                response = http.post("/cache/invalidate", json={"pattern": pattern})
                timings[pattern] = time.perf_counter() - started
                assert response.status_code == 200 and response.json()["removed"] == 0
            time.sleep(0.2)
            removed = http.post("/cache/invalidate", json={"pattern": "n/*a*a*a09999"}).json()
            head = http.head(f"/v1/cache/n/{keys[0]}")  # HEAD over a real socket (h11)
        assert removed["removed"] == 1
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"]
    finally:
        stop(proc)
    FIGURES["slowest pathological invalidation (ms)"] = max(timings.values()) * 1000
    FIGURES["/livez p100 during invalidations (ms)"] = max(beat.latencies) * 1000
    assert beat.failures == 0
    assert max(timings.values()) < 5.0 and max(beat.latencies) < 5.0  # safety nets only


async def test_readyz_flood_costs_a_handful_of_redis_writes(redis_server: RedisServer) -> None:
    """Acceptance: 1,000 ``/readyz`` requests against a stack on a real Redis cause at most
    a handful of Redis writes (each probe is one), not one per request."""
    config = settings(redis__url=redis_server.url, server__readiness_interval="1.0").config
    raw = redis.Redis(port=redis_server.port)

    def writes() -> int:
        stats = raw.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("set", "setex"))

    async with running_app(create_app(config=config)) as client:
        before = writes()
        started = time.perf_counter()
        for _ in range(10):
            statuses = await asyncio.gather(*(client.get("/readyz") for _ in range(100)))
            assert {r.status_code for r in statuses} == {200}
        elapsed = time.perf_counter() - started
        after = writes()
    raw.close()
    FIGURES["redis writes for 1,000 /readyz"] = after - before
    # One probe per started second of the flood, plus one at the edge.
    assert after - before <= int(elapsed) + 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (.ci/run installs it)")
@pytest.mark.parametrize(("path", "marker"), [("/docs", "swagger-ui"), ("/redoc", "redoc")])
def test_docs_render_in_headless_chromium_without_network(
    tmp_path: Path, path: str, marker: str
) -> None:
    """With every host but the service's own unresolvable, headless Chromium renders the
    docs page: the DOM holds the rendered UI and the operations, the screenshot is not blank."""
    chromium = _chromium()
    assert chromium is not None
    proc, port = serve(tmp_path)
    shot = tmp_path / "docs.png"
    flags = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tempfile.mkdtemp(prefix='ck-chromium-')}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--window-size=1280,1600", "--virtual-time-budget=10000",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}{path}"
    try:
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True,
                             timeout=120).stdout  # fmt: skip
        subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    finally:
        stop(proc)
    assert marker in dom
    assert "/v1/cache/{namespace}/{key}" in dom  # the operations were rendered from the schema
    assert shot.is_file()
    FIGURES[f"screenshot of {path} (bytes)"] = shot.stat().st_size
    assert shot.stat().st_size > 20_000  # a blank 1280x1600 page compresses to ~5 KB
