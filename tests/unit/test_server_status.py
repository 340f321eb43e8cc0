"""``cachekit serve`` beyond the key/value API, in process: tags over HTTP, ``/metrics``,
the status page and ``/``, request ids and JSON log lines, the start-up banner, the hit
ratio history (real Redis, Prometheus, Chromium and OTLP are in tests/integration)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cachekit.testing import FakeClock
from cachekit.web.history import HitHistory
from cachekit.web.logs import JSONFormatter, RequestIdMiddleware, scrub
from cachekit.web.runtime import CacheRuntime
from cachekit.web.server import banner_lines, create_app
from cachekit.web.status import chart
from tests.http_helpers import bearer, settings

TOKEN = "s3cret-0123456789abcdefghijklmnopqrstuv"


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The service on the testing preset (memory only, open on loopback) with monitoring
    on, its metrics to its own Prometheus reader (``cachekit serve``'s default)."""
    app = create_app(settings=settings(monitoring__enabled="true"), environ={})
    with TestClient(app) as test_client:
        yield test_client


def workload(client: TestClient, *, hits: int, misses: int) -> None:
    """One PUT, then ``hits`` GETs of it and ``misses`` GETs of absent keys."""
    assert client.put("/v1/cache/w/present", json={"v": 1}).status_code == 204
    for _ in range(hits):
        assert client.get("/v1/cache/w/present").status_code == 200
    for i in range(misses):
        assert client.get(f"/v1/cache/w/absent{i}").status_code == 404


# -- tags -------------------------------------------------------------------------------


def test_tags_put_with_tags_then_invalidate_removes_only_tagged(client: TestClient) -> None:
    """``PUT ?tags=`` records the tags; ``POST /cache/invalidate {"tags"}`` removes every
    entry carrying one of them, and nothing else."""
    assert client.put("/v1/cache/n/a?tags=user:42,team:7", json=1).status_code == 204
    assert client.put("/v1/cache/n/b?tags=user:42", json=2).status_code == 204
    assert client.put("/v1/cache/n/c?tags=user:43", json=3).status_code == 204
    assert client.put("/v1/cache/n/d", json=4).status_code == 204
    response = client.post("/cache/invalidate", json={"tags": ["user:42"]})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "removed": 2, "operation": None, "pattern": None, "tags": ["user:42"]
    }
    assert [client.get(f"/v1/cache/n/{k}").status_code for k in "abcd"] == [404, 404, 200, 200]
    assert client.post("/cache/invalidate", json={"tags": ["team:7"]}).json()["removed"] == 0


def test_tags_too_many_is_422_naming_the_limit(client: TestClient) -> None:
    """More tags than an entry may carry is a 422 problem that says the limit and count."""
    tags = ",".join(f"t{i}" for i in range(40))
    response = client.put(f"/v1/cache/n/a?tags={tags}", json=1)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "at most 32 tags, got 40" in response.json()["detail"]
    assert client.get("/v1/cache/n/a").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"tags": []},
        {"tags": [""]},
        {"tags": ["x" * 251]},
        {"tags": ["a"], "pattern": "n/*"},
        {"tags": "user:42"},
    ],
)
def test_tags_invalidate_bad_bodies_are_422(client: TestClient, body: dict[str, Any]) -> None:
    """Empty lists, empty or overlong tags, a string for the list, or tags together with a
    pattern are refused with a 422 problem, never a 500."""
    response = client.post("/cache/invalidate", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_tags_invalidate_needs_admin_token_in_production() -> None:
    """Tag invalidation is an ops endpoint: without the admin token it is 401."""
    leaves = {"server__token": TOKEN, "redis__url": ""}
    app = create_app(settings=settings("production", **leaves), environ={})
    with TestClient(app) as client:
        assert client.post("/cache/invalidate", json={"tags": ["a"]}).status_code == 401
        ok = client.post("/cache/invalidate", json={"tags": ["a"]}, headers=bearer(TOKEN))
        assert ok.status_code == 200, ok.text


# -- /metrics ---------------------------------------------------------------------------


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of metric ``name`` in a Prometheus text exposition."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def test_metrics_counts_the_workload_hits_and_misses(client: TestClient) -> None:
    """``/metrics`` is the Prometheus text format; the get counter by result equals the
    workload's hits and misses."""
    workload(client, hits=7, misses=3)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text, "cachekit_operations_total")
    by_result: dict[str, float] = {}
    for labels, value in samples.items():
        if 'cache_operation="get"' in labels:
            result = re.search(r'cache_result="(\w+)"', labels)
            assert result is not None
            by_result[result.group(1)] = by_result.get(result.group(1), 0) + value
    assert by_result == {"hit": 7, "miss": 3}
    assert 'telemetry_sdk_language="python"' in response.text  # Resource.create


def test_metrics_404_when_metrics_go_elsewhere() -> None:
    """With ``OTEL_METRICS_EXPORTER=none`` there is nothing to scrape: a 404 problem that
    says which variable to set."""
    leaves = {"monitoring__enabled": "true"}
    app = create_app(settings=settings(**leaves), environ={"OTEL_METRICS_EXPORTER": "none"})
    with TestClient(app) as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert "OTEL_METRICS_EXPORTER=prometheus" in response.json()["detail"]


def test_metrics_text_helper_renders_a_stack() -> None:
    """``metrics_text(cache)`` renders the stack's registry for apps of any framework;
    None for a stack without a Prometheus reader."""
    from cachekit import resolve
    from cachekit.telemetry.scrape import metrics_text

    config = settings(monitoring__enabled="true").config
    body = metrics_text(resolve(config, environ={"OTEL_METRICS_EXPORTER": "prometheus"}))
    assert body is not None and b"cachekit_degraded" in body
    assert metrics_text(resolve(config, environ={})) is None


# -- / and /status ----------------------------------------------------------------------


def test_status_index_links_the_status_page(client: TestClient) -> None:
    """``/`` is HTML linking ``/status``, the docs and ``/metrics``."""
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    for href in ("/status", "/docs", "/metrics"):
        assert f'href="{href}"' in response.text


def test_status_page_shows_stack_hit_ratio_tags_and_refreshes(client: TestClient) -> None:
    """``/status`` is self-refreshing HTML without external assets: the stack, the live hit
    ratio of the workload, the chart, the per-operation and per-tag counts, AI savings."""
    workload(client, hits=3, misses=1)
    client.put("/v1/cache/n/t?tags=user:42", json=1)
    page = client.get("/status").text
    assert '<meta http-equiv="refresh"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from another host
    ratio = re.search(r'id="hit-ratio" data-hits="(\d+)" data-lookups="(\d+)">\s*([\d.]+)%', page)
    assert ratio is not None and ratio.groups() == ("3", "4", "75.0")
    assert "Instrumented(InMemoryCache)" in page
    assert '<p id="topology">none: memory tier only</p>' in page
    assert '<svg id="hit-ratio-chart"' in page
    assert "<td>user:42</td><td>1</td>" in page
    assert 'id="tokens-saved">0<' in page


def test_status_page_escapes_what_it_shows(client: TestClient) -> None:
    """A tag holding markup is shown as text, not run as markup."""
    client.put("/v1/cache/n/x?tags=<script>alert(1)</script>", json=1)
    page = client.get("/status").text
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_status_page_needs_admin_token_in_production() -> None:
    """``/status`` says what the ops endpoints say: it needs the admin token."""
    leaves = {"server__token": TOKEN, "redis__url": ""}
    app = create_app(settings=settings("production", **leaves), environ={})
    with TestClient(app) as client:
        assert client.get("/status").status_code == 401
        assert client.get("/status", headers=bearer(TOKEN)).status_code == 200
        assert client.get("/").status_code == 200  # the links are open


def test_status_chart_draws_points_and_says_when_empty() -> None:
    """The chart is an SVG polyline of the ratios (gaps skipped), or a note without any."""
    assert "no lookups yet" in chart([])
    svg = chart([(120.0, 0.5), (60.0, None), (0.0, 1.0)])
    points = re.search(r'points="([^"]+)"', svg)
    assert points is not None and points.group(1) == "0.0,60.0 560.0,0.0"


class _Counted:
    """A stack whose monitor reports the hits and misses a test sets."""

    def __init__(self) -> None:
        self.hits = self.misses = 0
        self.monitor = self

    def get_performance_stats(self) -> dict[str, Any]:
        tiers = {"memory": {"hit": self.hits, "miss": self.misses}}
        return {"operations": {"get": {"count": self.hits + self.misses, "tiers": tiers}}}


def test_history_ratio_per_interval_and_last_minute() -> None:
    """``HitHistory`` turns the monitor's cumulative counters into the ratio of each
    interval and of the last minute, by the clock it is given."""
    stack, clock = _Counted(), FakeClock()
    history = HitHistory(stack, interval=5.0, clock=clock)  # type: ignore[arg-type]
    history.sample()
    for hits, misses in ((1, 1), (4, 0), (0, 0)):
        stack.hits += hits
        stack.misses += misses
        clock.advance(30)
        assert history.sample() == (stack.hits, stack.hits + stack.misses)
    assert history.points() == [(60.0, 0.5), (30.0, 1.0), (0.0, None)]
    assert history.recent(60.0) == pytest.approx(4 / 4)
    assert history.recent(100.0) == pytest.approx(5 / 6)


# -- request ids, JSON logs, banner -----------------------------------------------------


def test_request_id_echoed_or_made(client: TestClient) -> None:
    """A caller's short ``X-Request-ID`` comes back; a missing or odd one is replaced."""
    given = client.get("/livez", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/livez", headers={"X-Request-ID": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["x-request-id"])


async def test_json_log_line_has_request_id_and_no_secrets() -> None:
    """A record logged during a request is one JSON object with its request id; URLs and
    secret-looking query values are masked."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    log = logging.getLogger("cachekit.test.jsonlog")
    log.addHandler(handler)
    log.propagate = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        log.warning("cannot reach redis://app:hunter2@db:6379/0 via /x?token=abc&n=1")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"x-request-id", b"req-7")]}
    await RequestIdMiddleware(app)(scope, None, send)  # type: ignore[arg-type]
    log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["request_id"] == "req-7" and doc["level"] == "warning"
    assert "hunter2" not in lines[0] and "token=abc" not in lines[0] and "n=1" in doc["message"]
    assert (b"x-request-id", b"req-7") in sent[0]["headers"]


def test_json_access_line_fields() -> None:
    """uvicorn's access records become ``method``, ``path`` (scrubbed), ``status`` fields."""
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/v1/cache/n/k?password=pw", "1.1", 200), None,
    )  # fmt: skip
    doc = json.loads(JSONFormatter().format(record))
    assert doc["method"] == "GET" and doc["status"] == 200 and doc["client"] == "127.0.0.1:5"
    assert "pw" not in doc["path"] and doc["path"].startswith("/v1/cache/n/k?password=")


def test_scrub_masks_url_passwords() -> None:
    """``scrub`` masks a URL's password and keeps the rest readable."""
    text = scrub("connect rediss://u:topsecret@h:6380/1 failed")
    assert "topsecret" not in text and "h:6380" in text


def test_banner_names_environment_stack_coherence_and_urls() -> None:
    """The start-up banner says environment, preset, stack, coherence, and the service's,
    docs' and status page's URLs."""
    config = settings(server__port="8123").config
    runtime = CacheRuntime.build(config=config)
    text = "\n".join(banner_lines(runtime))
    assert "environment testing" in text and "preset testing" in text
    assert "stack: " in text and "coherence: none needed (no Redis)" in text
    for url in ("http://127.0.0.1:8123 ", "/docs", "http://127.0.0.1:8123/status"):
        assert url in text
