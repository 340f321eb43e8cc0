"""``AIResponseCache`` as the original built it: from flat parameters, or around a stack.

The class is the core AI layer (``cachekit.layers.ai.cache.AIResponseCache``, which
``resolve`` builds and which takes the AI settings explicitly) with the original's
constructor and surface on top (``cachekit.compat.surface``). It counts as a
``GenericRedisCache``, as in the original, and a layer ``resolve`` built counts as one of
these (``isinstance(resolve(ai_config), cachekit.AIResponseCache)`` holds). The
original's statistics methods are in ``cachekit.compat.ai_stats``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from cachekit.compat.ai_stats import AIStatsViews
from cachekit.compat.keys import hash_name
from cachekit.compat.params import build_config
from cachekit.compat.redis import GenericRedisCache
from cachekit.compat.stack import build_stack
from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.layers.ai.cache import AIResponseCache as AILayer
from cachekit.layers.wrapper import memory_tier
from cachekit.protocol import CacheInterface

__all__ = ["DEFAULT_PRESET", "AIResponseCache", "config_from_params", "hash_name"]

DEFAULT_PRESET: Final = "ai-production"
"""Preset of an ``AIResponseCache`` built from the original's flat parameters."""


def config_from_params(preset: str, params: Mapping[str, Any]) -> CacheConfig:
    """The config of the original's flat parameters over ``preset``, AI layer on."""
    return build_config(preset, None, params, ai=True)


class AIResponseCache(AIStatsViews, AILayer):
    """Cache of AI responses: prompt-aware keys, per-operation TTLs, savings, invalidation.

    Three ways to build one:

    - ``AIResponseCache(redis_url, default_ttl, text_hash_threshold, hash_algorithm, ...)``:
      the original's parameters, in its order, over the ``ai-production`` preset
      (``preset=`` picks another); parameters left out come from the preset;
    - ``AIResponseCache(config=cache_config)`` resolves the stack of a ``CacheConfig``;
    - ``AIResponseCache(inner=stack)`` wraps a stack; the AI settings come from
      ``config=`` or the stack's config.

    ``clock`` (monotonic seconds) times ``get_or_set`` loaders; tests inject a fake one.
    ``performance_monitor`` is the stack's monitor (see ``cachekit.compat.stack``); the
    invalidation methods' ``operation_context`` is accepted for the original's signatures.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        default_ttl: int | None = None,
        text_hash_threshold: int | None = None,
        hash_algorithm: str | Callable[..., Any] | None = None,
        compression_threshold: int | None = None,
        compression_level: int | None = None,
        text_size_tiers: Mapping[str, int] | None = None,
        memory_cache_size: int | None = None,
        l1_cache_size: int | None = None,
        enable_l1_cache: bool | None = None,
        performance_monitor: Any = None,
        operation_ttls: Mapping[str, int] | None = None,
        security_config: SecurityConfig | None = None,
        fail_on_connection_error: bool | None = None,
        *,
        preset: str | None = None,
        config: CacheConfig | None = None,
        inner: CacheInterface | None = None,
        clock: Callable[[], float] = time.perf_counter,
        **overrides: Any,
    ) -> None:
        params = {
            "redis_url": redis_url,
            "default_ttl": default_ttl,
            "text_hash_threshold": text_hash_threshold,
            "compression_threshold": compression_threshold,
            "compression_level": compression_level,
            "text_size_tiers": dict(text_size_tiers) if text_size_tiers is not None else None,
            "memory_cache_size": memory_cache_size,
            "l1_cache_size": l1_cache_size,
            "enable_l1_cache": enable_l1_cache,
            "operation_ttls": dict(operation_ttls) if operation_ttls is not None else None,
            "security_config": security_config,
            "fail_on_connection_error": fail_on_connection_error,
            **overrides,
        }
        params = {k: v for k, v in params.items() if v is not None}
        if (inner is not None or config is not None) and (params or preset is not None):
            raise TypeError(
                "AIResponseCache takes either inner=/config= or the flat parameters "
                f"(got {', '.join(sorted(params)) or 'preset'} as well)"
            )
        if inner is None:
            if config is None:
                config = config_from_params(preset or DEFAULT_PRESET, params)
            inner = build_stack(config, performance_monitor)
        else:
            config = config or inner.config
        chosen = config or config_from_params(DEFAULT_PRESET, {})
        if hash_algorithm is None:
            hash_algorithm = "sha256"
        own_monitor = inner.monitor
        super().__init__(
            inner,
            chosen.ai,
            sample_every=chosen.monitoring.duration_sample_every,
            monitor=None if performance_monitor is own_monitor else performance_monitor,
            memory=memory_tier(inner),
            preset=config.preset if config is not None else None,
            hash_algorithm=hash_name(hash_algorithm),
            clock=clock,
        )
        self.hash_algorithm = hash_algorithm
        self._init_surface(chosen, performance_monitor, security_config)
        self.config = config

    @classmethod
    def __subclasshook__(cls, subclass: type) -> Any:
        # The core layer ``resolve`` builds is one of these to code written against the
        # original (an ABC hook: a class cannot be registered with its own subclass).
        if cls is AIResponseCache and AILayer in getattr(subclass, "__mro__", ()):
            return True
        return NotImplemented


GenericRedisCache.register(AIResponseCache)
