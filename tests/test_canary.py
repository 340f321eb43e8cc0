"""Secrets never leave: a canary set through every layer appears in nothing cachekit emits.

Canary secrets go in through the secrets file, environment variables and URL userinfo
(passwords and signing keys). Every code path then runs with DEBUG logging: settings
resolution and validation errors, connecting to a Redis that refuses the password and
to a port where nothing listens (strict and degraded), a successful session, the CLI
(show, validate, check), health reports, telemetry (spans, metrics, logs), the security
report, and the str/repr of configs, caches, clients and exceptions with their whole
chain. The test asserts that no canary occurs in anything captured.
"""

from __future__ import annotations

import io
import logging
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cachekit import (
    CacheConfigError,
    CacheError,
    RedisCacheSecurityManager,
    resolve,
)
from cachekit.cli.check import run_check
from cachekit.cli.main import main
from cachekit.config.masking import mask_tree
from cachekit.config.settings import load_config, resolve_settings
from cachekit.protocol import CacheInterface
from tests.redis_server import RedisServer, free_port

FILE_PASSWORD = "cAnArY-file-pw-5d1e7a"
ENV_PASSWORD = "cAnArY-env-pw-9b3c21"
URL_PASSWORD = "cAnArY-url-pw-7f4e08"
FILE_KEY = "cAnArY-file-signing-key-0a9b8c"
ENV_KEY = "cAnArY-env-encryption-key-1d2e3f"
CANARIES = (FILE_PASSWORD, ENV_PASSWORD, URL_PASSWORD, FILE_KEY, ENV_KEY)
SERVER_PASSWORD = "the-real-server-password-42"


class Capture:
    """Everything the test saw: text of objects, exceptions (whole chain), outputs."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *objects: Any) -> None:
        for obj in objects:
            if isinstance(obj, BaseException):
                self.exception(obj)
            else:
                self.texts += [str(obj), repr(obj)]

    def exception(self, exc: BaseException) -> None:
        self.texts.append("".join(traceback.format_exception(exc)))
        seen: set[int] = set()
        current: BaseException | None = exc
        stack = [exc]
        while stack:
            current = stack.pop()
            if current is None or id(current) in seen:
                continue
            seen.add(id(current))
            self.texts += [str(current), repr(current), repr(current.args)]
            stack += [current.__cause__, current.__context__]  # type: ignore[list-item]

    def leaks(self) -> list[tuple[str, str]]:
        return [(c, t[:200]) for t in self.texts for c in CANARIES if c in t]


@pytest.fixture
def capture() -> Capture:
    """A fresh capture."""
    return Capture()


@pytest.fixture
def redis_with_password(redis_server_factory: Any) -> RedisServer:
    """A redis-server that wants a password the canaries are not."""
    server: RedisServer = redis_server_factory("--requirepass", SERVER_PASSWORD)
    return server


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A settings root with host ``CACHEKIT_*`` variables cleared (the CLI reads os.environ)."""
    for var in list(os.environ):
        if var.startswith("CACHEKIT_") or var.endswith("_FOR_DYNACONF") or var.startswith("OTEL_"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CACHEKIT_SETTINGS_ROOT", str(tmp_path))
    yield tmp_path


def write_layers(root: Path, url: str, *, strict: bool) -> dict[str, str]:
    """Canaries in settings.toml/.secrets.toml (password, signing key); env vars returned."""
    (root / "settings.toml").write_text(
        "[default]\nnamespace = \"canary\"\n\n[default.redis]\n"
        f'url = "{url}"\nconnect_timeout = 2.0\n'
        f"fail_on_connection_error = {'true' if strict else 'false'}\n"
    )
    (root / ".secrets.toml").write_text(
        f'[default.redis]\npassword = "{FILE_PASSWORD}"\n\n'
        f'[default.security]\nsigning_keys = ["{FILE_KEY}"]\n'
    )
    return {"CACHEKIT_SECURITY__ENCRYPTION_KEYS": ENV_KEY}


def layers(tmp: Path, url: str, *, strict: bool, env_password: bool = False) -> dict[str, str]:
    """Write the layers and return the env mapping (optionally the env-var password too)."""
    environ = write_layers(tmp, url, strict=strict)
    if env_password:
        (tmp / ".secrets.toml").write_text(
            f'[default.security]\nsigning_keys = ["{FILE_KEY}"]\n'
        )
        environ["CACHEKIT_SECURITY__PASSWORD"] = ENV_PASSWORD
    return environ


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
    """Refused password, closed port, URL userinfo: no canary in logs, errors or reprs."""
    caplog.set_level(logging.DEBUG)
    port = redis_with_password.port
    urls = [
        f"redis://127.0.0.1:{port}/0",  # password from the secrets file: refused
        f"redis://canary:{URL_PASSWORD}@127.0.0.1:{port}/0",  # URL userinfo: refused
        f"redis://canary:{URL_PASSWORD}@127.0.0.1:{free_port()}/0",  # nothing listens
    ]
    for url in urls:
        environ = layers(root, url, strict=strict)
        if "@" in url:
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


def test_canary_never_leaves_validation_errors(root: Path, capture: Capture) -> None:
    """Invalid settings around the canaries: every problem reported, no canary in the report."""
    (root / "settings.toml").write_text(
        f'passwrd = "{FILE_PASSWORD}"\n\n[default.redis]\n'
        f'url = "http://u:{URL_PASSWORD}@h:1/0"\npasword = "{FILE_PASSWORD}"\n'
        "max_connections = 0\n\n[default.security]\n"
        f'password = "{ENV_PASSWORD}"\nsigning_key = ["{FILE_KEY}"]\n'
    )
    (root / ".secrets.toml").write_text(
        f'[default.redis]\npassword = "{FILE_PASSWORD}"\n'
        f'[default.security]\nencryption_keys = "{ENV_KEY}"\n'
    )
    for environ in (
        {"CACHEKIT_SECURITY__SIGNING_KEYS": f'["{FILE_KEY}'},
        {"CACHEKIT_SECURITY__SIGNING_KEYS": f"@json [{FILE_KEY}"},
        {"CACHEKIT_SECURITY__ENCRYPTION_KEYS": f"[{ENV_KEY}]"},
        {"CACHEKIT_REDIS__PASSWORD": f"@int {ENV_PASSWORD}"},
        {"CACHEKIT_SECURITY__PASSWROD": ENV_PASSWORD},
        {"CACHEKIT_SECURITY__SIGNING_KEYS": ENV_PASSWORD[:10]},
    ):
        with pytest.raises(CacheConfigError) as info:
            resolve_settings(environ=environ, root=root)
        capture.add(info.value, info.value.problems)
        assert len(info.value.problems) >= 5
    assert capture.leaks() == []


def test_canary_never_leaves_the_cli(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    capture: Capture, caplog: pytest.LogCaptureFixture,
) -> None:
    """config show (every format), validate, presets and check print no canary."""
    caplog.set_level(logging.DEBUG)
    environ = layers(
        root, f"redis://canary:{URL_PASSWORD}@127.0.0.1:{free_port()}/0", strict=True
    )
    (root / ".secrets.toml").write_text(
        f'[default.redis]\npassword = "{URL_PASSWORD}"\n\n'
        f'[default.security]\nsigning_keys = ["{FILE_KEY}"]\n'
    )
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    codes = []
    for argv in (
        ["config", "show"],
        ["config", "show", "--sources"],
        ["config", "show", "--format", "json", "--sources"],
        ["config", "show", "--format", "toml", "--sources"],
        ["config", "validate"],
        ["check"],
        ["presets", "show", "production"],
    ):
        out = io.StringIO()
        codes.append(main(argv, out=out))
        capture.add(out.getvalue())
    assert codes[:5] == [0, 0, 0, 0, 0] and codes[5] == 1  # check fails: nothing listens
    monkeypatch.setenv("CACHEKIT_REDIS__PASSWORD", ENV_PASSWORD)  # contradicts the file? no:
    monkeypatch.setenv("CACHEKIT_SECURITY__PASSWORD", FILE_PASSWORD)  # two different values
    out = io.StringIO()
    assert main(["config", "validate"], out=out) == 2
    capture.add(out.getvalue())
    captured = capsys.readouterr()
    capture.add(captured.out, captured.err, caplog.text)
    assert "contradicts" in captured.err
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

    from cachekit.telemetry.instrumented import Instrumented
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
            cache = Instrumented.around(resolve(config), telemetry)
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
