"""``CacheFactory`` and ``GenericRedisCache``: the original entry points, over ``resolve``.

Factory methods are plain calls that return a cache that is not yet connected; connect
it with ``await cache.connect()`` or ``async with``. Every value they do not set comes
from a preset, through the same validation as any other config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cachekit.compat.ai import AIResponseCache
from cachekit.compat.params import build_config as _build
from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.layers.wrapper import CacheWrapper
from cachekit.protocol import CacheInterface
from cachekit.resolver import resolve


class CacheFactory:
    """Explicit cache creation for common kinds of app."""

    @staticmethod
    def for_web_app(
        redis_url: str = "redis://localhost:6379",
        *,
        default_ttl: int | None = None,
        enable_l1_cache: bool | None = None,
        l1_cache_size: int | None = None,
        compression_threshold: int | None = None,
        compression_level: int | None = None,
        fail_on_connection_error: bool | None = None,
        security_config: SecurityConfig | None = None,
        environment: str | None = None,
        **overrides: Any,
    ) -> CacheInterface:
        """A memory tier in front of Redis, from the ``simple`` preset."""
        params = dict(locals())
        params.pop("environment")
        params.update(params.pop("overrides"))
        return resolve(_build("simple", environment, params))

    @staticmethod
    def for_ai_app(
        redis_url: str = "redis://localhost:6379",
        *,
        default_ttl: int | None = None,
        enable_l1_cache: bool | None = None,
        l1_cache_size: int | None = None,
        compression_threshold: int | None = None,
        compression_level: int | None = None,
        text_hash_threshold: int | None = None,
        operation_ttls: Mapping[str, int] | None = None,
        fail_on_connection_error: bool | None = None,
        security_config: SecurityConfig | None = None,
        environment: str | None = None,
        **overrides: Any,
    ) -> AIResponseCache:
        """An AI response cache over Redis, from the ``ai-production`` preset."""
        params = dict(locals())
        params.pop("environment")
        params.update(params.pop("overrides"))
        cache = resolve(_build("ai-production", environment, params))
        return cache if isinstance(cache, AIResponseCache) else AIResponseCache(inner=cache)

    @staticmethod
    def for_testing(
        cache_type: str = "memory",
        *,
        redis_url: str = "redis://localhost:6379/15",
        **overrides: Any,
    ) -> CacheInterface:
        """A short-TTL cache for tests: ``"memory"`` or ``"redis"`` (no memory tier)."""
        if cache_type not in {"memory", "redis"}:
            raise ValueError(f"cache_type must be 'memory' or 'redis', got {cache_type!r}")
        params: dict[str, Any] = dict(overrides)
        if cache_type == "redis":
            params.setdefault("redis_url", redis_url)
            params.setdefault("enable_l1_cache", False)
        return resolve(_build("testing", "testing", params))

    @staticmethod
    def create_cache_from_config(
        config: CacheConfig | Mapping[str, Any], *, environment: str | None = None
    ) -> CacheInterface:
        """The cache for a ``CacheConfig``, or for a dict of settings (nested, dotted or the
        original flat names; a ``preset`` key picks the preset, default ``simple``)."""
        if isinstance(config, CacheConfig):
            return resolve(config)
        params = dict(config)
        preset = str(params.pop("preset", "simple"))
        return resolve(_build(preset, environment, params))


class GenericRedisCache(CacheWrapper):
    """Redis with a memory tier in front, compression and graceful degradation.

    The original's constructor, over the resolved stack: parameters left out come from
    the ``simple`` preset.
    """

    def __init__(
        self,
        redis_url: str = "redis://localhost:6379",
        default_ttl: int | None = None,
        enable_l1_cache: bool | None = None,
        l1_cache_size: int | None = None,
        compression_threshold: int | None = None,
        compression_level: int | None = None,
        fail_on_connection_error: bool | None = None,
        security_config: SecurityConfig | None = None,
        *,
        config: CacheConfig | None = None,
        **overrides: Any,
    ) -> None:
        if config is None:
            params = dict(locals())
            for name in ("self", "config", "overrides", "__class__"):
                params.pop(name, None)
            params.update(overrides)
            config = _build("simple", None, params)
        super().__init__(resolve(config))
        self.config = config
