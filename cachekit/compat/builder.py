"""``CacheConfigBuilder``: the original fluent builder, over the same layered resolution.

Every ``with_*`` call records a code override; ``build()`` runs the one validation path
and returns the frozen ``CacheConfig``. Without ``from_environment()`` the builder uses
the preset and its own overrides only; ``from_environment()`` adds settings.toml,
.secrets.toml and ``CACHEKIT_*`` variables beneath them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.config.presets import preset_names, read_preset
from cachekit.config.settings import ResolvedSettings, environ_or_process, resolve_settings
from cachekit.errors import CacheConfigError, ConfigProblem


class CacheConfigBuilder:
    """Fluent construction of a ``CacheConfig``; every method returns the builder."""

    def __init__(self) -> None:
        self._overrides: dict[str, Any] = {}
        self._environment: str | None = None
        self._preset: str | None = None
        self._environ: Mapping[str, str] = {}
        self._root: str | Path | None = None
        self._use_files = False
        self._files: tuple[str | Path, ...] = ()

    def _set(self, dotted: str, value: Any) -> CacheConfigBuilder:
        if value is not None:
            self._overrides[dotted] = value
        return self

    def for_environment(self, environment: str) -> CacheConfigBuilder:
        """Use ``environment``; its preset too when one has that name (e.g. ``production``)."""
        self._environment = environment
        if environment in preset_names():
            self._preset = environment
        return self

    def with_preset(self, name: str) -> CacheConfigBuilder:
        """Start from preset ``name`` regardless of the environment."""
        self._preset = name
        return self

    def with_redis(
        self,
        redis_url: str,
        *,
        password: str | None = None,
        username: str | None = None,
        max_connections: int | None = None,
        socket_timeout: float | None = None,
        connect_timeout: float | None = None,
        fail_on_connection_error: bool | None = None,
    ) -> CacheConfigBuilder:
        """Point the cache at Redis."""
        self._set("redis.url", redis_url)
        self._set("redis.password", password)
        self._set("redis.username", username)
        self._set("redis.max_connections", max_connections)
        self._set("redis.socket_timeout", socket_timeout)
        self._set("redis.connect_timeout", connect_timeout)
        return self._set("redis.fail_on_connection_error", fail_on_connection_error)

    def with_security(
        self, security: SecurityConfig | None = None, **fields: Any
    ) -> CacheConfigBuilder:
        """Set TLS / posture options from a ``SecurityConfig`` or keyword fields.

        Only the fields a ``SecurityConfig`` sets away from their defaults are applied, so
        ``SecurityConfig(username=..., password=...)`` does not reset the preset's posture
        or keys configured in other layers; keyword fields always apply.
        """
        values: dict[str, Any] = {}
        if security is not None:
            for field in msgspec.structs.fields(security):
                value = getattr(security, field.name)
                if value != field.default:
                    values[field.name] = value
        values.update(fields)
        for key, value in values.items():
            self._set(f"security.{key}", value)
        return self

    def with_compression(
        self, threshold: int | None = None, level: int | None = None, algorithm: str | None = None
    ) -> CacheConfigBuilder:
        """Compression threshold (bytes), level and algorithm."""
        self._set("compression.threshold", threshold)
        self._set("compression.level", level)
        return self._set("compression.algorithm", algorithm)

    def with_memory_cache(
        self, size: int | None = None, *, max_bytes: int | None = None, enabled: bool = True
    ) -> CacheConfigBuilder:
        """Enable (or disable) the memory tier and bound it."""
        self._set("memory.enabled", enabled)
        self._set("memory.max_entries", size)
        return self._set("memory.max_bytes", max_bytes)

    def with_ai_features(self, **fields: Any) -> CacheConfigBuilder:
        """Enable the AI layer; unset AI values come from the matching ``ai-*`` preset."""
        ai_preset = "ai-production" if self._environment == "production" else "ai-development"
        ai_defaults, _ = read_preset(ai_preset)
        current = self._preset or ""
        if not current.startswith("ai-"):
            for key, value in ai_defaults.get("ai", {}).items():
                self._overrides[f"ai.{key}"] = value
        self._overrides["ai.enabled"] = True
        for key, value in fields.items():
            self._set(f"ai.{key}", value)
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> CacheConfigBuilder:
        """Any keys, nested or dotted (``{"ttl.default": 60}``)."""
        self._overrides.update(overrides)
        return self

    def from_file(self, path: str | Path) -> CacheConfigBuilder:
        """Add a TOML file as a layer (sectioned like settings.toml, or a flat table)."""
        self._files = (*self._files, path)
        return self

    def from_environment(
        self, environ: Mapping[str, str] | None = None, *, root: str | Path | None = None
    ) -> CacheConfigBuilder:
        """Read settings.toml, .secrets.toml and ``CACHEKIT_*`` variables beneath the overrides."""
        self._environ = environ_or_process(environ)
        self._root = root
        self._use_files = True
        return self

    def resolve(self) -> ResolvedSettings:
        """The validated config and the source of each leaf."""
        return resolve_settings(
            environ=self._environ,
            environment=self._environment,
            preset=self._preset,
            overrides=self._overrides,
            root=self._root,
            use_files=self._use_files,
            extra_files=self._files,
        )

    def validate(self) -> list[ConfigProblem]:
        """Every problem of the configuration so far (empty when it is valid)."""
        try:
            self.resolve()
        except CacheConfigError as exc:
            return list(exc.problems)
        return []

    def build(self) -> CacheConfig:
        """The frozen ``CacheConfig``; raises ``CacheConfigError`` listing every problem."""
        return self.resolve().config

    def to_dict(self) -> dict[str, Any]:
        """The built config as a plain dict."""
        return self.build().to_dict()


def _preset_config(name: str) -> CacheConfig:
    return CacheConfigBuilder().with_preset(name).build()


class EnvironmentPresets:
    """The presets by name, as built ``CacheConfig`` objects, plus a recommender."""

    @staticmethod
    def disabled() -> CacheConfig:
        """Caching off: every get misses."""
        return _preset_config("disabled")

    @staticmethod
    def minimal() -> CacheConfig:
        """Redis only, smallest footprint."""
        return _preset_config("minimal")

    @staticmethod
    def simple() -> CacheConfig:
        """Memory tier in front of Redis, balanced."""
        return _preset_config("simple")

    @staticmethod
    def development() -> CacheConfig:
        """Memory tier only; no Redis needed."""
        return _preset_config("development")

    @staticmethod
    def testing() -> CacheConfig:
        """Short TTLs, memory tier only."""
        return _preset_config("testing")

    @staticmethod
    def production() -> CacheConfig:
        """Memory tier in front of Redis, long TTLs."""
        return _preset_config("production")

    @staticmethod
    def ai_development() -> CacheConfig:
        """AI response caching for development."""
        return _preset_config("ai-development")

    @staticmethod
    def ai_production() -> CacheConfig:
        """AI response caching for production."""
        return _preset_config("ai-production")

    @staticmethod
    def get_preset_names() -> list[str]:
        """Names of every preset."""
        return preset_names()

    @staticmethod
    def get_preset_details(name: str) -> dict[str, Any]:
        """Description, use cases and the main values of preset ``name``."""
        if name not in preset_names():
            raise CacheConfigError(
                [ConfigProblem(key="preset", message="unknown preset", value=repr(name))]
            )
        _, about = read_preset(name)
        config = _preset_config(name)
        return {
            "name": name,
            "description": about.get("description", ""),
            "use_cases": list(about.get("use_cases", [])),
            "configuration": {
                "default_ttl": config.ttl.default,
                "redis": bool(config.redis.url),
                "memory_tier": config.memory.enabled,
                "memory_max_entries": config.memory.max_entries,
                "compression": f"{config.compression.algorithm} level {config.compression.level}"
                f" above {config.compression.threshold} B",
                "max_connections": config.redis.max_connections,
                "ai": config.ai.enabled,
            },
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
