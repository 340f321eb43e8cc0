"""``cachekit serve`` against a real redis-server (killed, required, absent at start), and
the command itself run as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from cachekit import resolve
from cachekit.web.server import create_app
from tests.http_helpers import settings, wait_for_port
from tests.redis_server import RedisServer, free_port

# -- against a real Redis ---------------------------------------------------------------


def redis_settings(server: RedisServer, **leaves: Any) -> Any:
    """Testing settings pointing at ``server`` with short timeouts."""
    return settings(
        redis__url=server.url,
        redis__connect_timeout="0.5",
        redis__socket_timeout="0.25",
        **leaves,
    )


async def test_redis_service_round_trips_through_redis(redis_server: RedisServer) -> None:
    """PUT over HTTP lands in Redis, where a Python stack on the same settings reads it."""
    config = redis_settings(redis_server)
    with TestClient(create_app(settings=config)) as client:
        assert client.put("/v1/cache/orders/42", json={"total": 10}).status_code == 204
        assert client.get("/readyz").json()["status"] == "ok"
    async with resolve(config.config) as cache:
        assert await cache.get("orders/42") == {"total": 10}


def test_redis_stopped_service_degrades_and_keeps_answering(redis_server: RedisServer) -> None:
    """With Redis killed, /readyz is 200 degraded and reads and writes still answer."""
    with TestClient(create_app(settings=redis_settings(redis_server))) as client:
        client.put("/v1/cache/n/before", json=1)
        redis_server.kill()
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert client.put("/v1/cache/n/during", json=2).status_code == 204
        assert client.get("/v1/cache/n/during").json() == 2
        assert client.get("/livez").status_code == 200


def test_redis_required_readyz_503_while_stopped(redis_server: RedisServer) -> None:
    """With server.require_redis, /readyz is 503 while Redis is down, 200 once it is back."""
    # /readyz answers from the last probe for readiness_interval: keep it short here.
    config = redis_settings(
        redis_server, server__require_redis="true", server__readiness_interval="0.05"
    )
    with TestClient(create_app(settings=config)) as client:
        assert client.get("/readyz").status_code == 200
        redis_server.kill()
        time.sleep(0.1)
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["status"] == "degraded"
        assert client.get("/livez").status_code == 200


def test_redis_absent_at_start_service_still_starts(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    """A service whose Redis is not running yet starts and answers degraded."""
    server = redis_server_factory(start=False)
    with TestClient(create_app(settings=redis_settings(server))) as client:
        assert client.get("/readyz").json()["status"] == "degraded"
        assert client.put("/v1/cache/n/k", json=1).status_code == 204


# -- `cachekit serve` as a process ------------------------------------------------------


def test_cli_serve_subprocess_put_get_readyz(tmp_path: Path) -> None:
    """``cachekit serve`` starts with no Redis; PUT then GET round-trips; /readyz is 200."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHEKIT_")}
    env["CACHEKIT_SETTINGS_ROOT"] = str(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "cachekit.cli.main",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.put("/v1/cache/users/42", content=b'{"name": "Ada"}').status_code == 204
            assert http.get("/v1/cache/users/42").json() == {"name": "Ada"}
            assert http.get("/readyz").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert b"server.token is not set" in output
