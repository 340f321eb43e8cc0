"""``cachekit stats`` against an HTTP service on a real socket (a standard-library server
answering ``/cache/stats``)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cachekit.cli.main import main as cli_main
from tests.helpers_telemetry import Pipeline, instrumented, workload


@pytest.fixture
def stats_service() -> Iterator[tuple[str, dict[str, Any]]]:
    """An HTTP service answering ``/cache/stats`` with whatever the test puts in the dict."""
    payload: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200 if self.path == "/cache/stats" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", payload
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


async def test_cli_stats_prints_a_running_services_analytics(
    untraced: Pipeline, stats_service: tuple[str, dict[str, Any]]
) -> None:
    """``cachekit stats --url`` prints hit rate, operations, invalidations and advice."""
    url, payload = stats_service
    cache = instrumented(untraced)
    await workload(cache)
    for _ in range(12):
        cache.monitor.record_invalidation("operation", "summarize", "operation:summarize", 0)
    payload.update(json.loads(json.dumps({"Instrumented": cache.get_stats(), "Other": {}})))
    out = io.StringIO()
    assert cli_main(["stats", "--url", url], out=out) == 0
    text = out.getvalue()
    assert "hit rate       50.0% of 8 lookups" in text
    assert "get_or_set" in text and "memory" in text
    assert "12 in the last hour" in text
    assert "dominant_pattern" not in text and "operation:summarize" in text
    assert "invalidations remove 0.00 keys on average" in text
    as_json = io.StringIO()
    assert cli_main(["stats", "--url", url, "--format", "json"], out=as_json) == 0
    assert json.loads(as_json.getvalue())["lookups"] == 8


def test_cli_stats_fails_clearly_without_a_service_or_a_monitor(
    stats_service: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """No service: exit 1 naming the URL; a service without a monitor: exit 1 saying so."""
    url, payload = stats_service
    payload["InMemoryCache"] = {"hits": 1}
    assert cli_main(["stats", "--url", url]) == 1
    assert "monitoring.enabled = false" in capsys.readouterr().err
    assert cli_main(["stats", "--url", "http://127.0.0.1:9", "--timeout", "2"]) == 1
    assert "no cachekit service answers at http://127.0.0.1:9" in capsys.readouterr().err
