"""``CacheRuntime``: the one resolved stack of an app's lifespan, and what ops ask of it.

An app resolves its stack once at startup, connects it, serves every request from it and
closes it at shutdown (the design cachekit grows from built a new cache and connection
pool per request). The runtime also holds the resolved config with each leaf's source, and
the rule for the mutating endpoints (``TokenRule``). Nothing here imports a web framework:
``cachekit.fastapi`` and ``cachekit serve`` sit on top.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from cachekit.backends.glob import check_pattern
from cachekit.config.masking import mask_tree, mask_url
from cachekit.config.model import CacheConfig
from cachekit.config.settings import ResolvedSettings, resolve_settings
from cachekit.config.tree import flatten, source_of
from cachekit.errors import CacheError, CacheUnavailableError
from cachekit.health import HealthReport, Topology
from cachekit.layers.ai.cache import AIResponseCache
from cachekit.layers.wrapper import describe_stack, find_tier, memory_tier, stack_layers
from cachekit.protocol import CacheInterface, RemoteTier
from cachekit.resolver import resolve
from cachekit.telemetry.instrumented import Instrumented
from cachekit.telemetry.scrape import CONTENT_TYPE, metrics_text
from cachekit.web.history import HitHistory
from cachekit.web.tokens import TokenRule

logger = logging.getLogger("cachekit.server")

CODE_SOURCE: Final = "code (a CacheConfig passed in)"
ALERT_FIELDS: Final = ("rule", "level", "message")


def find_ai_layer(cache: CacheInterface) -> AIResponseCache | None:
    """The AI layer of a stack, if it has one."""
    for layer in stack_layers(cache):
        if isinstance(layer, AIResponseCache):
            return layer
    return None


class CacheRuntime:
    """One app's resolved stack, its config and sources, and the rule for writes."""

    def __init__(
        self,
        cache: CacheInterface,
        *,
        config: CacheConfig,
        sources: Mapping[str, str] | None = None,
        host: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache = cache
        self.config = config
        self.sources = dict(sources or {})
        self.host = host or config.server.host
        self.token_rule = TokenRule.from_config(
            config.server, environment=config.environment, host=self.host
        )
        #: The stack's AI layer, or one over the stack (per-operation TTLs from config).
        self.ai_cache = find_ai_layer(cache) or AIResponseCache(
            cache,
            config.ai,
            sample_every=config.monitoring.duration_sample_every,
            memory=memory_tier(cache),
            preset=config.preset,
        )
        self._clock = clock
        self._started_at: float | None = None
        # /readyz answers from the last probe: (when, report), and the probe in flight.
        self._last_probe: tuple[float, HealthReport] | None = None
        self._probing: asyncio.Future[HealthReport] | None = None
        self.history = HitHistory(cache, clock=clock)
        """The hit ratio of the last minutes (the status page's chart)."""
        self._sampler: asyncio.Task[None] | None = None

    @classmethod
    def build(
        cls,
        *,
        config: CacheConfig | None = None,
        settings: ResolvedSettings | None = None,
        cache: CacheInterface | None = None,
        host: str | None = None,
        environ: Mapping[str, str] | None = None,
        environment: str | None = None,
        preset: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        root: str | Path | None = None,
        redis_client: Any = None,
    ) -> CacheRuntime:
        """The runtime for ``settings``, ``config``, a prebuilt ``cache`` or the layered
        settings (read like ``cachekit.resolve`` does). Nothing connects yet."""
        sources: dict[str, str]
        if settings is not None:
            config, sources = settings.config, dict(settings.sources)
        elif config is None and cache is not None and cache.config is not None:
            config = cache.config
        if config is None:
            if cache is not None:  # a test double without config: the testing preset
                settings = resolve_settings(environment="testing", environ={}, use_files=False)
            else:
                settings = resolve_settings(
                    environ=environ,
                    environment=environment,
                    preset=preset,
                    overrides=overrides,
                    root=root,
                )
            config, sources = settings.config, dict(settings.sources)
        elif settings is None:
            sources = {key: CODE_SOURCE for key in flatten(config.to_dict())}
        if cache is None:  # environ also gives the OTEL_* variables
            cache = resolve(config, redis_client=redis_client, environ=environ)
        return cls(cache, config=config, sources=sources, host=host)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the stack. An unreachable Redis degrades to memory (logged) unless
        ``redis.fail_on_connection_error`` is set, which makes startup fail."""
        try:
            connected = await self.cache.connect()
        except CacheUnavailableError as exc:
            if self.config.redis.fail_on_connection_error:
                raise
            logger.warning(
                "Redis unreachable at start (%s): serving from memory until it returns", exc
            )
        else:
            if connected is False:
                logger.warning("Redis unreachable at start: serving from memory until it returns")
        warning = self.token_rule.warning()
        if warning is not None:
            logger.warning(warning)
        self._started_at = self._clock()
        self.history.sample()
        self._sampler = asyncio.get_running_loop().create_task(self._sample_forever())

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.history.interval)
            try:
                self.history.sample()
            except Exception:  # pragma: no cover - a bug; keep sampling
                logger.exception("cachekit: sampling the hit ratio failed")

    async def stop(self) -> None:
        """Close the stack's connections (a readiness probe still running is cancelled)."""
        if self._probing is not None:
            self._probing.cancel()
        sampler, self._sampler = self._sampler, None
        # Started on another loop (a test client's thread) that may be gone by now.
        if sampler is not None and not sampler.get_loop().is_closed():
            sampler.cancel()
            if sampler.get_loop() is asyncio.get_running_loop():
                await asyncio.gather(sampler, return_exceptions=True)
        await self.cache.aclose()

    # -- what the ops endpoints report ------------------------------------------------
    async def health(self) -> HealthReport:
        """``cache.health()``, bounded by the connect plus operation timeout."""
        budget = self.config.budget.connect
        try:
            async with asyncio.timeout(budget):
                return await self.cache.health()
        except TimeoutError:
            reason = f"health check got no answer within {budget:g} s"
            memory = self.config.memory.enabled and not self.config.redis.fail_on_connection_error
            return HealthReport(status="degraded" if memory else "unavailable", reasons=(reason,))
        except CacheError as exc:
            return HealthReport(status="unavailable", reasons=(str(exc),))

    async def probed_health(self) -> HealthReport:
        """``health()`` at most once per ``server.readiness_interval``: within it, the last
        report; concurrent callers share the probe in flight. A flood of ``/readyz``
        requests thus costs one Redis probe per interval, whatever its rate."""
        last = self._last_probe
        if last is not None and self._clock() - last[0] < self.config.server.readiness_interval:
            return last[1]
        probe = self._probing
        if probe is None:  # a task of its own: a caller that goes away does not cancel it
            probe = self._probing = asyncio.ensure_future(self.health())
            probe.add_done_callback(self._probed)
        return await asyncio.shield(probe)

    def _probed(self, probe: asyncio.Future[HealthReport]) -> None:
        self._probing = None
        if not probe.cancelled() and probe.exception() is None:
            self._last_probe = (self._clock(), probe.result())

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether to take traffic, and why: not when the stack cannot serve, nor when it
        serves from memory and ``server.require_redis`` is set. Answers from the last probe
        (``probed_health``)."""
        report = await self.probed_health()
        body = report.to_dict()
        ready = report.serving
        if report.status == "degraded" and self.config.server.require_redis:
            ready = False
            body["reasons"].append("server.require_redis is true and Redis is not serving")
        body["ready"] = ready
        return ready, body

    async def status(self) -> dict[str, Any]:
        """Health plus what the stack is: environment, preset, composition, Redis URL."""
        report = await self.health()
        config = self.config
        uptime = None if self._started_at is None else round(self._clock() - self._started_at, 3)
        return {
            **report.to_dict(),
            "environment": config.environment,
            "preset": config.preset,
            "namespace": config.namespace,
            "enabled": config.enabled,
            "stack": describe_stack(self.cache),
            "redis_url": mask_url(config.redis.url) or None,
            "memory_tier": config.memory.enabled,
            "ai": config.ai.enabled,
            "writes": self.token_rule.mode,
            "uptime_seconds": uptime,
        }

    async def stats(self) -> dict[str, Any]:
        """Counters of each layer that keeps any (``get_stats``, ``get_cache_stats``)."""
        out: dict[str, Any] = {}
        layers = list(stack_layers(self.cache))
        if not any(layer is self.ai_cache for layer in layers):
            layers.insert(0, self.ai_cache)  # the AI view over a stack without an AI layer
        for layer in layers:
            label = type(layer).__name__
            if label in out:
                label = f"{label}#{sum(k.split('#')[0] == label for k in out) + 1}"
            for name in ("get_cache_stats", "get_stats"):
                method = getattr(layer, name, None)
                if callable(method):
                    try:
                        result = method()
                        if inspect.isawaitable(result):
                            result = await result
                    except CacheError as exc:
                        result = {"error": str(exc)}
                    out[label] = result
                    break
            else:
                corrupt = getattr(layer, "corrupt_entries", None)
                if isinstance(corrupt, int):
                    out[label] = {"corrupt_entries": corrupt}
        return out

    def config_view(self) -> dict[str, Any]:
        """Every resolved leaf (secrets masked) with the layer it came from."""
        leaves = flatten(mask_tree(self.config.to_dict()))
        return {
            "environment": self.config.environment,
            "preset": self.config.preset,
            "settings": {
                key: {"value": value, "source": source_of(self.sources, key)}
                for key, value in leaves.items()
            },
        }

    async def invalidate(
        self,
        *,
        operation: str | None = None,
        pattern: str | None = None,
        tags: list[str] | None = None,
    ) -> int:
        """Remove the entries of an AI ``operation``, the keys matching a Redis glob
        ``pattern``, or the entries carrying any of ``tags``; the number removed (from
        Redis when there is one)."""
        if operation is not None:
            return await self.ai_cache.invalidate_by_operation(operation)
        if tags is not None:
            return await self.cache.invalidate_tags(tags)
        if pattern is None:
            raise ValueError("give an operation or a pattern")
        return await self.cache.delete_matching(check_pattern(pattern))

    def metrics(self) -> tuple[str, bytes] | None:
        """``(content type, body)`` of the stack's Prometheus metrics, or None when its
        metrics do not go to a Prometheus reader of its own."""
        body = metrics_text(self.cache)
        return None if body is None else (CONTENT_TYPE, body)

    def tracer_provider(self) -> Any:
        """The tracer provider the stack's spans go to (None: the stack is not traced)."""
        for layer in stack_layers(self.cache):
            if isinstance(layer, Instrumented):
                return layer.telemetry.tracer_provider
        return None

    async def topology(self) -> dict[str, Any]:
        """The Redis behind the stack as its tier finds it (``summary``, ``nodes``,
        ``problems``; the same as ``cachekit check`` prints), no secrets; within the
        connect budget, else what is known without asking."""
        remote = find_tier(self.cache, "redis")
        if not isinstance(remote, RemoteTier):
            return {"summary": "none: memory tier only", "nodes": [], "problems": []}
        describe = getattr(remote, "topology", None)
        summary = f"{remote.address} ({type(remote).__name__})"
        if describe is None:
            return {"summary": summary, "nodes": [], "problems": []}
        try:
            async with asyncio.timeout(self.config.budget.connect):
                found: Topology = await describe()
        except (CacheError, TimeoutError) as exc:
            reason = str(exc) or "no answer in time"
            return {"summary": f"{summary}: cannot say now ({reason})", "nodes": [], "problems": []}
        return {
            "summary": found.summary,
            "nodes": list(found.nodes),
            "problems": list(found.problems),
        }

    async def status_view(self) -> dict[str, Any]:
        """What the status page shows (``cachekit.web.status``)."""
        status = await self.status()
        hits, lookups = self.history.sample()
        monitor: Any = self.cache.monitor
        ops: dict[str, dict[str, int]] = {}
        alerts: list[dict[str, Any]] = []
        if monitor is not None and hasattr(monitor, "get_performance_stats"):
            stats = monitor.get_performance_stats()
            for name, op in stats.get("operations", {}).items():
                row = ops.setdefault(name, {"count": op.get("count", 0)})
                for tier in op.get("tiers", {}).values():
                    for result in ("hit", "miss"):
                        if result in tier:
                            row[result] = row.get(result, 0) + tier[result]
            alerts = list(stats.get("alerts", {}).get("active", []))
        ai = self.ai_cache.stats.snapshot()
        tiers = dict(status.get("tiers", {}))
        coherence = tiers.pop("coherence", None) or (
            self.config.memory.coherence if self.config.memory.enabled else "no memory tier"
        )
        return {
            **status,
            "tiers": tiers,
            "coherence": coherence,
            "uptime": status.get("uptime_seconds") or 0,
            "topology": await self.topology(),
            "hits": {
                "hits": hits,
                "lookups": lookups,
                "ratio": hits / lookups if lookups else None,
                "recent": self.history.recent(),
            },
            "history": self.history.points(),
            "ops": ops,
            "tags": self.cache.tag_counts.snapshot(),
            "alerts": [{k: str(a.get(k, "")) for k in ALERT_FIELDS} for a in alerts],
            "ai": {
                "hits": ai.get("hits", 0),
                "misses": ai.get("misses", 0),
                "tokens_saved": ai.get("tokens_saved", 0),
                "cost_saved": float(ai.get("cost_saved", 0.0)),
            },
        }

    def __repr__(self) -> str:
        return (
            f"CacheRuntime(stack={describe_stack(self.cache)!r}, "
            f"environment={self.config.environment!r}, writes={self.token_rule.mode!r})"
        )
