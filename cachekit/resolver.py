"""``resolve``: from a ``CacheConfig`` (or the layered settings) to a wired cache stack.

The one place that knows the concrete classes: each component gets the settings section
it uses, and the derived values (``config.budget``, ``config.key_prefix``) are computed
once, in the config. Nothing connects until ``await cache.connect()`` (or ``async with``)::

    NullCache                                      enabled = false
    InMemoryCache                                  memory.enabled, no redis.url
    ResilientCache(TieredCache(InMemoryCache, R))  both; R from the backend registry, the
                                                   memory tier kept coherent with it
    ResilientCache(R)                              redis.url only (a standby memory cache
                                                   serves while Redis fails)
    wrapped by Instrumented (monitoring.enabled), then AIResponseCache (ai.enabled)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cachekit.backends.memory import InMemoryCache
from cachekit.backends.null import NullCache
from cachekit.backends.registry import remote_backend
from cachekit.config.model import CacheConfig
from cachekit.config.posture import log_findings
from cachekit.config.settings import environ_or_process, load_config
from cachekit.keys import CacheKeyGenerator
from cachekit.layers.ai.cache import AIResponseCache
from cachekit.layers.coherence import Coherence
from cachekit.layers.resilience.cache import ResilientCache
from cachekit.layers.tagging import GuardedTags
from cachekit.layers.tiered import TieredCache
from cachekit.protocol import CacheInterface
from cachekit.telemetry.env import OtelEnv
from cachekit.telemetry.instrumented import Instrumented
from cachekit.telemetry.otel import Telemetry, build_telemetry


def _memory(config: CacheConfig) -> InMemoryCache:
    return InMemoryCache(
        default_ttl=config.ttl.default,
        max_size=config.memory.max_entries,
        max_bytes=config.memory.max_bytes,
        max_value_bytes=config.max_value_bytes,
        copies=config.memory.copies,
    )


def build_stack(config: CacheConfig, *, redis_client: Any = None) -> CacheInterface:
    """The storage layers a config asks for, without cross-cutting wrappers."""
    if not config.enabled:
        return NullCache(config.ttl.default)
    memory = _memory(config) if config.memory.enabled else None
    remote = remote_backend(config, client=redis_client)
    if memory is not None and remote is not None:
        return TieredCache(memory, remote)
    tier = remote or memory
    assert tier is not None, "validation guarantees a tier"
    return tier


def resolve(
    config: CacheConfig | None = None,
    *,
    environment: str | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    root: str | Path | None = None,
    redis_client: Any = None,
) -> CacheInterface:
    """The fully wired, not yet connected cache for ``config`` or the layered settings.

    Without ``config`` the settings layers are read (``environ`` defaults to
    ``os.environ``). ``redis_client`` substitutes the Redis client (tests, fakeredis).
    """
    if config is None:
        config = load_config(
            environ=environ, environment=environment, preset=preset, overrides=overrides, root=root
        )
    # Every start logs the posture warnings (accepted risks, plaintext to loopback).
    log_findings(config)
    memory = _memory(config) if config.enabled and config.memory.enabled else None
    remote = remote_backend(config, client=redis_client) if config.enabled else None
    cache: CacheInterface
    counts = None
    tags = None
    if not config.enabled:
        cache = NullCache(config.ttl.default)
    elif remote is None:
        assert memory is not None, "validation guarantees a tier"
        cache = memory
    else:  # Redis failures degrade to memory
        cache = ResilientCache(
            remote,
            config.resilience,
            config.budget,
            memory=memory,
            standby=None if memory is not None else _memory(config),
            coherence=Coherence(
                memory, config.memory.coherence, max_stale=config.memory.max_stale_seconds
            ),
            lease_seconds=config.redis.lease_seconds,
            refresh=config.refresh,
            strict=config.redis.fail_on_connection_error,
        )
        counts = cache.counts
        stale = [config.refresh.stale_seconds]
        stale += [policy.stale_seconds for policy in config.refresh.operations.values()]
        tags = GuardedTags(
            remote,
            cache.breaker,
            timeout=config.budget.call,
            strict=config.redis.fail_on_connection_error,
            pad=max(stale),
        )
    if config.enabled and config.monitoring.enabled:  # telemetry sees what callers see
        # The OTEL_* variables are read here, at the boundary, like the settings layers.
        env = OtelEnv.from_environ(environ_or_process(environ))
        settings = config.monitoring

        def providers() -> Telemetry:
            return build_telemetry(settings, env)

        cache = Instrumented(
            cache,
            providers(),
            settings=settings,
            namespace=config.namespace,
            memory=memory,
            remote=remote,
            counts=counts,
            rebuild_telemetry=providers,  # a fresh pipeline after aclose shut one down
        )
    if config.ai.enabled:  # the AI domain layer is always outermost
        cache = AIResponseCache(
            cache,
            config.ai,
            sample_every=config.monitoring.duration_sample_every,
            memory=memory,
            preset=config.preset,
        )
    cache.config = config
    if tags is not None:
        cache.tag_store = tags
    if cache.key_generator is None:
        cache.key_generator = CacheKeyGenerator.from_config(config.ai)
    return cache
