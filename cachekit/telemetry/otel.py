"""OpenTelemetry plumbing: which providers a stack uses, and cachekit's own OTLP pipeline.

``build_telemetry(monitoring, env)`` decides, per signal (traces, metrics, logs), whose
provider cachekit talks to (``monitoring.providers``):

- ``app``: the providers the application installed globally. cachekit never replaces
  them; when the application installed none, the API's no-op proxies swallow everything.
- ``own``: providers cachekit builds for itself, exporting over OTLP (gRPC or
  HTTP/protobuf). They are never made global: only this stack uses them.
- ``auto``: the application's provider where it installed an SDK one, else cachekit's
  own where an OTLP endpoint is configured, else the global proxy.

The standard ``OTEL_*`` variables come in as ``OtelEnv``, read from the environment
mapping at the configuration boundary (``resolve``), never from ``os.environ`` here and
never at import. ``OTEL_SDK_DISABLED=true`` gives no-op providers: nothing is exported.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Final, Literal

from opentelemetry import _logs as logs_api
from opentelemetry import metrics, trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider as SDKLoggerProvider
from opentelemetry.sdk.metrics import MeterProvider as SDKMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider

from cachekit.config.model import MonitoringConfig
from cachekit.telemetry.alerts import Alert
from cachekit.telemetry.env import SIGNALS, OtelEnv
from cachekit.telemetry.otlp import own_provider
from cachekit.telemetry.prometheus import prometheus_meter_provider

logger = logging.getLogger("cachekit.telemetry")

SCOPE: Final = "cachekit"
TracingMode = Literal["off", "on", "parent"]


def scope_version() -> str:
    """cachekit's version, for the instrumentation scope."""
    try:
        return metadata.version("cachekit")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0+unknown"


@dataclass(eq=False)
class Telemetry:
    """The three providers one stack talks to, and which of them cachekit owns."""

    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    logger_provider: logs_api.LoggerProvider
    sources: dict[str, str] = field(default_factory=dict)
    """Per signal: ``app``, ``own``, ``global`` (the API proxy) or ``disabled``."""
    owned: tuple[Any, ...] = ()
    prometheus: Any = None
    """The registry of cachekit's own Prometheus reader (``OTEL_METRICS_EXPORTER=prometheus``)."""
    _closed: bool = field(default=False, init=False)

    @classmethod
    def noop(cls, reason: str = "disabled") -> Telemetry:
        """Providers that record nothing (``OTEL_SDK_DISABLED`` or telemetry turned off)."""
        return cls(
            trace.NoOpTracerProvider(),
            metrics.NoOpMeterProvider(),
            logs_api.NoOpLoggerProvider(),
            sources=dict.fromkeys(SIGNALS, reason),
        )

    @property
    def closed(self) -> bool:
        """True once ``shutdown`` ran (cachekit's own providers export no more)."""
        return self._closed

    def tracer(self) -> trace.Tracer:
        return self.tracer_provider.get_tracer(SCOPE, scope_version())

    def meter(self) -> metrics.Meter:
        return self.meter_provider.get_meter(SCOPE, scope_version())

    def logger(self) -> logs_api.Logger:
        return self.logger_provider.get_logger(SCOPE, scope_version())

    def tracing_mode(self) -> TracingMode:
        """``off`` when spans would be dropped anyway (no SDK provider, sampler always
        off), ``parent`` when only children of a sampled span are kept, else ``on``."""
        return tracing_mode(self.tracer_provider)

    def metrics_live(self) -> bool:
        """False when measurements go nowhere (a no-op or disabled provider)."""
        provider = self.meter_provider
        if isinstance(provider, metrics.NoOpMeterProvider):
            return False
        return not isinstance(provider.get_meter(SCOPE), metrics.NoOpMeter)

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export what cachekit's own providers hold (the application's are its business)."""
        return all(p.force_flush(timeout_millis) for p in self.owned)

    def shutdown(self) -> None:
        """Flush and stop cachekit's own providers; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        for provider in self.owned:
            try:
                provider.shutdown()
            except Exception:  # an exporter that fails at exit must not break aclose
                logger.exception("cachekit: shutting down a telemetry provider failed")


def tracing_mode(provider: trace.TracerProvider) -> TracingMode:
    """How a tracer provider treats cachekit's spans (see ``Telemetry.tracing_mode``)."""
    if isinstance(provider, (trace.NoOpTracerProvider, trace.ProxyTracerProvider)):
        return "off"
    if isinstance(provider, SDKTracerProvider):
        if isinstance(provider.get_tracer(SCOPE), trace.NoOpTracer):
            return "off"  # OTEL_SDK_DISABLED, as the SDK read it
        description = provider.sampler.get_description()
        if description == "AlwaysOffSampler":
            return "off"
        if description.startswith("ParentBased{root:AlwaysOffSampler"):
            return "parent"
    return "on"


class Tracing:
    """Whether cache calls make spans now, and the tracer they use.

    ``off`` is checked first on every call, so untraced calls create no span object at
    all; ``refresh`` re-reads the provider (the application may install one later).
    """

    __slots__ = ("mode", "off", "telemetry", "tracer")
    mode: TracingMode
    off: bool
    tracer: trace.Tracer

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.refresh()

    def refresh(self) -> None:
        self.mode = self.telemetry.tracing_mode()
        self.off = self.mode == "off"
        self.tracer = self.telemetry.tracer()

    def live(self) -> bool:
        """Whether a span made now would be recorded (``parent``: only under a sampled one)."""
        if self.mode == "on":
            return True
        return (
            self.mode == "parent"
            and trace.get_current_span().get_span_context().trace_flags.sampled
        )


_SEVERITY: Final = {
    "warning": (SeverityNumber.WARN, "WARN"),
    "critical": (SeverityNumber.ERROR, "ERROR"),
    "resolved": (SeverityNumber.INFO, "INFO"),
}


def alert_log_sink(telemetry: Telemetry, namespace: str) -> Callable[[Alert], None]:
    """An alert sink emitting each alert as an OpenTelemetry log record (event
    ``cachekit.alert``), WARN for warnings, ERROR for criticals, INFO for clearings."""
    otel_logger = telemetry.logger()

    def emit(alert: Alert) -> None:
        severity, text = _SEVERITY[alert.level]
        attributes: dict[str, Any] = {
            "cache.namespace": namespace,
            "cache.alert.rule": alert.rule,
            "cache.alert.level": alert.level,
            "cache.alert.value": float(alert.value),
            "cache.alert.threshold": float(alert.threshold),
        }
        if alert.scope:
            attributes["cache.alert.scope"] = alert.scope
        otel_logger.emit(
            severity_number=severity,
            severity_text=text,
            body=alert.message,
            attributes=attributes,
            event_name="cachekit.alert",
        )

    return emit


GlobalProviders = Callable[[], tuple[trace.TracerProvider, metrics.MeterProvider, Any]]


def global_providers() -> tuple[trace.TracerProvider, metrics.MeterProvider, Any]:
    """The providers installed globally (the API's proxies when the app installed none)."""
    return (
        trace.get_tracer_provider(),
        metrics.get_meter_provider(),
        logs_api.get_logger_provider(),
    )


_SDK_TYPES: Final = {
    "traces": SDKTracerProvider,
    "metrics": SDKMeterProvider,
    "logs": SDKLoggerProvider,
}


def build_telemetry(
    monitoring: MonitoringConfig,
    env: OtelEnv,
    *,
    app_providers: GlobalProviders = global_providers,
) -> Telemetry:
    """The providers a stack uses for ``monitoring`` under ``env`` (see the module doc).

    ``app_providers`` returns the application's providers (tests substitute their own
    instead of installing global ones).
    """
    if not monitoring.enabled or env.sdk_disabled:
        return Telemetry.noop("disabled")
    apps = dict(zip(SIGNALS, app_providers(), strict=True))
    chosen: dict[str, Any] = {}
    sources: dict[str, str] = {}
    owned: list[Any] = []
    resource: Resource | None = None
    registry: Any = None
    for signal in SIGNALS:
        app = apps[signal]
        app_has_one = isinstance(app, _SDK_TYPES[signal])
        if monitoring.providers == "app" or (monitoring.providers == "auto" and app_has_one):
            chosen[signal], sources[signal] = app, "app" if app_has_one else "global"
            continue
        exporter = env.exporter(signal)
        local = env.exporter_set(signal) and exporter in {"console", "prometheus"}
        if monitoring.providers == "auto" and not (env.has_endpoint(signal) or local):
            chosen[signal], sources[signal] = app, "global"
            continue
        if exporter == "none":
            chosen[signal], sources[signal] = _NOOP[signal](), "disabled"
            continue
        # Resource.create: the SDK's telemetry.sdk.* attributes, under what the variables say.
        resource = resource or Resource.create(env.resource_attributes())
        if exporter == "prometheus":
            provider, registry = prometheus_meter_provider(resource)
        else:
            provider = own_provider(signal, monitoring, env, resource)
        chosen[signal], sources[signal] = provider, "own"
        owned.append(provider)
    telemetry = Telemetry(
        chosen["traces"],
        chosen["metrics"],
        chosen["logs"],
        sources=sources,
        owned=tuple(owned),
        prometheus=registry,
    )
    if owned:
        _track(telemetry)
    return telemetry


_NOOP: Final[dict[str, Callable[[], Any]]] = {
    "traces": trace.NoOpTracerProvider,
    "metrics": metrics.NoOpMeterProvider,
    "logs": logs_api.NoOpLoggerProvider,
}

# -- process exit -------------------------------------------------------------------------
# Global state, confined here: the own pipelines still open, flushed once at exit so the
# last measurements of a stack nobody closed are not lost. Closed ones drop out.
_LIVE: weakref.WeakSet[Telemetry] = weakref.WeakSet()
_EXIT_HOOK = threading.Lock()
_exit_registered = False


def _track(telemetry: Telemetry) -> None:
    global _exit_registered
    _LIVE.add(telemetry)
    with _EXIT_HOOK:
        if not _exit_registered:
            atexit.register(_shutdown_live)
            _exit_registered = True


def _shutdown_live() -> None:
    for telemetry in list(_LIVE):
        telemetry.shutdown()
