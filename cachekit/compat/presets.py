"""``EnvironmentPresets``: the presets by name as built ``CacheConfig`` objects.

Each preset is built in the environment it is meant for (``production()`` has
``environment == "production"``, as in the original), from the preset files, the one
place defaults live.
"""

from __future__ import annotations

from typing import Any, Final

from cachekit.compat.builder import CacheConfigBuilder
from cachekit.config.model import CacheConfig
from cachekit.config.presets import preset_names, read_preset
from cachekit.errors import CacheConfigError, ConfigProblem

__all__ = ["EnvironmentPresets", "preset_environment"]

# The environment each preset is built in (the original's first environment context).
_ENVIRONMENTS: Final = {
    "disabled": "testing",
    "testing": "testing",
    "production": "production",
    "ai-production": "production",
}


def preset_environment(name: str) -> str:
    """The environment preset ``name`` is built in (``development`` unless it is one of
    the testing or production presets)."""
    return _ENVIRONMENTS.get(name, "development")


def preset_config(name: str) -> CacheConfig:
    """Preset ``name`` built in its environment."""
    builder = CacheConfigBuilder().for_environment(preset_environment(name))
    return builder.with_preset(name).build()


class EnvironmentPresets:
    """The presets by name, as built ``CacheConfig`` objects, plus a recommender."""

    @staticmethod
    def disabled() -> CacheConfig:
        """Caching off: every get misses."""
        return preset_config("disabled")

    @staticmethod
    def minimal() -> CacheConfig:
        """Redis only, smallest footprint."""
        return preset_config("minimal")

    @staticmethod
    def simple() -> CacheConfig:
        """Memory tier in front of Redis, balanced."""
        return preset_config("simple")

    @staticmethod
    def development() -> CacheConfig:
        """Memory tier only; no Redis needed."""
        return preset_config("development")

    @staticmethod
    def testing() -> CacheConfig:
        """Short TTLs, memory tier only."""
        return preset_config("testing")

    @staticmethod
    def production() -> CacheConfig:
        """Memory tier in front of Redis, long TTLs."""
        return preset_config("production")

    @staticmethod
    def ai_development() -> CacheConfig:
        """AI response caching for development."""
        return preset_config("ai-development")

    @staticmethod
    def ai_production() -> CacheConfig:
        """AI response caching for production."""
        return preset_config("ai-production")

    @staticmethod
    def get_preset_names() -> list[str]:
        """Names of every preset."""
        return preset_names()

    @staticmethod
    def get_preset_details(name: str) -> dict[str, Any]:
        """Description, use cases, environment and the main values of preset ``name``
        (the original's keys: ``configuration.default_ttl``, ``memory_cache_size``,
        ``enable_ai_cache``, ..., ``environment_contexts``, ``ai_optimizations``)."""
        if name not in preset_names():
            raise CacheConfigError(
                [ConfigProblem(key="preset", message="unknown preset", value=repr(name))]
            )
        _, about = read_preset(name)
        config = preset_config(name)
        ai = config.ai
        tiers = ai.size_tiers
        return {
            "name": name,
            "description": about.get("description", ""),
            "use_cases": list(about.get("use_cases", [])),
            "environment_contexts": [config.environment],
            "configuration": {
                "default_ttl": config.ttl.default,
                "redis": bool(config.redis.url),
                "memory_tier": config.memory.enabled,
                "memory_max_entries": config.memory.max_entries,
                "memory_cache_size": config.memory.max_entries if config.memory.enabled else 0,
                "compression": f"{config.compression.algorithm} level {config.compression.level}"
                f" above {config.compression.threshold} B",
                "max_connections": config.redis.max_connections,
                "connection_timeout": config.redis.connect_timeout,
                "ai": ai.enabled,
                "enable_ai_cache": ai.enabled,
                "enable_monitoring": config.monitoring.enabled,
                "enabled": config.enabled,
            },
            "ai_optimizations": {
                "text_hash_threshold": ai.text_hash_threshold,
                "hash_algorithm": "sha256",
                "text_size_tiers": {
                    "small": tiers.small,
                    "medium": tiers.medium,
                    "large": tiers.large,
                },
                "operation_ttls": dict(ai.operation_ttls),
                "enable_smart_promotion": True,
                "max_text_length": ai.max_text_length,
            }
            if ai.enabled
            else None,
        }

    @staticmethod
    def recommend_preset(environment: str | None = None, *, ai: bool = False) -> str:
        """The preset that suits an environment name (``prod``, ``staging``, ``ci``, ...)."""
        name = (environment or "development").lower()
        if name in preset_names():
            return name
        if any(word in name for word in ("prod", "live", "stag")):
            base = "production"
        elif any(word in name for word in ("test", "ci")):
            base = "testing"
        else:
            base = "development"
        if ai or name.startswith("ai"):
            return "ai-production" if base == "production" else "ai-development"
        return base
