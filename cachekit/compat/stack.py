"""The stack under the original's cache classes, with the caller's monitor in it.

The original's caches took a ``performance_monitor`` that saw every operation. Here the
telemetry layer (``Instrumented``) owns the stack's monitor; given a
``CachePerformanceMonitor``, the stack is built with that one as the telemetry layer's
monitor, so it counts what the stack's own would (and the ``monitoring`` settings still
choose sampling and export). The AI layer is left off: the caller adds its own.
"""

from __future__ import annotations

from typing import Any

import msgspec

from cachekit.compat.monitor import CachePerformanceMonitor as OriginalMonitor
from cachekit.config.model import CacheConfig
from cachekit.config.settings import environ_or_process
from cachekit.layers.ai.cache import AIResponseCache as AILayer
from cachekit.layers.wrapper import find_tier, memory_tier
from cachekit.protocol import CacheInterface, RemoteTier
from cachekit.resolver import resolve
from cachekit.telemetry.env import OtelEnv
from cachekit.telemetry.instrumented import Instrumented
from cachekit.telemetry.monitor import CachePerformanceMonitor
from cachekit.telemetry.otel import Telemetry, build_telemetry

__all__ = ["build_stack"]


def _without_ai(stack: CacheInterface) -> CacheInterface:
    return stack.inner if isinstance(stack, AILayer) else stack


def build_stack(config: CacheConfig, monitor: Any = None) -> CacheInterface:
    """The resolved stack of ``config`` without its AI layer; a core
    ``CachePerformanceMonitor`` given as ``monitor`` becomes its telemetry layer's.
    Without one (and with ``monitoring.enabled``), the telemetry layer gets the
    original's monitor (``cachekit.compat.monitor``), so ``cache.performance_monitor``
    has the original's attributes."""
    if monitor is None and config.enabled and config.monitoring.enabled:
        monitor = OriginalMonitor(config.monitoring, namespace=config.namespace)
    if not isinstance(monitor, CachePerformanceMonitor) or not config.enabled:
        return _without_ai(resolve(config))
    replace = msgspec.structs.replace
    plain = replace(
        config,
        monitoring=replace(config.monitoring, enabled=False),
        ai=replace(config.ai, enabled=False),
    )
    base = resolve(plain)
    # The caller's monitor judges slowness by its own thresholds, the stack's calls too.
    settings = replace(
        config.monitoring,
        slow_operation_seconds=monitor.config.slow_operation_seconds,
        slow_key_generation_seconds=monitor.config.slow_key_generation_seconds,
    )
    env = OtelEnv.from_environ(environ_or_process(None))

    def providers() -> Telemetry:
        return build_telemetry(settings, env)

    remote = find_tier(base, "redis")
    stack = Instrumented(
        base,
        providers(),
        settings=settings,
        namespace=config.namespace,
        memory=memory_tier(base),
        remote=remote if isinstance(remote, RemoteTier) else None,
        monitor=monitor,
        rebuild_telemetry=providers,
    )
    stack.config = config
    stack.key_generator = base.key_generator
    return stack
