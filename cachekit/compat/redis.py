"""``GenericRedisCache``: the original's Redis cache constructor, over the resolved stack.

Parameters left out come from the ``simple`` preset (never from Python defaults); the
original's security keywords (``redis_password``, ``use_tls``, ``acl_username``, ...)
and a ``SecurityConfig`` go through the same validation. AI settings are refused here:
an ``AIResponseCache`` uses them (it counts as a ``GenericRedisCache``, as in the
original).
"""

from __future__ import annotations

from typing import Any

from cachekit.compat.params import build_config
from cachekit.compat.stack import build_stack
from cachekit.compat.surface import OriginalSurface
from cachekit.config.masking import mask_url
from cachekit.config.model import CacheConfig, SecurityConfig

__all__ = ["DEFAULT_PRESET", "GenericRedisCache"]

DEFAULT_PRESET = "simple"
"""Preset of a ``GenericRedisCache`` built from the original's flat parameters."""


class GenericRedisCache(OriginalSurface):
    """Redis with a memory tier in front, compression and graceful degradation.

    ``GenericRedisCache(redis_url, default_ttl, enable_l1_cache, l1_cache_size,
    compression_threshold, compression_level, performance_monitor, security_config,
    fail_on_connection_error, **security_keywords)`` as in the original, or
    ``GenericRedisCache(config=cache_config)``. Nothing connects before ``connect()``,
    ``await cache`` or the first call.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        default_ttl: int | None = None,
        enable_l1_cache: bool | None = None,
        l1_cache_size: int | None = None,
        compression_threshold: int | None = None,
        compression_level: int | None = None,
        performance_monitor: Any = None,
        security_config: SecurityConfig | None = None,
        fail_on_connection_error: bool | None = None,
        *,
        config: CacheConfig | None = None,
        preset: str | None = None,
        **overrides: Any,
    ) -> None:
        if config is None:
            params = {
                "redis_url": redis_url,
                "default_ttl": default_ttl,
                "enable_l1_cache": enable_l1_cache,
                "l1_cache_size": l1_cache_size,
                "compression_threshold": compression_threshold,
                "compression_level": compression_level,
                "security_config": security_config,
                "fail_on_connection_error": fail_on_connection_error,
                **overrides,
            }
            config = build_config(preset or DEFAULT_PRESET, None, params, ai=False)
        elif config.ai.enabled:
            raise TypeError(
                "this config has ai.enabled: build an AIResponseCache(config=...) for it"
            )
        super().__init__(build_stack(config, performance_monitor))
        self._init_surface(config, performance_monitor, security_config)

    def __repr__(self) -> str:
        return f"GenericRedisCache(redis_url={mask_url(self.redis_url)!r})"

    async def clear(self, operation_context: str = "") -> None:
        """Remove every entry of this cache's namespace (``operation_context`` is the
        original's label; it is not needed)."""
        await super().clear()
