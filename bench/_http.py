"""The HTTP benchmark (``--only http``): ``cachekit serve`` against a minimal Starlette app
and webdis, with one load generator (wrk), the same connections, the same keys, one run.

Each server runs in its own processes on 127.0.0.1; wrk (Debian package ``wrk``) sends
GETs of a hot set of 100 keys (and PUTs of them) over 64 connections from 2 threads. A
server or wrk that is not installed leaves its rows out, saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench._measure import Result, Settings
from tests.http_helpers import wait_for_port
from tests.redis_server import free_port

REPO = Path(__file__).resolve().parent.parent
KEYS = 100
VALUE = json.dumps({"name": "Ada Lovelace", "roles": ["admin", "author"], "visits": 42})
CONNECTIONS = 64

# A minimal Starlette app that returns the same JSON from a dict: the floor of what an
# ASGI service on uvicorn costs here.
STARLETTE_APP = '''
import json
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

store = {}

async def get(request):
    value = store.get(request.path_params["key"])
    if value is None:
        return Response(b'{"detail": "missing"}', status_code=404)
    return Response(value, media_type="application/json")

async def put(request):
    store[request.path_params["key"]] = await request.body()
    return Response(status_code=204)

app = Starlette(routes=[
    Route("/v1/cache/hot/{key}", get, methods=["GET"]),
    Route("/v1/cache/hot/{key}", put, methods=["PUT"]),
])
'''

GET_SCRIPT = '''
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("{prefix}%d{suffix}", counter % {keys}))
end
'''

PUT_SCRIPT = '''
counter = 0
wrk.method = "PUT"
wrk.body = [[{value}]]
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  return wrk.format(nil, string.format("{prefix}%d{suffix}", counter % {keys}))
end
'''


@contextmanager
def _process(cmd: list[str], port: int, env: dict[str, str], cwd: Path) -> Iterator[None]:
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        time.sleep(1.0)  # every worker up
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wrk(url: str, script: str, seconds: float, workdir: Path) -> float:
    """Requests per second wrk measured for ``script`` against ``url``."""
    path = workdir / f"script-{time.monotonic_ns()}.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "-s", str(path), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if found is None or (errors is not None and int(errors.group(1)) > 0):
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    return float(found.group(1))


def _fill(base: str, prefix: str, suffix: str, body: bytes, method: str = "PUT") -> None:
    for i in range(KEYS):
        request = urllib.request.Request(
            f"{base}{prefix}{i}{suffix}", data=body, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10):
            pass


def http(settings: Settings, redis_url: str, redis_port: int) -> list[Result]:
    """GET-hit and PUT throughput of ``cachekit serve`` (1 and 2 workers), a minimal
    Starlette app and webdis, all under the same wrk load."""
    if shutil.which("wrk") is None:
        print("  http: wrk is not installed (Debian package wrk): skipped", file=sys.stderr)
        return []
    seconds = 1.0 if settings.smoke else 5.0
    results: list[Result] = []
    workdir = Path(tempfile.mkdtemp(prefix="cachekit-bench-http-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHEKIT_")}
    env.update(
        {
            "CACHEKIT_SETTINGS_ROOT": str(workdir),
            "CACHEKIT_REDIS__URL": redis_url,
            "CACHEKIT_MEMORY__MAX_ENTRIES": "1000",
            "PYTHONPATH": str(REPO),
        }
    )
    prefix, body = "/v1/cache/hot/k", VALUE.encode()
    get_script = GET_SCRIPT.replace("{prefix}", prefix).replace("{suffix}", "")
    get_script = get_script.replace("{keys}", str(KEYS))
    put_script = PUT_SCRIPT.replace("{prefix}", prefix).replace("{suffix}", "")
    put_script = put_script.replace("{keys}", str(KEYS)).replace("{value}", VALUE)
    for workers in (1, 2):
        port = free_port()
        cmd = [sys.executable, "-m", "cachekit.cli.main", "serve", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
        with _process(cmd, port, env, workdir):
            base = f"http://127.0.0.1:{port}"
            _fill(base, prefix, "", body)
            name = f"cachekit serve, {workers} worker{'s' if workers > 1 else ''}"
            note = "memory tier in front of Redis, tracking, telemetry on"
            get = _wrk(base, get_script, seconds, workdir)
            put = _wrk(base, put_script, seconds, workdir)
            subject = workers == 1
            results.append(Result("http GET hit", name, get, unit="req/s", subject=subject,
                                  note=note))  # fmt: skip
            results.append(Result("http PUT", name, put, unit="req/s", subject=subject,
                                  note=note))  # fmt: skip
    app = workdir / "minimal_app.py"
    app.write_text(STARLETTE_APP)
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "minimal_app:app", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]  # fmt: skip
    with _process(cmd, port, env, workdir):
        base = f"http://127.0.0.1:{port}"
        _fill(base, prefix, "", body)
        note = "returns the same JSON from a dict, 1 worker"
        results.append(Result("http GET hit", "starlette minimal app", _wrk(base, get_script,
                              seconds, workdir), unit="req/s", note=note))  # fmt: skip
        results.append(Result("http PUT", "starlette minimal app", _wrk(base, put_script,
                              seconds, workdir), unit="req/s", note=note))  # fmt: skip
    if shutil.which("webdis") is not None:
        port = free_port()
        conf = workdir / "webdis.json"
        conf.write_text(json.dumps({
            "redis_host": "127.0.0.1", "redis_port": redis_port, "http_host": "127.0.0.1",
            "http_port": port, "threads": 2, "daemonize": False, "database": 0,
            "verbosity": 0, "logfile": str(workdir / "webdis.log"),
        }))  # fmt: skip
        with _process(["webdis", str(conf)], port, env, workdir):
            base = f"http://127.0.0.1:{port}"
            encoded = urllib.parse.quote(VALUE, safe="")
            for i in range(KEYS):
                url = f"{base}/SET/webdis:k{i}/{encoded}"
                with urllib.request.urlopen(url, timeout=10):
                    pass
            script = GET_SCRIPT.replace("{prefix}", "/GET/webdis:k").replace("{suffix}", "")
            script = script.replace("{keys}", str(KEYS))
            results.append(Result("http GET hit", "webdis", _wrk(base, script, seconds, workdir),
                                  unit="req/s", note="HTTP front for Redis (C)"))  # fmt: skip
    else:
        print("  http: webdis is not installed (Debian package webdis): no row", file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)
    return results
