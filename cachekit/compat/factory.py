"""``CacheFactory``: the original entry points, over ``resolve``.

Factory methods are plain calls that return a cache that is not yet connected; connect
it with ``await cache.connect()``, ``async with``, or ``await`` the result as the
original's coroutine methods were awaited (``cache = await factory.for_web_app(...)``
connects and gives the cache). Every value they do not set comes from a preset, through
the same validation as any other config. The original's positional parameter order is
kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from cachekit.compat.ai import AIResponseCache
from cachekit.compat.memory import InMemoryCache
from cachekit.compat.params import build_config
from cachekit.compat.redis import GenericRedisCache
from cachekit.config.model import CacheConfig, SecurityConfig

__all__ = ["CacheFactory"]

_OBJECT_KEYS = ("performance_monitor", "hash_algorithm")


def _of_config(
    config: CacheConfig, monitor: Any = None, hash_algorithm: Any = None
) -> GenericRedisCache | AIResponseCache:
    """The compat cache of a resolved config: an ``AIResponseCache`` when ``ai.enabled``."""
    if config.ai.enabled:
        return AIResponseCache(
            config=config, performance_monitor=monitor, hash_algorithm=hash_algorithm
        )
    if hash_algorithm is not None:
        raise TypeError("hash_algorithm needs AI settings: the config has ai.enabled = false")
    return GenericRedisCache(config=config, performance_monitor=monitor)


class CacheFactory:
    """Explicit cache creation for common kinds of app.

    The methods are static; ``CacheFactory()`` instances work too, as in the original
    (``factory = CacheFactory(); cache = await factory.for_ai_app(...)``).
    """

    @staticmethod
    def for_web_app(
        redis_url: str | None = None,
        default_ttl: int | None = None,
        enable_l1_cache: bool | None = None,
        l1_cache_size: int | None = None,
        compression_threshold: int | None = None,
        compression_level: int | None = None,
        security_config: SecurityConfig | None = None,
        fail_on_connection_error: bool | None = None,
        *,
        environment: str | None = None,
        performance_monitor: Any = None,
        **overrides: Any,
    ) -> GenericRedisCache:
        """A memory tier in front of Redis, from the ``simple`` preset (AI settings are
        refused: use ``for_ai_app``)."""
        params = dict(locals())
        for name in ("environment", "performance_monitor", "overrides"):
            params.pop(name)
        params.update(overrides)
        config = build_config("simple", environment, params, ai=False)
        return GenericRedisCache(config=config, performance_monitor=performance_monitor)

    @staticmethod
    def for_ai_app(
        redis_url: str | None = None,
        default_ttl: int | None = None,
        enable_l1_cache: bool | None = None,
        l1_cache_size: int | None = None,
        compression_threshold: int | None = None,
        compression_level: int | None = None,
        text_hash_threshold: int | None = None,
        memory_cache_size: int | None = None,
        operation_ttls: Mapping[str, int] | None = None,
        security_config: SecurityConfig | None = None,
        fail_on_connection_error: bool | None = None,
        *,
        environment: str | None = None,
        performance_monitor: Any = None,
        hash_algorithm: Any = None,
        **overrides: Any,
    ) -> AIResponseCache:
        """An AI response cache over Redis, from the ``ai-production`` preset."""
        params = dict(locals())
        for name in ("environment", "performance_monitor", "hash_algorithm", "overrides"):
            params.pop(name)
        params.update(overrides)
        if operation_ttls is not None:
            params["operation_ttls"] = dict(operation_ttls)
        config = build_config("ai-production", environment, params, ai=True)
        return AIResponseCache(
            config=config, performance_monitor=performance_monitor, hash_algorithm=hash_algorithm
        )

    @staticmethod
    def for_testing(
        redis_url: str = "memory",
        default_ttl: int | None = None,
        enable_l1_cache: bool | None = None,
        l1_cache_size: int | None = None,
        compression_threshold: int | None = None,
        compression_level: int | None = None,
        security_config: SecurityConfig | None = None,
        fail_on_connection_error: bool | None = None,
        use_memory_cache: bool | None = None,
        *,
        cache_type: str | None = None,
        performance_monitor: Any = None,
        **overrides: Any,
    ) -> GenericRedisCache | InMemoryCache:
        """A short-TTL cache from the ``testing`` preset.

        ``for_testing("memory")`` (the default) or ``use_memory_cache=True`` gives an
        ``InMemoryCache``; ``for_testing("redis")`` Redis database 15 on localhost without
        a memory tier, and ``for_testing("redis://host:port/db")`` (the original's first
        parameter) that Redis.
        """
        kind = cache_type or redis_url
        if use_memory_cache:
            kind = "memory"
        if kind not in {"memory", "redis"} and "://" not in kind:
            raise ValueError(f"cache_type must be 'memory', 'redis' or a Redis URL, got {kind!r}")
        params: dict[str, Any] = {
            "default_ttl": default_ttl,
            "enable_l1_cache": enable_l1_cache,
            "l1_cache_size": l1_cache_size,
            "compression_threshold": compression_threshold,
            "compression_level": compression_level,
            "security_config": security_config,
            "fail_on_connection_error": fail_on_connection_error,
            **overrides,
        }
        if kind == "memory":
            config = build_config("testing", "testing", params, ai=False)
            return InMemoryCache(
                default_ttl=config.ttl.default,
                max_size=l1_cache_size or config.memory.max_entries,
                max_bytes=config.memory.max_bytes,
            )
        params["redis_url"] = "redis://localhost:6379/15" if kind == "redis" else kind
        if enable_l1_cache is None:
            params["enable_l1_cache"] = False
        config = build_config("testing", "testing", params, ai=False)
        return GenericRedisCache(config=config, performance_monitor=performance_monitor)

    @staticmethod
    def create_cache_from_config(
        config: CacheConfig | Mapping[str, Any] | Any,
        fail_on_connection_error: bool | None = None,
        *,
        environment: str | None = None,
        performance_monitor: Any = None,
    ) -> GenericRedisCache | AIResponseCache:
        """The cache of a ``CacheConfig``, of the original's ``CacheConfig`` record, or of
        a dict of settings (the original's flat names, nested or dotted keys; a
        ``preset`` key picks the preset, default ``simple``).

        AI settings give an ``AIResponseCache`` (bug fix: they were accepted and
        ignored); AI settings next to ``enable_ai_cache=False`` are refused.
        """
        hash_algorithm = None
        if isinstance(config, CacheConfig):
            resolved = config
            if fail_on_connection_error is not None:
                redis = msgspec.structs.replace(
                    config.redis, fail_on_connection_error=fail_on_connection_error
                )
                resolved = msgspec.structs.replace(config, redis=redis)
        elif isinstance(config, Mapping):
            params = dict(config)
            objects = {name: params.pop(name, None) for name in _OBJECT_KEYS}
            performance_monitor = performance_monitor or objects["performance_monitor"]
            hash_algorithm = objects["hash_algorithm"]
            if fail_on_connection_error is not None:
                params["fail_on_connection_error"] = fail_on_connection_error
            resolved = build_config("simple", environment, params, ai=None)
        elif callable(getattr(config, "to_cache_config", None)):
            resolved = config.to_cache_config()
            return CacheFactory.create_cache_from_config(
                resolved, fail_on_connection_error, performance_monitor=performance_monitor
            )
        else:
            raise TypeError(
                f"config must be a CacheConfig or a mapping, got {type(config).__name__}"
            )
        if hash_algorithm is not None and not resolved.ai.enabled:
            raise TypeError("hash_algorithm needs AI settings: the config has ai.enabled = false")
        return _of_config(resolved, performance_monitor, hash_algorithm)
