"""``cachekit serve --log-format json`` as a subprocess on a password-protected real Redis:
every line it writes is one JSON object, the banner names what is served and where, the
access lines carry the request id the response sent, and no secret reaches a line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.helpers_net import free_port
from tests.http_helpers import wait_for_port
from tests.redis_server import RedisServer

PASSWORD = "redis-pa55word-for-logs"
QUERY_SECRET = "query-token-value-for-logs"


def test_serve_json_logs_banner_request_ids_and_no_secrets(
    tmp_path: Path, redis_server_factory: Any
) -> None:
    """Acceptance: with ``--log-format json``, each line written parses as a JSON object;
    the banner gives environment, preset, stack, coherence and the service, ``/docs`` and
    ``/status`` URLs; each access line has the ``X-Request-ID`` of its response; neither
    the Redis password nor a secret query value appears anywhere."""
    server: RedisServer = redis_server_factory("--requirepass", PASSWORD)
    url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CACHEKIT_", "OTEL_"))}
    env.update(CACHEKIT_SETTINGS_ROOT=str(tmp_path), CACHEKIT_ENV="development",
               CACHEKIT_REDIS__URL=url)  # fmt: skip
    cmd = [sys.executable, "-m", "cachekit", "serve", "--port", str(port), "--log-format", "json"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    ids = []
    try:
        wait_for_port(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            put = http.put("/v1/cache/n/k", json=1, headers={"X-Request-ID": "caller-id-1"})
            assert put.status_code == 204
            get = http.get(f"/v1/cache/n/k?token={QUERY_SECRET}")
            assert get.status_code == 200
            ids = [put.headers["x-request-id"], get.headers["x-request-id"]]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    text = (out + err).decode()
    assert PASSWORD not in text and QUERY_SECRET not in text
    written = out.decode().splitlines() + err.decode().splitlines()  # access lines: stdout
    lines = [line for line in written if line.strip()]
    docs = [json.loads(line) for line in lines]  # every line is JSON
    assert all(isinstance(doc, dict) and {"time", "level", "logger", "message"} <= set(doc)
               for doc in docs)  # fmt: skip
    messages = "\n".join(doc["message"] for doc in docs if doc["logger"] == "cachekit.server")
    base = f"http://127.0.0.1:{port}"
    stack = "stack: Instrumented(ResilientCache(TieredCache(InMemoryCache, RedisBackend)))"
    for expected in ("environment development", "preset development", stack,
                     "memory tier coherence: tracking", f"standalone 127.0.0.1:{server.port}",
                     f"listening on {base} ", f"{base}/docs", f"{base}/status"):  # fmt: skip
        assert expected in messages, messages
    access = [doc for doc in docs if doc["logger"] == "uvicorn.access"]
    assert [(d["method"], d["status"], d["request_id"]) for d in access] == [
        ("PUT", 204, "caller-id-1"),
        ("GET", 200, ids[1]),
    ]
    assert ids[0] == "caller-id-1"
    assert access[1]["path"].startswith("/v1/cache/n/k?token=")
