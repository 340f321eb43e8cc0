"""``resolve``: from a ``CacheConfig`` (or the layered settings) to a wired cache stack.

The stack is a composition of objects implementing one protocol; nothing connects until
``await cache.connect()`` (or ``async with``)::

    NullCache                                   enabled = false
    InMemoryCache | RedisBackend | TieredCache  by memory.enabled and redis.url
    wrapped by the cross-cutting layers (resilience, telemetry, AI domain layer)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from cachekit.backends.memory import InMemoryCache
from cachekit.backends.null import NullCache
from cachekit.backends.redis.backend import RedisBackend
from cachekit.config.model import CacheConfig
from cachekit.config.posture import log_findings
from cachekit.config.settings import load_config
from cachekit.keys import CacheKeyGenerator
from cachekit.layers.ai.cache import AIResponseCache
from cachekit.layers.resilience.cache import ResilientCache
from cachekit.layers.tiered import TieredCache
from cachekit.protocol import CacheInterface
from cachekit.telemetry.instrumented import instrument
from cachekit.telemetry.otel import OtelEnv


def build_stack(
    config: CacheConfig, *, redis_client: aioredis.Redis | None = None
) -> CacheInterface:
    """The storage layers a config asks for, without cross-cutting wrappers."""
    if not config.enabled:
        return NullCache(config.ttl.default)
    memory = (
        InMemoryCache(
            default_ttl=config.ttl.default,
            max_size=config.memory.max_entries,
            max_bytes=config.memory.max_bytes,
        )
        if config.memory.enabled
        else None
    )
    remote = RedisBackend(config, client=redis_client) if config.redis.url else None
    if memory is not None and remote is not None:
        return TieredCache(memory, remote)
    if remote is not None:
        return remote
    assert memory is not None, "validation guarantees a tier"
    return memory


def resolve(
    config: CacheConfig | None = None,
    *,
    environment: str | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    root: str | Path | None = None,
    redis_client: aioredis.Redis | None = None,
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
    cache = build_stack(config, redis_client=redis_client)
    cache.config = config
    cache.key_generator = CacheKeyGenerator.from_config(config.ai)
    # Cross-cutting wrappers, innermost first; each implements the same protocol and
    # copies config and key_generator from the layer it wraps.
    if config.enabled and config.redis.url:  # Redis failures degrade to memory
        cache = ResilientCache(cache, config, probe_client=redis_client)
    if config.enabled and config.monitoring.enabled:  # telemetry sees what callers see
        # The OTEL_* variables are read here, at the boundary, like the settings layers.
        cache = instrument(cache, OtelEnv.from_environ(os.environ if environ is None else environ))
    if config.ai.enabled:  # the AI domain layer is always outermost
        cache = AIResponseCache(inner=cache)
    return cache
