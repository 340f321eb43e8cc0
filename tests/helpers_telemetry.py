"""In-memory OpenTelemetry pipelines and a workload, for the telemetry tests (unit and
integration halves); the ``pipeline`` and ``untraced`` fixtures are in tests/conftest.py."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from cachekit import CacheConfig, CacheConfigBuilder, resolve
from cachekit.protocol import CacheInterface
from cachekit.telemetry.attach import instrument_around
from cachekit.telemetry.instrumented import Instrumented
from cachekit.telemetry.otel import Telemetry


def config(preset: str = "development", **dotted: Any) -> CacheConfig:
    return CacheConfigBuilder().with_preset(preset).with_overrides(dotted).build()


class Pipeline:
    """SDK providers that keep what they receive in memory."""

    def __init__(self, sampler: Sampler | None = None, *, tracing: bool = True) -> None:
        self.reader = InMemoryMetricReader()
        self.spans = InMemorySpanExporter()
        self.logs = InMemoryLogRecordExporter()
        self.meter_provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)
        self.tracer_provider = TracerProvider(sampler=sampler, shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.logger_provider = LoggerProvider(shutdown_on_exit=False)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.telemetry = Telemetry(
            self.tracer_provider if tracing else trace.NoOpTracerProvider(),
            self.meter_provider,
            self.logger_provider,
            sources={"traces": "app", "metrics": "app", "logs": "app"},
        )

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        data = self.reader.get_metrics_data()
        return [
            (dict(p.attributes), p)
            for rm in (data.resource_metrics if data else [])
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == name
            for p in m.data.data_points
        ]

    def operations(self) -> dict[tuple[str, str, str], int]:
        return {
            (a["cache.operation"], a["cache.result"], a["cache.tier"]): p.value
            for a, p in self.points("cachekit.operations")
        }

    def shutdown(self) -> None:
        for provider in (self.meter_provider, self.tracer_provider, self.logger_provider):
            provider.shutdown()


def instrumented(
    pipeline: Pipeline, stack: CacheInterface | None = None, **dotted: Any
) -> Instrumented:
    """``Instrumented`` around ``stack`` (default: a memory-only stack of ``dotted``)."""
    if stack is None:
        stack = resolve(config(**{"monitoring.enabled": False, **dotted}))
    return instrument_around(stack, pipeline.telemetry)


async def workload(cache: CacheInterface) -> None:
    await cache.set("user:1", {"name": "ada"})
    await cache.get("user:1")
    await cache.get("user:1")
    await cache.get("user:2")
    await cache.get_many(["user:1", "user:3", "user:4"])
    await cache.get_or_set("user:1", lambda: "unused")
    await cache.get_or_set("user:5", lambda: {"name": "bo"})
    await cache.exists("user:1")
    await cache.delete("user:5")
