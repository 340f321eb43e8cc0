"""``AIResponseCacheConfig``: the original's AI cache configuration, as a view over
``CacheConfig``.

It records the parameters a caller gives (``None`` means "take it from the preset"), so
there is no second table of defaults: ``to_cache_config()`` resolves them over a preset
through the one validation path, and ``AIResponseCache(**config.to_ai_cache_kwargs())``
builds the same cache. The per-environment constructors (``create_production``, ...)
fill every field with the concrete values of their preset. ``CacheParameterMapper`` and
``ValidationResult`` are re-exported from ``cachekit.compat.mapper`` and
``cachekit.compat.results``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cachekit.compat.ai import DEFAULT_PRESET, config_from_params
from cachekit.compat.mapper import CacheParameterMapper, check_params
from cachekit.compat.names import OBJECT_PARAMS
from cachekit.compat.results import ValidationResult
from cachekit.config.masking import mask_url
from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.config.settings import environ_or_process
from cachekit.errors import CacheConfigError, ConfigProblem, MissingExtraError

__all__ = ["AIResponseCacheConfig", "CacheParameterMapper", "ValidationResult"]

# Variables of ``from_env`` (after the prefix) and how each value is read.
_ENV: Final[dict[str, tuple[str, Callable[[str], Any]]]] = {
    "REDIS_URL": ("redis_url", str),
    "DEFAULT_TTL": ("default_ttl", int),
    "MEMORY_CACHE_SIZE": ("memory_cache_size", int),
    "TEXT_HASH_THRESHOLD": ("text_hash_threshold", int),
    "COMPRESSION_THRESHOLD": ("compression_threshold", int),
    "COMPRESSION_LEVEL": ("compression_level", int),
    "ENABLE_L1_CACHE": ("enable_l1_cache", lambda v: v.strip().lower() in {"true", "1", "yes"}),
    "HASH_ALGORITHM": ("hash_algorithm", str),
    "TEXT_SIZE_TIERS": ("text_size_tiers", json.loads),
    "OPERATION_TTLS": ("operation_ttls", json.loads),
}


def _file_error(path: str | Path, message: str) -> CacheConfigError:
    return CacheConfigError([ConfigProblem(key="file", message=message, value=repr(str(path)))])


@dataclass
class AIResponseCacheConfig:
    """The original's AI cache configuration: the parameters given, over a preset.

    The fields are the original's, in its order; every field left ``None`` comes from
    ``preset`` (``ai-production`` when not given); ``overrides`` takes any other config
    key, dotted (``{"ai.max_text_length": 50_000}``).
    """

    redis_url: str | None = None
    default_ttl: int | None = None
    enable_l1_cache: bool | None = None
    compression_threshold: int | None = None
    compression_level: int | None = None
    performance_monitor: Any = None
    security_config: SecurityConfig | None = None
    text_hash_threshold: int | None = None
    hash_algorithm: str | Callable[..., Any] | None = None
    text_size_tiers: Mapping[str, int] | None = None
    operation_ttls: Mapping[str, int] | None = None
    enable_smart_promotion: bool | None = None
    memory_cache_size: int | None = None
    fail_on_connection_error: bool | None = None
    preset: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        given = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) not in (None, {})
        }
        if "redis_url" in given:
            given["redis_url"] = mask_url(given["redis_url"])
        if "overrides" in given:
            given["overrides"] = "{...}"
        inner = ", ".join(f"{k}={v!r}" for k, v in given.items())
        return f"AIResponseCacheConfig({inner})"

    # -- per-environment constructors ----------------------------------------------------
    @classmethod
    def from_cache_config(cls, config: CacheConfig) -> AIResponseCacheConfig:
        """Every field filled with the value ``config`` resolved to."""
        tiers = config.ai.size_tiers
        return cls(
            redis_url=config.redis.url,
            default_ttl=config.ttl.default,
            enable_l1_cache=config.memory.enabled,
            compression_threshold=config.compression.threshold,
            compression_level=config.compression.level,
            text_hash_threshold=config.ai.text_hash_threshold,
            hash_algorithm="sha256",
            text_size_tiers={"small": tiers.small, "medium": tiers.medium, "large": tiers.large},
            operation_ttls=dict(config.ai.operation_ttls),
            enable_smart_promotion=True,
            memory_cache_size=config.memory.max_entries,
            fail_on_connection_error=config.redis.fail_on_connection_error,
            preset=config.preset,
        )

    @classmethod
    def _of_preset(cls, preset: str, **given: Any) -> AIResponseCacheConfig:
        try:
            return cls.from_cache_config(config_from_params(preset, given))
        except CacheConfigError:  # e.g. a plaintext remote URL: validate() will say so
            filled = cls.from_cache_config(config_from_params(preset, {}))
            return dataclasses.replace(filled, **given)

    @classmethod
    def create_default(cls) -> AIResponseCacheConfig:
        """Everything from the ``ai-production`` preset (``None`` fields: resolved late)."""
        return cls()

    @classmethod
    def create_development(cls) -> AIResponseCacheConfig:
        """The ``ai-development`` preset's values: short TTLs, Redis on localhost."""
        return cls._of_preset("ai-development")

    @classmethod
    def create_production(cls, redis_url: str) -> AIResponseCacheConfig:
        """The ``ai-production`` preset's values against ``redis_url``."""
        return cls._of_preset("ai-production", redis_url=redis_url)

    @classmethod
    def create_testing(cls) -> AIResponseCacheConfig:
        """The ``testing`` preset's values with the AI layer: memory only, 60 s TTLs."""
        return cls._of_preset("testing")

    # -- other sources -------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], convert_hash_algorithm: bool = True
    ) -> AIResponseCacheConfig:
        """From the original's flat names; any other key (dotted or nested) goes to
        ``overrides`` and is checked, with a did-you-mean, by ``validate``. A hash name
        becomes its hashlib constructor unless ``convert_hash_algorithm=False``."""
        names = {f.name for f in dataclasses.fields(cls)} - {"overrides"}
        known = {k: v for k, v in data.items() if k in names}
        algorithm = known.get("hash_algorithm")
        if convert_hash_algorithm and isinstance(algorithm, str):
            known["hash_algorithm"] = getattr(hashlib, algorithm, algorithm)
        extra = {**dict(data.get("overrides") or {})}
        extra.update({k: v for k, v in data.items() if k not in names and k != "overrides"})
        return cls(**known, overrides=extra)

    @classmethod
    def from_env(
        cls, prefix: str = "AI_CACHE_", environ: Mapping[str, str] | None = None
    ) -> AIResponseCacheConfig:
        """From ``{prefix}REDIS_URL``, ``{prefix}DEFAULT_TTL``, ``{prefix}MEMORY_CACHE_SIZE``,
        ``{prefix}TEXT_HASH_THRESHOLD``, ``{prefix}COMPRESSION_THRESHOLD``,
        ``{prefix}COMPRESSION_LEVEL``, ``{prefix}ENABLE_L1_CACHE``, ``{prefix}HASH_ALGORITHM``
        and the JSON ``{prefix}TEXT_SIZE_TIERS`` / ``{prefix}OPERATION_TTLS``; a value that
        does not parse is a ``CacheConfigError`` naming the variable (the original
        skipped it with a log line). ``environ`` defaults to the process environment."""
        env = environ_or_process(environ)
        values: dict[str, Any] = {}
        problems = []
        for suffix, (name, read) in _ENV.items():
            raw = env.get(prefix + suffix)
            if raw is None:
                continue
            try:
                values[name] = read(raw)
            except ValueError:
                problems.append(ConfigProblem(key=prefix + suffix, message="does not parse"))
        if problems:
            raise CacheConfigError(problems)
        if values.get("enable_l1_cache") is False:
            values.pop("memory_cache_size", None)
        return cls.from_dict(values, convert_hash_algorithm=False)

    @classmethod
    def from_json(cls, json_path: str | Path) -> AIResponseCacheConfig:
        """From a JSON object of the original's names (``from_dict``)."""
        try:
            data = json.loads(Path(json_path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise _file_error(json_path, f"cannot read: {exc.strerror}") from None
        except ValueError as exc:
            raise _file_error(json_path, f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise _file_error(json_path, "the JSON is not an object")
        return cls.from_dict(data)

    @classmethod
    def from_yaml(cls, yaml_path: str | Path) -> AIResponseCacheConfig:
        """From a YAML mapping of the original's names (needs PyYAML: ``pip install pyyaml``)."""
        try:
            import yaml  # type: ignore[import-untyped]  # optional, as in the original
        except ModuleNotFoundError as exc:
            raise MissingExtraError(
                "AIResponseCacheConfig.from_yaml needs PyYAML: pip install pyyaml", name="yaml"
            ) from exc
        try:
            data = yaml.safe_load(Path(yaml_path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise _file_error(yaml_path, f"cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise _file_error(yaml_path, f"not YAML: {exc}") from None
        if not isinstance(data, dict):
            raise _file_error(yaml_path, "the YAML is not a mapping")
        return cls.from_dict(data)

    # -- combination and conversion ------------------------------------------------------
    def merge(self, other: AIResponseCacheConfig) -> AIResponseCacheConfig:
        """A new config: this one with every parameter ``other`` gives laid on top."""
        given = {
            f.name: getattr(other, f.name)
            for f in dataclasses.fields(other)
            if f.name != "overrides" and getattr(other, f.name) is not None
        }
        return dataclasses.replace(self, **given, overrides={**self.overrides, **other.overrides})

    def merge_with(self, **values: Any) -> AIResponseCacheConfig:
        """A new config with ``values`` (flat names or config keys) laid on top."""
        return self.merge(self.from_dict({k: v for k, v in values.items() if v is not None}))

    def _given(self) -> dict[str, Any]:
        kwargs = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "overrides" and getattr(self, f.name) is not None
        }
        kwargs.update(self.overrides)
        return kwargs

    def to_ai_cache_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIResponseCache(**kwargs)``: the parameters given, and
        ``hash_algorithm`` always (``hashlib.sha256`` unless another was given)."""
        kwargs = self._given()
        kwargs.setdefault("hash_algorithm", hashlib.sha256)
        return kwargs

    def to_generic_cache_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``GenericRedisCache(**kwargs)``: the resolved Redis URL,
        TTL, memory tier and compression of this config (its AI settings left out), and
        the monitor and security settings when given."""
        config = self.to_cache_config()
        kwargs: dict[str, Any] = {
            "redis_url": config.redis.url,
            "default_ttl": config.ttl.default,
            "enable_l1_cache": config.memory.enabled,
            "l1_cache_size": config.memory.max_entries,
            "compression_threshold": config.compression.threshold,
            "compression_level": config.compression.level,
            "fail_on_connection_error": config.redis.fail_on_connection_error,
        }
        if self.performance_monitor is not None:
            kwargs["performance_monitor"] = self.performance_monitor
        if self.security_config is not None:
            kwargs["security_config"] = self.security_config
        return kwargs

    def to_cache_config(self) -> CacheConfig:
        """The validated ``CacheConfig``; raises ``CacheConfigError`` listing every problem."""
        kwargs = self._given()
        preset = kwargs.pop("preset", None) or DEFAULT_PRESET
        params = {k: v for k, v in kwargs.items() if k not in OBJECT_PARAMS - {"security_config"}}
        return config_from_params(preset, params)

    def validate(self) -> ValidationResult:
        """Every problem of this configuration, without raising."""
        result = ValidationResult()
        kwargs = self._given()
        check_params(kwargs, kwargs.get("preset") or DEFAULT_PRESET, result)
        if result.is_valid and not self.to_cache_config().ai.operation_ttls:
            result.add_recommendation(
                "no per-operation TTLs: every operation lives ttl.default seconds; "
                "set operation_ttls (or [ai.operation_ttls] in settings.toml)"
            )
        return result
