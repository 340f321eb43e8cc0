"""The original's AI configuration types, as thin views over ``CacheConfig``.

``AIResponseCacheConfig`` records only the parameters a caller gives (``None`` means "take
it from the preset"), so there is no second table of defaults: ``to_cache_config()``
resolves them over a preset through the one validation path, and
``AIResponseCache(**config.to_ai_cache_kwargs())`` builds the same cache.
``CacheParameterMapper`` sorts the original's flat parameters into generic and AI ones
using the same name table as ``CacheFactory`` (``cachekit.compat.params.LEGACY_KEYS``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cachekit.compat.ai import DEFAULT_PRESET, _hash_name, config_from_params
from cachekit.compat.params import LEGACY_KEYS
from cachekit.config.masking import mask_url
from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.errors import CacheConfigError, CacheValueError
from cachekit.keys import CacheKeyGenerator

__all__ = ["AIResponseCacheConfig", "CacheParameterMapper", "ValidationResult"]

# Parameters that shape the AIResponseCache object, not the config.
_OBJECT_PARAMS = frozenset({"hash_algorithm", "performance_monitor"})


@dataclass
class ValidationResult:
    """Outcome of a validation: valid unless ``errors``; warnings and advice on the side."""

    is_valid: bool = True
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    parameter_conflicts: dict[str, str] = field(default_factory=dict)
    ai_specific_params: set[str] = field(default_factory=set)
    generic_params: set[str] = field(default_factory=set)

    def add_error(self, message: str) -> None:
        """Record an error; the result is no longer valid."""
        self.errors.append(message)
        self.is_valid = False

    def add_warning(self, message: str) -> None:
        """Record a problem that does not stop the cache from working."""
        self.warnings.append(message)

    def add_recommendation(self, message: str) -> None:
        """Record a suggestion."""
        self.recommendations.append(message)

    def add_conflict(self, parameter: str, description: str) -> None:
        """Record two parameters that contradict each other (an error)."""
        self.parameter_conflicts[parameter] = description
        self.add_error(f"parameter conflict for {parameter!r}: {description}")


def _check_params(params: Mapping[str, Any], preset: str, result: ValidationResult) -> None:
    """Add to ``result`` what is wrong with flat parameters over ``preset``."""
    memory, l1 = params.get("memory_cache_size"), params.get("l1_cache_size")
    if memory is not None and l1 is not None and memory != l1:
        result.add_conflict("memory_cache_size", f"is {memory} but l1_cache_size is {l1}")
    if params.get("enable_l1_cache") is False and (memory is not None or l1 is not None):
        result.add_warning("memory_cache_size has no effect while enable_l1_cache is False")
    algorithm = params.get("hash_algorithm")
    if algorithm is not None:
        try:
            CacheKeyGenerator(hash_algorithm=_hash_name(algorithm))
        except CacheValueError as exc:
            result.add_error(f"hash_algorithm: {exc}")
    config_params = {k: v for k, v in params.items() if k not in _OBJECT_PARAMS and k != "preset"}
    try:
        config_from_params(preset, config_params)
    except CacheConfigError as exc:
        for problem in exc.problems:
            result.add_error(str(problem))


@dataclass(frozen=True, kw_only=True)
class AIResponseCacheConfig:
    """The original's AI cache configuration: the parameters given, over a preset.

    Every field left ``None`` comes from ``preset`` (``ai-production`` when not given);
    ``overrides`` takes any other config key, dotted (``{"ai.max_text_length": 50_000}``).
    """

    redis_url: str | None = None
    default_ttl: int | None = None
    enable_l1_cache: bool | None = None
    memory_cache_size: int | None = None
    compression_threshold: int | None = None
    compression_level: int | None = None
    text_hash_threshold: int | None = None
    hash_algorithm: str | Callable[..., Any] | None = None
    text_size_tiers: Mapping[str, int] | None = None
    operation_ttls: Mapping[str, int] | None = None
    fail_on_connection_error: bool | None = None
    security_config: SecurityConfig | None = None
    performance_monitor: Any = None
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
    def create_default(cls) -> AIResponseCacheConfig:
        """Everything from the ``ai-production`` preset."""
        return cls()

    @classmethod
    def create_development(cls) -> AIResponseCacheConfig:
        """The ``ai-development`` preset: short TTLs, Redis on localhost."""
        return cls(preset="ai-development")

    @classmethod
    def create_production(cls, redis_url: str) -> AIResponseCacheConfig:
        """The ``ai-production`` preset against ``redis_url``."""
        return cls(preset="ai-production", redis_url=redis_url)

    @classmethod
    def create_testing(cls) -> AIResponseCacheConfig:
        """The ``testing`` preset with the AI layer: memory only, 60 s TTLs, no Redis."""
        return cls(preset="testing")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AIResponseCacheConfig:
        """From the original's flat names; any other key (dotted or nested) goes to
        ``overrides`` and is checked, with a did-you-mean, by ``validate``."""
        names = {f.name for f in dataclasses.fields(cls)} - {"overrides"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {**dict(data.get("overrides") or {})}
        extra.update({k: v for k, v in data.items() if k not in names and k != "overrides"})
        return cls(**known, overrides=extra)

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

    def to_ai_cache_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIResponseCache(**kwargs)``: the parameters given."""
        kwargs = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "overrides" and getattr(self, f.name) is not None
        }
        kwargs.update(self.overrides)
        return kwargs

    def to_cache_config(self) -> CacheConfig:
        """The validated ``CacheConfig``; raises ``CacheConfigError`` listing every problem."""
        kwargs = self.to_ai_cache_kwargs()
        preset = kwargs.pop("preset", None) or DEFAULT_PRESET
        params = {k: v for k, v in kwargs.items() if k not in _OBJECT_PARAMS}
        return config_from_params(preset, params)

    def validate(self) -> ValidationResult:
        """Every problem of this configuration, without raising."""
        result = ValidationResult()
        kwargs = self.to_ai_cache_kwargs()
        _check_params(kwargs, kwargs.get("preset") or DEFAULT_PRESET, result)
        if result.is_valid and not self.to_cache_config().ai.operation_ttls:
            result.add_recommendation(
                "no per-operation TTLs: every operation lives ttl.default seconds; "
                "set operation_ttls (or [ai.operation_ttls] in settings.toml)"
            )
        return result


class CacheParameterMapper:
    """Sorts the original's flat cache parameters into generic and AI-specific ones."""

    #: AI parameter names that the generic cache knows under another name.
    PARAMETER_MAPPINGS: Mapping[str, str] = {"memory_cache_size": "l1_cache_size"}

    @staticmethod
    def is_ai_specific(name: str) -> bool:
        """Whether ``name`` configures the AI layer (keys, TTL table, savings)."""
        target = LEGACY_KEYS.get(name, name)
        return name == "hash_algorithm" or target.startswith("ai.")

    def map_ai_to_generic_params(
        self, ai_params: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(generic_params, ai_specific_params)``; ``memory_cache_size`` becomes
        ``l1_cache_size``. Names it does not know count as generic (validation reports them)."""
        generic: dict[str, Any] = {}
        ai: dict[str, Any] = {}
        for name, value in ai_params.items():
            if self.is_ai_specific(name):
                ai[name] = value
            else:
                generic[self.PARAMETER_MAPPINGS.get(name, name)] = value
        return generic, ai

    def validate_parameter_compatibility(self, ai_params: Mapping[str, Any]) -> ValidationResult:
        """Conflicts between parameters, and every value the config would reject."""
        result = ValidationResult()
        generic, ai = self.map_ai_to_generic_params(ai_params)
        result.generic_params = set(generic)
        result.ai_specific_params = set(ai)
        preset = str(ai_params.get("preset") or DEFAULT_PRESET)
        _check_params(ai_params, preset, result)
        return result
