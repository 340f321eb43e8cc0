"""The original's flat parameters (``redis_url=``, ``l1_cache_size=``, ...) as config overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cachekit.compat.builder import CacheConfigBuilder
from cachekit.config.model import CacheConfig

# The original's flat parameter names, mapped onto config keys.
LEGACY_KEYS: dict[str, str] = {
    "redis_url": "redis.url",
    "default_ttl": "ttl.default",
    "enable_l1_cache": "memory.enabled",
    "l1_cache_size": "memory.max_entries",
    "memory_cache_size": "memory.max_entries",
    "compression_threshold": "compression.threshold",
    "compression_level": "compression.level",
    "compression_algorithm": "compression.algorithm",
    "fail_on_connection_error": "redis.fail_on_connection_error",
    "max_connections": "redis.max_connections",
    "text_hash_threshold": "ai.text_hash_threshold",
    "max_text_length": "ai.max_text_length",
    "operation_ttls": "ai.operation_ttls",
    "text_size_tiers": "ai.size_tiers",
}


def legacy_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    """Config overrides from the original's flat parameters (None means "not given")."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        out[LEGACY_KEYS.get(name, name)] = value
    return out


def build_config(preset: str, environment: str | None, params: Mapping[str, Any]) -> CacheConfig:
    """The validated config of the original's flat parameters over ``preset``."""
    builder = CacheConfigBuilder()
    if environment is not None:
        builder.for_environment(environment)
    builder.with_preset(preset)
    security = params.get("security_config")
    if security is not None:
        builder.with_security(security)
    rest = {k: v for k, v in params.items() if k != "security_config"}
    return builder.with_overrides(legacy_overrides(rest)).build()
