"""Prometheus: cachekit's metrics in the text format, for a ``/metrics`` endpoint.

``OTEL_METRICS_EXPORTER=prometheus`` gives a stack a meter provider of its own whose reader
is a ``PrometheusMetricReader`` (``opentelemetry-exporter-prometheus``, the ``prometheus``
extra) on a private registry: nothing is added to ``prometheus_client``'s global registry,
so two stacks in one process never collide. ``cachekit serve`` uses it by default; the ops
router's ``GET /metrics`` and ``metrics_text(cache)`` (for any other framework) render it.

The names follow OpenTelemetry's Prometheus conversion: dots become underscores, counters
end in ``_total``, units are spelt out (``cachekit_operation_duration_seconds``), and the
attributes become labels (``cache_operation``, ``cache_result``, ``cache_tier``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from cachekit.extras import require

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def prometheus_meter_provider(resource: Resource) -> tuple[Any, Any]:
    """``(meter provider, registry)``: an SDK provider read by a Prometheus reader that
    lives on a registry of its own."""
    require("opentelemetry.exporter.prometheus", "prometheus", "OTEL_METRICS_EXPORTER=prometheus")
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    reader = PrometheusMetricReader(registry=registry)
    provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
    return provider, registry


def render(registry: Any) -> bytes:
    """The registry's metrics in the Prometheus text format."""
    from prometheus_client import generate_latest

    text: bytes = generate_latest(registry)
    return text
