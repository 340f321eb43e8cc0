"""Secrets never leave: a canary set through every layer appears in nothing cachekit emits,
on the paths that talk to a real redis-server.

Canary secrets go in through the secrets file, environment variables and URL userinfo
(passwords and signing keys). Every code path then runs with DEBUG logging: connecting to
a Redis that refuses the password and to a port where nothing listens (strict and
degraded), a successful session, ``cachekit check``, health reports, telemetry (spans,
metrics, logs), the security report, and the str/repr of configs, caches, clients and
exceptions with their whole chain. The test asserts that no canary occurs in anything
captured. Settings validation errors and the CLI are in tests/unit/test_canary.py.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest

from cachekit import (
    CacheError,
    RedisCacheSecurityManager,
    resolve,
)
from cachekit.cli.check import run_check
from cachekit.config.masking import mask_tree
from cachekit.config.settings import load_config, resolve_settings
from cachekit.protocol import CacheInterface
from tests.helpers_canary import (
    FILE_KEY,
    FILE_PASSWORD,
    ODD_PASSWORD,
    QUERY_PASSWORD,
    URL_PASSWORD,
    Capture,
    layers,
)
from tests.redis_server import RedisServer, free_port

SERVER_PASSWORD = "the-real-server-password-42"


@pytest.fixture
def redis_with_password(redis_server_factory: Any) -> RedisServer:
    """A redis-server that wants a password the canaries are not."""
    server: RedisServer = redis_server_factory("--requirepass", SERVER_PASSWORD)
    return server


def stack_objects(cache: CacheInterface) -> list[Any]:
    """Every layer of a stack, and the Redis client where there is one."""
    out: list[Any] = []
    layer: Any = cache
    while layer is not None:
        out.append(layer)
        for attr in ("_client", "client_", "sealed", "codec", "memory", "breaker"):
            if getattr(layer, attr, None) is not None:
                out.append(getattr(layer, attr))
        far = getattr(layer, "far", None)
        if far is not None:
            out.append(far)
            out.append(getattr(far, "_client", None))
        layer = getattr(layer, "inner", None)
    return out


async def drive(capture: Capture, environ: dict[str, str], root: Path) -> None:
    """Resolve, connect (errors captured), use, report health, close."""
    resolved = resolve_settings(environ=environ, root=root)
    config = resolved.config
    capture.add(
        resolved, config, config.redis, config.security, mask_tree(config.to_dict()),
        RedisCacheSecurityManager(config),
        RedisCacheSecurityManager(config).get_security_status(),
        RedisCacheSecurityManager(config).generate_security_report(),
    )
    cache = resolve(config)
    try:
        try:
            capture.add(await cache.connect())
        except CacheError as exc:
            capture.add(exc)
        for call in (
            lambda: cache.set("k", {"v": 1}),
            lambda: cache.get("k"),
            lambda: cache.get_many(["k", "x"]),
            lambda: cache.delete("k"),
        ):
            try:
                capture.add(await call())
            except CacheError as exc:
                capture.add(exc)
        health = await cache.health()
        capture.add(health, health.to_dict())
        capture.add(*stack_objects(cache))
        out = io.StringIO()
        capture.add(await run_check(config, out), out.getvalue())
    finally:
        await cache.aclose()


@pytest.mark.parametrize("strict", [True, False])
async def test_canary_never_leaves_connection_paths(
    root: Path,
    redis_with_password: RedisServer,
    capture: Capture,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    strict: bool,
) -> None:
    """Refused password, closed port, URL userinfo, query-string password, raw ``/ # @`` in
    the password: no canary in logs, errors or reprs."""
    caplog.set_level(logging.DEBUG)
    port = redis_with_password.port
    urls = [
        f"redis://127.0.0.1:{port}/0",  # password from the secrets file: refused
        f"redis://canary:{URL_PASSWORD}@127.0.0.1:{port}/0",  # URL userinfo: refused
        f"redis://canary:{URL_PASSWORD}@127.0.0.1:{free_port()}/0",  # nothing listens
        f"redis://127.0.0.1:{port}/0?password={QUERY_PASSWORD}",  # query: refused
        f"redis://127.0.0.1:{free_port()}/0?username=canary&password={QUERY_PASSWORD}",
        f"redis://canary:{ODD_PASSWORD}@127.0.0.1:{port}/0",  # odd characters: refused
    ]
    for url in urls:
        environ = layers(root, url, strict=strict)
        if "@" in url or "password=" in url:
            (root / ".secrets.toml").write_text(
                f'[default.security]\nsigning_keys = ["{FILE_KEY}"]\n'
            )
        await drive(capture, environ, root)
    environ = layers(root, f"redis://127.0.0.1:{port}/0", strict=strict, env_password=True)
    await drive(capture, environ, root)
    assert any("authentication" in t for t in capture.texts)  # the paths did run
    assert any("Connection refused" in t or "connecting" in t for t in capture.texts)
    captured = capsys.readouterr()
    capture.add(caplog.text, captured.out, captured.err)
    capture.add(*[r.getMessage() for r in caplog.records])
    capture.add(*[repr(r.args) for r in caplog.records])
    assert capture.leaks() == []


async def test_canary_never_leaves_a_working_session(
    root: Path,
    redis_server_factory: Any,
    capture: Capture,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server that accepts the canary password: a full session at DEBUG logs nothing secret."""
    caplog.set_level(logging.DEBUG)
    server = redis_server_factory("--requirepass", FILE_PASSWORD)
    environ = layers(root, f"redis://127.0.0.1:{server.port}/0", strict=True)
    config = load_config(environ=environ, root=root)
    async with resolve(config) as cache:
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
        capture.add(await cache.health(), *stack_objects(cache))
    capture.add(caplog.text, *[r.getMessage() for r in caplog.records])
    captured = capsys.readouterr()
    capture.add(captured.out, captured.err)
    assert capture.leaks() == []


@pytest.mark.parametrize(
    "url_of",
    [
        lambda port: f"redis://127.0.0.1:{port}/0?password={ODD_PASSWORD}",
        lambda port: f"redis://:{ODD_PASSWORD}@127.0.0.1:{port}/0",
    ],
    ids=["query", "userinfo"],
)
async def test_canary_odd_password_authenticates_and_never_leaves(
    root: Path,
    redis_server_factory: Any,
    capture: Capture,
    caplog: pytest.LogCaptureFixture,
    url_of: Any,
) -> None:
    """A password with raw ``/ # @`` in the query or the userinfo reaches the server intact
    (it accepts it), and a session at DEBUG shows no piece of it."""
    caplog.set_level(logging.DEBUG)
    server = redis_server_factory("--requirepass", ODD_PASSWORD)
    url = url_of(server.port)
    (root / "settings.toml").write_text(f'[default.redis]\nurl = "{url}"\n')
    config = load_config(environ={}, root=root)
    async with resolve(config) as cache:
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
        report = await cache.health()
        assert report.status == "ok", report.reasons
        capture.add(report, *stack_objects(cache))
    out = io.StringIO()
    assert await run_check(config, out) == 0
    capture.add(out.getvalue(), config, mask_tree(config.to_dict()))
    capture.add(caplog.text, *[r.getMessage() for r in caplog.records])
    assert capture.leaks() == []


async def test_canary_never_leaves_telemetry(
    root: Path, redis_with_password: RedisServer, capture: Capture
) -> None:
    """Spans (incl. exception events), metric points and log records carry no canary."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from cachekit.telemetry.attach import instrument_around
    from cachekit.telemetry.otel import Telemetry

    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    logs = InMemoryLogRecordExporter()
    tracer = TracerProvider(shutdown_on_exit=False)
    tracer.add_span_processor(SimpleSpanProcessor(spans))
    meter = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    logger = LoggerProvider(shutdown_on_exit=False)
    logger.add_log_record_processor(SimpleLogRecordProcessor(logs))
    telemetry = Telemetry(
        tracer, meter, logger, sources={"traces": "app", "metrics": "app", "logs": "app"}
    )
    try:
        for strict in (True, False):
            url = f"redis://canary:{URL_PASSWORD}@127.0.0.1:{redis_with_password.port}/0"
            environ = layers(root, url, strict=strict)
            (root / ".secrets.toml").write_text(
                f'[default.security]\nsigning_keys = ["{FILE_KEY}"]\n'
            )
            config = load_config(
                environ=environ, root=root, overrides={"monitoring.enabled": False}
            )
            cache = instrument_around(resolve(config), telemetry)
            try:
                for name, args in (("connect", ()), ("set", ("k", 1)), ("get", ("k",))):
                    try:
                        await getattr(cache, name)(*args)
                    except CacheError as exc:
                        capture.add(exc)
                capture.add(await cache.health())
            finally:
                await cache.aclose()
        finished = spans.get_finished_spans()
        assert finished  # spans were recorded
        for span in finished:
            capture.add(span.name, dict(span.attributes or {}))
            for event in span.events:
                capture.add(event.name, dict(event.attributes or {}))
        data = reader.get_metrics_data()
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.data.data_points:
                        capture.add(metric.name, dict(point.attributes or {}))
        for record in logs.get_finished_logs():
            capture.add(record.log_record.body, dict(record.log_record.attributes or {}))
    finally:
        for provider in (tracer, meter, logger):
            provider.shutdown()
    assert capture.leaks() == []
