"""cachekit's own OpenTelemetry providers: OTLP exporters over gRPC or HTTP/protobuf.

Built only when ``monitoring.providers`` asks cachekit for providers of its own (see
``cachekit.telemetry.otel``). Every exporter setting comes from the ``OTEL_*`` variables handed
in (``OtelEnv``), explicitly: endpoint (``OTEL_EXPORTER_OTLP[_<SIGNAL>]_ENDPOINT``, with
``/v1/<signal>`` appended to a generic HTTP one), headers, timeout (seconds, as the
Python exporters read it), compression, certificate, insecure, protocol; the batch
delays (``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_BLRP_SCHEDULE_DELAY``), the metric export
interval and timeout, and ``OTEL_<SIGNAL>_EXPORTER`` (``otlp``, ``console``, ``none``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from opentelemetry.sdk._logs import LoggerProvider as SDKLoggerProvider
from opentelemetry.sdk.metrics import MeterProvider as SDKMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider

from cachekit.config.model import MonitoringConfig
from cachekit.extras import require

if TYPE_CHECKING:
    from cachekit.telemetry.env import OtelEnv, Signal

logger = logging.getLogger("cachekit.telemetry")

_HTTP_PATHS: Final = {"traces": "v1/traces", "metrics": "v1/metrics", "logs": "v1/logs"}
_DEFAULT_HTTP: Final = "http://localhost:4318"
_DEFAULT_GRPC: Final = "http://localhost:4317"
_DEFAULT_SPAN_DELAY_MS: Final = 5000.0
_DEFAULT_LOG_DELAY_MS: Final = 1000.0
_DEFAULT_EXPORT_TIMEOUT_MS: Final = 30000.0


def _exporter(signal: Signal, monitoring: MonitoringConfig, env: OtelEnv) -> Any:
    """The span / metric / log exporter ``env`` and ``monitoring.otlp_protocol`` ask for."""
    if env.exporter(signal) == "console":
        return _console_exporter(signal)
    protocol = env.protocol(signal, monitoring.otlp_protocol)
    kwargs: dict[str, Any] = {"headers": env.headers(signal) or None}
    timeout = env.otlp(signal, "TIMEOUT")
    if timeout is not None:  # seconds, as the Python OTLP exporters read it
        try:
            kwargs["timeout"] = float(timeout)
        except ValueError:
            logger.warning("cachekit: ignoring invalid OTLP timeout for %s", signal)
    compression = (env.otlp(signal, "COMPRESSION") or "").lower()
    package = f"opentelemetry.exporter.otlp.proto.{'grpc' if protocol == 'grpc' else 'http'}"
    require(package, "otlp", f"exporting {signal} over OTLP ({protocol})")
    if protocol == "grpc":
        return _grpc_exporter(signal, env, compression, kwargs)
    return _http_exporter(signal, env, compression, kwargs)


def _http_exporter(signal: Signal, env: OtelEnv, compression: str, kwargs: dict[str, Any]) -> Any:
    from opentelemetry.exporter.otlp.proto.http import Compression

    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _DEFAULT_HTTP
    kwargs["endpoint"] = specific or f"{base.rstrip('/')}/{_HTTP_PATHS[signal]}"
    certificate = env.otlp(signal, "CERTIFICATE")
    if certificate:
        kwargs["certificate_file"] = certificate
    if compression in {"gzip", "deflate", "none"}:
        kwargs["compression"] = {
            "gzip": Compression.Gzip,
            "deflate": Compression.Deflate,
            "none": Compression.NoCompression,
        }[compression]
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(**kwargs)
    if signal == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return OTLPLogExporter(**kwargs)


def _grpc_exporter(signal: Signal, env: OtelEnv, compression: str, kwargs: dict[str, Any]) -> Any:
    import grpc  # type: ignore[import-untyped]

    endpoint = env.otlp(signal, "ENDPOINT") or _DEFAULT_GRPC
    kwargs["endpoint"] = endpoint
    insecure = env.otlp(signal, "INSECURE")
    kwargs["insecure"] = (
        insecure.lower() == "true" if insecure is not None else urlsplit(endpoint).scheme == "http"
    )
    if compression in {"gzip", "none"}:
        kwargs["compression"] = (
            grpc.Compression.Gzip if compression == "gzip" else grpc.Compression.NoCompression
        )
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(**kwargs)
    if signal == "metrics":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    return OTLPLogExporter(**kwargs)


def _console_exporter(signal: Signal) -> Any:
    if signal == "traces":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if signal == "metrics":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter()
    from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

    return ConsoleLogRecordExporter()


def _own_tracer_provider(monitoring: MonitoringConfig, env: OtelEnv, resource: Resource) -> Any:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = SDKTracerProvider(sampler=env.sampler(), resource=resource, shutdown_on_exit=False)
    delay = env.number("OTEL_BSP_SCHEDULE_DELAY", _DEFAULT_SPAN_DELAY_MS)
    provider.add_span_processor(
        BatchSpanProcessor(_exporter("traces", monitoring, env), schedule_delay_millis=delay)
    )
    return provider


def _own_meter_provider(monitoring: MonitoringConfig, env: OtelEnv, resource: Resource) -> Any:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    interval = env.number("OTEL_METRIC_EXPORT_INTERVAL", monitoring.export_interval_seconds * 1000)
    timeout = env.number("OTEL_METRIC_EXPORT_TIMEOUT", _DEFAULT_EXPORT_TIMEOUT_MS)
    reader = PeriodicExportingMetricReader(
        _exporter("metrics", monitoring, env),
        export_interval_millis=interval,
        export_timeout_millis=timeout,
    )
    return SDKMeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)


def _own_logger_provider(monitoring: MonitoringConfig, env: OtelEnv, resource: Resource) -> Any:
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = SDKLoggerProvider(resource=resource, shutdown_on_exit=False)
    delay = env.number("OTEL_BLRP_SCHEDULE_DELAY", _DEFAULT_LOG_DELAY_MS)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(_exporter("logs", monitoring, env), schedule_delay_millis=delay)
    )
    return provider


_OWN: Final[dict[str, Callable[[MonitoringConfig, OtelEnv, Resource], Any]]] = {
    "traces": _own_tracer_provider,
    "metrics": _own_meter_provider,
    "logs": _own_logger_provider,
}


def own_provider(
    signal: Signal, monitoring: MonitoringConfig, env: OtelEnv, resource: Resource
) -> Any:
    """A provider of ``signal`` for cachekit alone (never global), exporting as ``env``
    and ``monitoring`` say."""
    return _OWN[signal](monitoring, env, resource)
