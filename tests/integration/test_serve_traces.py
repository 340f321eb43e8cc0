"""``cachekit serve`` traced end to end: the command runs as a subprocess on a real Redis,
exporting over OTLP/HTTP to a receiver inside the test. A request carrying a
``traceparent`` yields one trace: the SERVER span continues the caller's, the cache span
is its child and the Redis CLIENT spans are beneath that."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.helpers_net import free_port
from tests.http_helpers import wait_for_port
from tests.integration.test_otlp_e2e import Received, _attrs, http_receiver  # noqa: F401
from tests.redis_server import RedisServer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SERVER = 2  # opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER
CLIENT = 3


def _serve(tmp_path: Path, redis_url: str, endpoint: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CACHEKIT_", "OTEL_"))}
    env.update(
        CACHEKIT_SETTINGS_ROOT=str(tmp_path),
        CACHEKIT_ENV="development",
        CACHEKIT_REDIS__URL=redis_url,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_SERVICE_NAME="cachekit-serve-e2e",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
    )
    cmd = [sys.executable, "-m", "cachekit", "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    wait_for_port(port)
    return proc, port


def _stop(proc: subprocess.Popen[bytes]) -> str:
    """SIGINT (the stack's own providers flush at shutdown); its stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode(errors="replace")


def _by_id(received: Received) -> dict[bytes, Any]:
    return {span.span_id: span for span in received.spans()}


def test_serve_request_with_traceparent_is_one_trace_under_the_server_span(
    tmp_path: Path, redis_server: RedisServer, http_receiver: tuple[str, Received]  # noqa: F811
) -> None:
    """Acceptance: a GET with a ``traceparent`` gives one trace whose root here is the
    SERVER span (its parent the caller's span), with ``cachekit.get`` beneath it and the
    Redis CLIENT span beneath that; the resource carries ``telemetry.sdk.language``."""
    endpoint, received = http_receiver
    proc, port = _serve(tmp_path, redis_server.url, endpoint)
    traceparent = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            response = http.get("/v1/cache/n/absent", headers={"traceparent": traceparent})
            assert response.status_code == 404
            untraced = http.put("/v1/cache/n/other", json=1)  # a trace of its own
            assert untraced.status_code == 204
    finally:
        err = _stop(proc)
    spans = _by_id(received)
    assert spans, f"no span reached the receiver; serve said: {err[-2000:]}"
    trace = {sid: s for sid, s in spans.items() if s.trace_id.hex() == TRACE_ID}
    roots = [s for s in trace.values() if s.parent_span_id not in trace]
    assert [(r.name, r.kind, r.parent_span_id.hex()) for r in roots] == [
        ("GET /v1/cache/{namespace}/{key}", SERVER, CALLER_SPAN)
    ]
    server = roots[0]
    attributes = _attrs(server.attributes)  # old or new HTTP conventions, whichever is set
    assert attributes.get("http.response.status_code", attributes.get("http.status_code")) == 404

    def ancestors(span: Any) -> list[str]:
        chain = []
        while span.parent_span_id in trace:
            span = trace[span.parent_span_id]
            chain.append(span.name)
        return chain

    gets = [s for s in trace.values() if s.name == "cachekit.get"]
    assert len(gets) == 1 and ancestors(gets[0]) == [server.name]
    redis_spans = [s for s in trace.values() if s.kind == CLIENT]
    assert redis_spans, [s.name for s in trace.values()]
    for span in redis_spans:
        assert ancestors(span)[-2:] == ["cachekit.get", server.name]
        assert _attrs(span.attributes)["db.system.name"] == "redis"
    # The PUT was not part of the caller's trace: it is a trace of its own, rooted too.
    put_roots = [s for s in spans.values() if s.name == "PUT /v1/cache/{namespace}/{key}"]
    assert len(put_roots) == 1 and put_roots[0].trace_id.hex() != TRACE_ID
    resources = [_attrs(rs.resource.attributes) for r in received.traces for rs in r.resource_spans]
    assert {res.get("telemetry.sdk.language") for res in resources} == {"python"}
    assert {res.get("service.name") for res in resources} == {"cachekit-serve-e2e"}
