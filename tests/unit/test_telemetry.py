"""The ``Instrumented`` layer, its metrics and spans on in-memory SDK pipelines, the
choice of providers and the ``OTEL_*`` variables (``cachekit stats`` against a running
service is in tests/integration)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import fakeredis
import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from cachekit import InMemoryCache, StateChange, resolve
from cachekit.layers.wrapper import CacheWrapper, stack_layers
from cachekit.protocol import CacheInterface
from cachekit.telemetry.attach import instrument_around
from cachekit.telemetry.instrumented import Instrumented
from cachekit.telemetry.metrics import Instruments, Recorder, TierCounts
from cachekit.telemetry.otel import OtelEnv, Telemetry, build_telemetry
from tests.helpers_telemetry import Pipeline, config, instrumented, workload


def tiered(client: fakeredis.FakeAsyncRedis, **dotted: Any) -> CacheInterface:
    settings = config(
        "simple",
        **{
            "redis.url": "redis://fake",
            "monitoring.enabled": False,
            "memory.coherence": "local",  # fakeredis cannot track keys
            **dotted,
        },
    )
    return resolve(settings, redis_client=client)


EXPECTED = {
    ("set", "ok", "memory"): 1,
    ("get", "hit", "memory"): 2,
    ("get", "miss", "memory"): 1,
    ("get_many", "hit", "memory"): 1,
    ("get_many", "miss", "memory"): 2,
    ("get_or_set", "hit", "memory"): 1,
    ("get_or_set", "miss", "memory"): 1,
    ("exists", "ok", "memory"): 1,
    ("delete", "ok", "memory"): 1,
}


# -- counting ---------------------------------------------------------------------------
async def test_instrumented_counts_operations_by_result_and_tier(untraced: Pipeline) -> None:
    """Each call counts once under its operation, its result and the memory tier."""
    cache = instrumented(untraced)
    await workload(cache)
    assert untraced.operations() == EXPECTED


async def test_instrumented_untraced_memory_get_skips_the_wrapper(untraced: Pipeline) -> None:
    """Without tracing, a memory-only stack's get is the tier's own method, and the
    counts come from the tier's counters all the same."""
    cache = instrumented(untraced)
    assert cache.get.__self__ is cache.inner  # type: ignore[attr-defined]
    await cache.set("k", 1)
    for _ in range(5):
        await cache.get("k")
    assert untraced.operations()[("get", "hit", "memory")] == 5


async def test_instrumented_counts_alike_traced_or_not(
    pipeline: Pipeline, untraced: Pipeline
) -> None:
    """The traced path and the lean untraced path report the same counts."""
    await workload(instrumented(pipeline))
    await workload(instrumented(untraced))
    assert pipeline.operations() == untraced.operations() == EXPECTED


async def test_instrumented_leaves_the_lean_path_when_tracing_appears(untraced: Pipeline) -> None:
    """A tracer provider installed later (seen on connect) ends the lean path; the
    counts carry on without a step back."""
    cache = instrumented(untraced)
    await cache.set("k", 1)
    await cache.get("k")
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    cache.telemetry.tracer_provider = tracer_provider
    await cache.connect()
    assert "get" not in cache.__dict__
    await cache.get("k")
    await cache.get("nope")
    assert untraced.operations()[("get", "hit", "memory")] == 2
    assert untraced.operations()[("get", "miss", "memory")] == 1
    await cache.aclose()
    tracer_provider.shutdown()


async def test_instrumented_tiered_counts_the_tier_that_answered(untraced: Pipeline) -> None:
    """A memory hit counts under memory; one that only Redis held counts under redis."""
    client = fakeredis.FakeAsyncRedis()
    cache = instrumented(untraced, tiered(client))
    await cache.set("a", "v")
    assert await cache.get("a") == "v"
    memory = next(layer for layer in stack_layers(cache) if isinstance(layer, InMemoryCache))
    await memory.clear()
    assert await cache.get("a") == "v"
    assert await cache.get("missing") is None
    counts = untraced.operations()
    assert counts[("get", "hit", "memory")] == 1
    assert counts[("get", "hit", "redis")] == 1
    assert counts[("get", "miss", "redis")] == 1
    assert counts[("set", "ok", "redis")] == 1
    durations = {a["cache.tier"] for a, _ in untraced.points("cachekit.operation.duration")}
    assert durations == {"memory", "redis"}


async def test_instrumented_counts_errors(untraced: Pipeline) -> None:
    """A call that raises counts as an error and the error reaches the caller."""
    cache = instrumented(untraced)
    with pytest.raises(TypeError):
        await cache.set("k", object())
    assert untraced.operations() == {("set", "error", "memory"): 1}


async def test_instrumented_samples_in_process_durations(untraced: Pipeline) -> None:
    """In-process calls reach the histogram 1 in N (the first included), counts stay exact."""
    cache = instrumented(untraced, **{"monitoring.duration_sample_every": 4})
    for _ in range(9):
        await cache.set("k", "v")
    ((_, point),) = untraced.points("cachekit.operation.duration")
    assert point.count == 3  # calls 1, 5 and 9
    assert untraced.operations()[("set", "ok", "memory")] == 9


async def test_instrumented_memory_gauges_and_evictions(untraced: Pipeline) -> None:
    """Entries, bytes and evictions of the memory tier are observed at export time."""
    cache = instrumented(untraced, **{"memory.max_entries": 2})
    for n in range(5):
        await cache.set(f"k{n}", "v" * 100)
    (entries,) = untraced.points("cachekit.memory.entries")
    (usage,) = untraced.points("cachekit.memory.usage")
    (evictions,) = untraced.points("cachekit.memory.evictions")
    assert entries[1].value == 2
    assert usage[1].value > 200
    assert evictions[1].value == 3
    assert entries[0] == {"cache.namespace": "cachekit"}


async def test_instrumented_measures_compression_of_redis_values(untraced: Pipeline) -> None:
    """Values above the threshold feed the ratio histogram and the bytes saved."""
    cache = instrumented(
        untraced, tiered(fakeredis.FakeAsyncRedis(), **{"compression.threshold": 64})
    )
    await cache.set("small", "x")
    await cache.set("big", "lorem ipsum " * 200)
    ((_, ratio),) = untraced.points("cachekit.compression.ratio")
    ((_, saved),) = untraced.points("cachekit.compression.saved")
    assert ratio.count == 1 and ratio.sum < 0.2
    assert saved.value > 2000


async def test_instrumented_counts_invalidations_by_kind_and_operation(untraced: Pipeline) -> None:
    """``monitor.record_invalidation`` reaches the invalidation counters."""
    cache = instrumented(untraced)
    cache.monitor.record_invalidation("operation", "summarize", "operation:summarize", 7)
    cache.monitor.record_invalidation("operation", "summarize", "operation:summarize", 3)
    ((attrs, events),) = untraced.points("cachekit.invalidations")
    ((_, keys),) = untraced.points("cachekit.invalidation.keys")
    assert attrs["cache.invalidation.kind"] == "operation"
    assert attrs["cache.invalidation.operation"] == "summarize"
    assert (events.value, keys.value) == (2, 10)


class _Switchable(CacheWrapper):
    """A layer whose health the test flips, calling state-change subscribers."""

    def __init__(self, inner: CacheInterface) -> None:
        super().__init__(inner)
        self.listeners: list[Callable[[StateChange], object]] = []

    def on_state_change(self, callback: Callable[[StateChange], object]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: None

    def flip(self, previous: str, current: str) -> None:
        for listener in self.listeners:
            listener(StateChange(previous=previous, current=current, reason="test"))  # type: ignore[arg-type]


async def test_instrumented_degraded_gauge_follows_state_changes(untraced: Pipeline) -> None:
    """The degraded gauge is 1 while the stack reports degraded, 0 after."""
    inner = _Switchable(resolve(config(**{"monitoring.enabled": False})))
    cache = instrumented(untraced, inner)
    inner.flip("ok", "degraded")
    assert [p.value for _, p in untraced.points("cachekit.degraded")] == [1]
    inner.flip("degraded", "ok")
    assert [p.value for _, p in untraced.points("cachekit.degraded")] == [0]
    assert cache.monitor.recorder.degraded == 0


async def test_instrumented_attributes_never_hold_keys_or_values(pipeline: Pipeline) -> None:
    """No metric or span attribute carries a key or a value of the workload."""
    client = fakeredis.FakeAsyncRedis()
    cache = instrumented(pipeline, tiered(client))
    await cache.set("customer:4242", "private-note")
    await cache.get("customer:4242")
    await cache.delete_matching("customer:*")
    texts: list[str] = []
    for name in ("cachekit.operations", "cachekit.operation.duration"):
        texts += [repr(a) for a, _ in pipeline.points(name)]
    texts += [repr(dict(s.attributes or {})) + s.name for s in pipeline.spans.get_finished_spans()]
    assert texts
    assert not [t for t in texts if "4242" in t or "private" in t or "customer" in t]


async def test_instruments_sum_stacks_and_keep_counts_of_collected_ones(untraced: Pipeline) -> None:
    """Two stacks of one namespace add up; a collected stack's counts are kept."""
    first, second = instrumented(untraced), instrumented(untraced)
    await first.set("k", 1)
    await first.get("k")  # counted by the memory tier itself (the lean path)
    await first.get("k")
    await second.set("k", 1)
    del first  # collected before any export saw its gets
    gc.collect()
    await second.set("k", 2)
    counts = untraced.operations()
    assert counts[("set", "ok", "memory")] == 3
    assert counts[("get", "hit", "memory")] == 2


def test_instruments_never_report_a_count_going_back() -> None:
    """A counter read while a tier's own counts lag is held at the last value."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    instruments = Instruments(provider.get_meter("t"))
    recorder = Recorder("ns")
    memory = InMemoryCache()
    recorder.tier = TierCounts(memory)
    memory._hits = 5  # the tier's own count, as a get that skipped the wrapper leaves it
    instruments.add(recorder)

    def hits() -> int:
        data = reader.get_metrics_data()
        (point,) = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
        return int(point.value)

    assert hits() == 5
    recorder.tier.base[0] += 2  # read mid-call: get_many's lookups not yet set apart
    assert hits() == 5
    provider.shutdown()


# -- spans ------------------------------------------------------------------------------
async def test_instrumented_makes_a_span_per_operation(pipeline: Pipeline) -> None:
    """Each call is a span named after its operation, with cache.hit and cache.tier."""
    cache = instrumented(pipeline)
    await cache.set("k", 1)
    await cache.get("k")
    await cache.get("nope")
    spans = pipeline.spans.get_finished_spans()
    assert [s.name for s in spans] == ["cachekit.set", "cachekit.get", "cachekit.get"]
    get_hit, get_miss = (dict(s.attributes or {}) for s in spans[1:])
    assert get_hit["cache.hit"] is True and get_miss["cache.hit"] is False
    assert get_hit["cache.tier"] == "memory" and get_hit["cache.operation"] == "get"


async def test_instrumented_loader_runs_in_a_child_span(pipeline: Pipeline) -> None:
    """get_or_set's loader is a ``cachekit.load`` span under the get_or_set span."""
    cache = instrumented(pipeline)
    await cache.get_or_set("k", lambda: "v")
    spans = {s.name: s for s in pipeline.spans.get_finished_spans()}
    load, outer = spans["cachekit.load"], spans["cachekit.get_or_set"]
    assert load.parent is not None and load.parent.span_id == outer.context.span_id
    assert dict(outer.attributes or {})["cache.hit"] is False


async def test_instrumented_redis_commands_are_client_spans_of_cachekits_client_only(
    pipeline: Pipeline,
) -> None:
    """Redis commands of the stack's own client are CLIENT spans with the database
    conventions; another client in the process is left alone."""
    client = fakeredis.FakeAsyncRedis()
    cache = instrumented(pipeline, tiered(client, **{"redis.auto_pipeline": False}))
    await cache.set("k", "v")
    other = fakeredis.FakeAsyncRedis()
    await other.set("x", "y")
    redis_spans = [
        s for s in pipeline.spans.get_finished_spans() if s.kind == trace.SpanKind.CLIENT
    ]
    assert [s.name for s in redis_spans] == ["SET"]
    attrs = dict(redis_spans[0].attributes or {})
    assert attrs["db.system.name"] == "redis"
    assert attrs["db.operation.name"] == "SET"
    assert attrs["db.namespace"] == "0"
    assert "execute_command" not in vars(other)


async def test_instrumented_makes_no_spans_when_sampling_is_off() -> None:
    """A provider that samples nothing means no span objects at all (tracing is off)."""
    made = Pipeline(sampler=ALWAYS_OFF)
    cache = instrumented(made)
    assert cache._tracing.off
    await cache.set("k", 1)
    assert made.spans.get_finished_spans() == ()
    assert made.operations() == {("set", "ok", "memory"): 1}
    made.shutdown()


async def test_instrumented_parent_based_off_traces_only_under_a_sampled_parent() -> None:
    """With ParentBased(ALWAYS_OFF), calls are traced only inside a sampled span."""
    made = Pipeline(sampler=ParentBased(ALWAYS_OFF))
    cache = instrumented(made)
    await cache.set("k", 1)
    assert made.spans.get_finished_spans() == ()
    parent = SpanContext(trace_id=1, span_id=2, is_remote=True, trace_flags=TraceFlags(0x01))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        await cache.set("k", 2)
    finally:
        context.detach(token)
    assert [s.name for s in made.spans.get_finished_spans()] == ["cachekit.set"]
    made.shutdown()


# -- alerts as log records --------------------------------------------------------------
async def test_instrumented_alerts_are_log_records_with_severity_by_level(
    pipeline: Pipeline,
) -> None:
    """Warnings, criticals and clearings become WARN, ERROR and INFO log records."""
    cache = instrumented(pipeline)
    cache.monitor.engine.update("memory", "warning", value=1, threshold=1, message="w")
    cache.monitor.engine.update("memory", "critical", value=2, threshold=2, message="c")
    cache.monitor.engine.update("memory", None, value=0, threshold=1, message="ok")
    records = [r.log_record for r in pipeline.logs.get_finished_logs()]
    assert [(r.severity_text, r.body) for r in records] == [
        ("WARN", "w"),
        ("ERROR", "c"),
        ("INFO", "ok"),
    ]
    assert {r.attributes["cache.alert.rule"] for r in records} == {"memory"}  # type: ignore[index]
    fired = {a["cache.alert.level"]: p.value for a, p in pipeline.points("cachekit.alerts")}
    assert fired == {"warning": 1, "critical": 1}


# -- providers and OTEL_* ---------------------------------------------------------------
def test_build_telemetry_app_mode_uses_the_apps_providers_and_sets_no_globals(
    pipeline: Pipeline,
) -> None:
    """``app`` (and ``auto`` with app providers) use the app's providers as they are."""
    apps = (pipeline.tracer_provider, pipeline.meter_provider, pipeline.logger_provider)
    before = trace.get_tracer_provider()
    for mode in ("app", "auto"):
        env = OtelEnv({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
        telemetry = build_telemetry(
            config(**{"monitoring.providers": mode}).monitoring, env, app_providers=lambda: apps
        )
        assert telemetry.meter_provider is pipeline.meter_provider
        assert telemetry.sources == {"traces": "app", "metrics": "app", "logs": "app"}
        assert telemetry.owned == ()
    assert trace.get_tracer_provider() is before


def test_build_telemetry_own_providers_honour_per_signal_exporters() -> None:
    """``OTEL_<SIGNAL>_EXPORTER=none`` turns one of cachekit's own signals off."""
    env = OtelEnv(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_LOGS_EXPORTER": "none"}
    )
    telemetry = build_telemetry(config(**{"monitoring.providers": "own"}).monitoring, env)
    assert telemetry.sources == {"traces": "own", "metrics": "own", "logs": "disabled"}
    assert len(telemetry.owned) == 2
    assert trace.get_tracer_provider() is not telemetry.tracer_provider
    telemetry.shutdown()
    telemetry.shutdown()
    assert telemetry.closed


def test_build_telemetry_sdk_disabled_gives_no_op_providers() -> None:
    """``OTEL_SDK_DISABLED=true`` (or monitoring off) builds nothing that exports."""
    env = OtelEnv({"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1"})
    telemetry = build_telemetry(config(**{"monitoring.providers": "own"}).monitoring, env)
    assert telemetry.sources == dict.fromkeys(("traces", "metrics", "logs"), "disabled")
    assert not telemetry.metrics_live()
    assert telemetry.tracing_mode() == "off"


def test_otel_env_reads_the_standard_variables() -> None:
    """Headers, resource attributes, service name, protocol, sampler and numbers."""
    env = OtelEnv(
        {
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b, X-Team=cache",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "only=traces",
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,region=eu%2Dwest",
            "OTEL_SERVICE_NAME": "svc",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_METRIC_EXPORT_INTERVAL": "not-a-number",
            "HOME": "/root",
        }
    )
    assert env.headers("metrics") == {"api-key": "a b", "x-team": "cache"}
    assert env.headers("traces") == {"only": "traces"}
    assert env.resource_attributes() == {"service.name": "svc", "region": "eu-west"}
    assert env.protocol("metrics", "http/protobuf") == "grpc"
    assert env.protocol("logs", "grpc") == "http/protobuf"
    assert "0.25" in env.sampler().get_description()
    assert env.number("OTEL_METRIC_EXPORT_INTERVAL", 60000) == 60000
    assert "a b" not in repr(env) and "HOME" not in repr(env)
    assert not env.has_endpoint("traces")


def test_resolve_reads_otel_variables_only_from_the_environ_it_is_given() -> None:
    """``resolve(environ=...)`` is the boundary: an endpoint there gives own providers."""
    env = {
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:9/v1/metrics",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "0.2",  # nothing listens there: give up quickly
    }
    cache = resolve(config(), environ=env)
    assert isinstance(cache, Instrumented)
    assert cache.telemetry.sources["metrics"] == "own"
    assert cache.telemetry.sources["traces"] == "global"
    cache.telemetry.shutdown()
    quiet = resolve(config(), environ={})
    assert isinstance(quiet, Instrumented) and quiet.telemetry.owned == ()


async def test_instrumented_aclose_stops_own_providers_and_connect_rebuilds(
    untraced: Pipeline,
) -> None:
    """Closing shuts cachekit's own providers down; reconnecting builds fresh ones."""
    built: list[Telemetry] = []

    def factory() -> Telemetry:
        telemetry = Telemetry(
            trace.NoOpTracerProvider(),
            MeterProvider(shutdown_on_exit=False),
            untraced.logger_provider,
            sources={"metrics": "own"},
        )
        telemetry.owned = (telemetry.meter_provider,)
        built.append(telemetry)
        return telemetry

    stack = resolve(config(**{"monitoring.enabled": False}))
    cache = instrument_around(stack, factory(), rebuild_telemetry=factory)
    async with cache:
        await cache.set("k", 1)
    assert built[0].closed
    async with cache:
        assert len(built) == 2 and not built[1].closed
        assert await cache.get("k") == 1
    assert built[1].closed


# -- reaching the monitor ---------------------------------------------------------------
def test_monitor_is_reachable_on_every_resolved_stack() -> None:
    """``cache.monitor`` through the AI layer; None with monitoring or caching off."""
    ai = resolve(config(**{"ai.enabled": True}))
    assert ai.monitor is not None and ai.monitor is ai.inner.monitor  # type: ignore[attr-defined]
    assert resolve(config(**{"monitoring.enabled": False})).monitor is None
    assert resolve(config("disabled")).monitor is None


async def test_instrumented_build_key_is_timed(untraced: Pipeline) -> None:
    """build_key feeds the key-generation statistics and histogram."""
    cache = instrumented(untraced)
    cache.build_key("some text", "summarize", {"a": 1})
    assert cache.monitor.get_performance_stats()["key_generation"]["count"] == 1
    ((_, point),) = untraced.points("cachekit.key_generation.duration")
    assert point.count == 1
