"""End to end: a resolved stack exports metrics, spans and alert records to a real OTLP
receiver started inside the test (OTLP/HTTP on the standard library's HTTP server, and
OTLP/gRPC on a grpcio servicer). Exporters report success even when nothing arrived, so
every assertion is on what the receiver decoded.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from cachekit import CacheConfig, CacheConfigBuilder, InMemoryCache, resolve
from cachekit.layers.wrapper import stack_layers
from tests.redis_server import RedisServer

SECRET_HEADER = "x-api-key"
SECRET_VALUE = "e2e-secret-token"


# -- the receiver -----------------------------------------------------------------------
def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attrs(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


class Received:
    """What an OTLP receiver decoded, per signal, plus the request headers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.traces: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.logs: list[logs_service_pb2.ExportLogsServiceRequest] = []
        self.headers: list[dict[str, str]] = []

    def add(self, signal: str, message: Any, headers: dict[str, str]) -> None:
        with self.lock:
            getattr(self, signal).append(message)
            self.headers.append(headers)

    def empty(self) -> bool:
        return not (self.metrics or self.traces or self.logs)

    def resources(self) -> list[dict[str, Any]]:
        out = [
            _attrs(rm.resource.attributes) for req in self.metrics for rm in req.resource_metrics
        ]
        out += [_attrs(rs.resource.attributes) for req in self.traces for rs in req.resource_spans]
        return out

    def points(self, name: str) -> list[tuple[str, dict[str, Any], Any]]:
        """``(kind, attributes, point)`` of every data point of metric ``name``, in order."""
        out = []
        for req in self.metrics:
            for rm in req.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name != name:
                            continue
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            out.append((kind, _attrs(point.attributes), point))
        return out

    def latest(self, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        """The last point of ``name`` per attribute set (cumulative points grow)."""
        return {tuple(sorted(attrs.items())): point for _, attrs, point in self.points(name)}

    def spans(self) -> list[Any]:
        return [
            span
            for req in self.traces
            for rs in req.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def log_records(self) -> list[Any]:
        return [
            record
            for req in self.logs
            for rl in req.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]


_HTTP_KINDS = {
    "/v1/metrics": (
        "metrics",
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
    "/v1/traces": (
        "traces",
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    ),
    "/v1/logs": (
        "logs",
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
    ),
}


class _OTLPHandler(BaseHTTPRequestHandler):
    received: Received

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        kind = _HTTP_KINDS.get(self.path)
        if kind is None:
            self.send_error(404)
            return
        signal, request_type, response_type = kind
        message = request_type()
        message.ParseFromString(body)
        self.received.add(signal, message, {k.lower(): v for k, v in self.headers.items()})
        payload = response_type().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on what arrived, not on access logs."""


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, Received]]:
    """An OTLP/HTTP receiver on a free port: ``(endpoint, received)``."""
    received = Received()
    handler = type("Handler", (_OTLPHandler,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: Any) -> Any:
        self.received.add("metrics", request, dict(context.invocation_metadata()))
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: Any) -> Any:
        self.received.add("traces", request, dict(context.invocation_metadata()))
        return trace_service_pb2.ExportTraceServiceResponse()


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: Any) -> Any:
        self.received.add("logs", request, dict(context.invocation_metadata()))
        return logs_service_pb2.ExportLogsServiceResponse()


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    """An OTLP/gRPC receiver on a free port: ``(endpoint, received)``."""
    received = Received()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(received), server)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(received), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(received), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"http://127.0.0.1:{port}", received
    server.stop(grace=None).wait(5)


# -- helpers ----------------------------------------------------------------------------
def config(preset: str = "development", **dotted: Any) -> CacheConfig:
    return CacheConfigBuilder().with_preset(preset).with_overrides(dotted).build()


def otel_env(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "cachekit-e2e",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=e2e,team=cache",
        "OTEL_EXPORTER_OTLP_HEADERS": f"{SECRET_HEADER}={SECRET_VALUE}",
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",  # only the final export on aclose
        **extra,
    }


async def slow_loader() -> dict[str, int]:
    await asyncio.sleep(0.08)
    return {"answer": 42}


def operations(received: Received) -> dict[tuple[str, str, str], int]:
    """``(operation, result, tier) -> value`` of the latest ``cachekit.operations`` points."""
    out = {}
    for _, point in received.latest("cachekit.operations").items():
        attrs = _attrs(point.attributes)
        out[(attrs["cache.operation"], attrs["cache.result"], attrs["cache.tier"])] = point.as_int
    return out


def assert_no_user_text(received: Received, *texts: str) -> None:
    """No key or value of the workload appears in any exported attribute or body."""
    blobs = [req.SerializeToString() for req in received.metrics + received.traces + received.logs]
    for text in texts:
        assert all(text.encode() not in blob for blob in blobs), text


# -- the tests --------------------------------------------------------------------------
async def test_otlp_http_receiver_gets_counters_histogram_spans_and_slow_alert(
    http_receiver: tuple[str, Received],
) -> None:
    """Hits, misses and a slow loader reach an OTLP/HTTP receiver as counters that match
    the workload, a duration histogram, one span per call and a slow-operation record."""
    endpoint, received = http_receiver
    cache = resolve(config(), environ=otel_env(endpoint))
    assert cache.monitor is not None
    async with cache:
        await cache.set("user:alice", {"plan": "gold"})
        for _ in range(3):
            assert await cache.get("user:alice") == {"plan": "gold"}
        assert await cache.get("user:bob") is None
        assert await cache.get("user:carol") is None
        assert await cache.get_or_set("report:slow", slow_loader) == {"answer": 42}
    assert not received.empty()

    counts = operations(received)
    assert counts[("get", "hit", "memory")] == 3
    assert counts[("get", "miss", "memory")] == 2
    assert counts[("get_or_set", "miss", "memory")] == 1
    assert counts[("set", "ok", "memory")] == 1
    kind, _, _ = received.points("cachekit.operations")[0]
    assert kind == "sum"

    durations = {
        _attrs(p.attributes)["cache.operation"]: p
        for p in received.latest("cachekit.operation.duration").values()
    }
    assert durations["get_or_set"].count == 1
    assert durations["get_or_set"].sum >= 0.08
    assert received.points("cachekit.operation.duration")[0][0] == "histogram"

    spans = received.spans()
    names = [s.name for s in spans]
    assert names.count("cachekit.get") == 5
    assert names.count("cachekit.set") == 1
    assert names.count("cachekit.get_or_set") == 1
    (parent,) = [s for s in spans if s.name == "cachekit.get_or_set"]
    (load,) = [s for s in spans if s.name == "cachekit.load"]
    assert load.parent_span_id == parent.span_id
    assert _attrs(parent.attributes)["cache.hit"] is False
    hits = [_attrs(s.attributes)["cache.hit"] for s in spans if s.name == "cachekit.get"]
    assert sorted(hits) == [False, False, True, True, True]
    assert all(
        _attrs(s.attributes)["cache.tier"] == "memory" for s in spans if s.name != "cachekit.load"
    )

    records = received.log_records()
    slow = [r for r in records if _attrs(r.attributes).get("cache.alert.rule") == "slow_operation"]
    assert len(slow) == 1
    assert slow[0].severity_text == "WARN"
    assert slow[0].severity_number == 13  # SEVERITY_NUMBER_WARN
    assert "get_or_set" in slow[0].body.string_value
    assert _attrs(slow[0].attributes)["cache.alert.scope"] == "get_or_set"

    alerts = received.latest("cachekit.alerts")
    assert [p.as_int for p in alerts.values()] == [1]

    resource = received.resources()[0]
    assert resource["service.name"] == "cachekit-e2e"
    assert resource["deployment.environment"] == "e2e"
    assert all(h.get(SECRET_HEADER) == SECRET_VALUE for h in received.headers)
    assert_no_user_text(received, "alice", "bob", "carol", "report:slow", "gold", SECRET_VALUE)


async def test_otlp_grpc_receiver_gets_redis_spans_and_tiers(
    grpc_receiver: tuple[str, Received], redis_server: RedisServer
) -> None:
    """Chosen by ``monitoring.otlp_protocol = grpc``, a tiered stack exports Redis CLIENT
    spans with the database conventions, and counts hits by the tier that answered."""
    endpoint, received = grpc_receiver
    settings = config(
        "simple",
        **{
            "redis.url": redis_server.url,
            "monitoring.otlp_protocol": "grpc",
            "compression.threshold": 100,
            # one process: the copy of its own write stays (tracking would drop it when
            # Redis reports the write, and the memory hit below would go to Redis)
            "memory.coherence": "local",
        },
    )
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_METRIC_EXPORT_INTERVAL": "600000"}
    cache = resolve(settings, environ=env)
    async with cache:
        await cache.set("order:1", {"items": ["widget"] * 200})
        assert await cache.get("order:1") is not None  # memory answers
        memory = next(layer for layer in stack_layers(cache) if isinstance(layer, InMemoryCache))
        await memory.clear()
        assert await cache.get("order:1") is not None  # Redis answers
        assert await cache.get("order:2") is None  # Redis misses
    assert not received.empty()

    counts = operations(received)
    assert counts[("get", "hit", "memory")] == 1
    assert counts[("get", "hit", "redis")] == 1
    assert counts[("get", "miss", "redis")] == 1
    assert counts[("set", "ok", "redis")] == 1

    redis_spans = [s for s in received.spans() if s.kind == 3]  # SPAN_KIND_CLIENT
    assert redis_spans
    for span in redis_spans:
        attrs = _attrs(span.attributes)
        assert attrs["db.system.name"] == "redis"
        assert attrs["server.address"] == "127.0.0.1"
        assert attrs["server.port"] == redis_server.port
        assert attrs["db.namespace"] == "0"
        assert span.name == attrs["db.operation.name"]
        assert "db.query.text" not in attrs
    names = {s.name for s in redis_spans}
    assert "SET" in names
    by_id = {s.span_id: s for s in received.spans()}
    calls = [s for s in redis_spans if s.name != "PING"]  # connect() pings at the root
    assert all(by_id[s.parent_span_id].name.startswith("cachekit.") for s in calls)

    saved = received.latest("cachekit.compression.saved")
    assert next(p.as_int for p in saved.values()) > 0
    ratios = list(received.latest("cachekit.compression.ratio").values())
    assert ratios[0].count == 1 and ratios[0].sum < 0.5
    assert_no_user_text(received, "order:1", "order:2", "widget")


async def test_otel_sdk_disabled_exports_nothing_and_cache_works(
    http_receiver: tuple[str, Received],
) -> None:
    """With ``OTEL_SDK_DISABLED=true`` nothing reaches the receiver, the cache still
    serves, and the monitor still counts in process."""
    endpoint, received = http_receiver
    cache = resolve(config(), environ=otel_env(endpoint, OTEL_SDK_DISABLED="true"))
    assert cache.monitor is not None
    async with cache:
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
        assert await cache.get_or_set("slow", slow_loader) == {"answer": 42}
    await asyncio.sleep(0.2)
    assert received.empty()
    stats = cache.monitor.get_performance_stats()
    assert stats["lookups"] == 2
    assert [a["rule"] for a in stats["alerts"]["recent"]] == ["slow_operation"]


async def test_otlp_http_env_protocol_wins_over_config(
    http_receiver: tuple[str, Received],
) -> None:
    """``OTEL_EXPORTER_OTLP_PROTOCOL`` overrides ``monitoring.otlp_protocol``."""
    endpoint, received = http_receiver
    env = otel_env(endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    cache = resolve(config(**{"monitoring.otlp_protocol": "grpc"}), environ=env)
    async with cache:
        await cache.set("k", "v")
    assert operations(received)[("set", "ok", "memory")] == 1
