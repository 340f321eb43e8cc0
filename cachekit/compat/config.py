"""The original's ``CacheConfig`` and ``AICacheConfig``: flat records over the typed config.

``CacheConfig(redis_url=..., default_ttl=..., memory_cache_size=...,
compression_threshold=..., enable_ai_cache=..., ai_config=AICacheConfig(...))`` holds the
original's fields; ``validate()`` returns the original's ``ValidationResult`` (every
problem of the one validation path, without raising) and ``to_cache_config()`` the
frozen, typed ``CacheConfig`` that ``resolve`` and ``CacheFactory`` take. Fields left out
are filled from the preset of the record's environment (the one place defaults live),
so reading them gives concrete values as in the original; only the fields given are
laid over the preset when the record is converted.

Called with the typed config's own fields (``preset=``, ``ttl=``, ``redis=``, ...), both
names build the typed ``cachekit.config.model.CacheConfig`` instead, and every typed
config counts as an instance of either.
"""

from __future__ import annotations

import dataclasses
from abc import ABCMeta
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from cachekit.compat._alias import counts_core
from cachekit.compat.names import AI_FIELDS
from cachekit.compat.params import build_config
from cachekit.compat.presets import preset_environment
from cachekit.compat.results import ValidationResult
from cachekit.config.masking import MASK, mask_url
from cachekit.config.model import CacheConfig as CoreCacheConfig
from cachekit.config.presets import preset_names
from cachekit.errors import CacheConfigError

__all__ = ["AICacheConfig", "CacheConfig"]

_CORE_FIELDS: Final = frozenset(CoreCacheConfig.__struct_fields__) - {"environment"}


def _is_core_call(kwargs: Mapping[str, Any]) -> bool:
    return bool(_CORE_FIELDS & set(kwargs))


def _given(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record._given}


def _problems(exc: CacheConfigError, result: ValidationResult) -> ValidationResult:
    for problem in exc.problems:
        result.add_error(str(problem))
    return result


class _CoreAlias(metaclass=ABCMeta):
    """Base of the records: a call with the typed config's fields builds the typed
    config, and typed configs count as instances."""

    _given: frozenset[str]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if not args and _is_core_call(kwargs):
            return CoreCacheConfig(**kwargs)
        return super().__new__(cls)

    @classmethod
    def __subclasshook__(cls, subclass: type) -> Any:
        return counts_core(cls, cls, CoreCacheConfig, subclass)


@dataclass
class AICacheConfig(_CoreAlias):
    """The original's AI settings: ``text_hash_threshold``, ``hash_algorithm``,
    ``text_size_tiers``, ``operation_ttls``, ``enable_smart_promotion``,
    ``max_text_length``; left out, they are the ``ai-development`` preset's."""

    text_hash_threshold: int | None = None
    hash_algorithm: str = "sha256"
    text_size_tiers: Mapping[str, int] | None = None
    operation_ttls: Mapping[str, int] | None = None
    enable_smart_promotion: bool = True
    max_text_length: int | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in dataclasses.fields(self)]
        self._given = frozenset(n for n in names if getattr(self, n) is not None)
        ai = build_config("ai-development", "development", {}, ai=True).ai
        tiers = ai.size_tiers
        defaults = {
            "text_hash_threshold": ai.text_hash_threshold,
            "text_size_tiers": {"small": tiers.small, "medium": tiers.medium, "large": tiers.large},
            "operation_ttls": dict(ai.operation_ttls),
            "max_text_length": ai.max_text_length,
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)

    def overrides(self) -> dict[str, Any]:
        """The config keys of the fields given (``ai.size_tiers``, ...)."""
        out: dict[str, Any] = {}
        for name in self._given & set(AI_FIELDS):
            value = getattr(self, name)
            out[AI_FIELDS[name]] = dict(value) if isinstance(value, Mapping) else value
        return out

    def validate(self) -> ValidationResult:
        """Every problem of these AI settings (``hash_algorithm`` must be ``sha256``: other
        hashes are a parameter of ``AIResponseCache``)."""
        result = ValidationResult()
        if self.hash_algorithm != "sha256":
            result.add_error(
                f"hash_algorithm {self.hash_algorithm!r}: not a setting; pass "
                "hash_algorithm to AIResponseCache"
            )
        params = {"ai_config": {**_given(self), "hash_algorithm": None}}
        try:
            build_config("ai-development", "development", params, ai=True)
        except CacheConfigError as exc:
            _problems(exc, result)
        return result

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass
class CacheConfig(_CoreAlias):
    """The original's cache configuration record (see the module docstring)."""

    redis_url: str | None = None
    redis_password: str | None = None
    use_tls: bool | None = None
    tls_cert_path: str | None = None
    tls_key_path: str | None = None
    default_ttl: int | None = None
    memory_cache_size: int | None = None
    compression_threshold: int | None = None
    compression_level: int | None = None
    environment: str | None = None
    ai_config: AICacheConfig | Mapping[str, Any] | None = None
    enable_ai_cache: bool | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in dataclasses.fields(self)]
        self._given = frozenset(n for n in names if getattr(self, n) is not None)
        if isinstance(self.ai_config, Mapping):
            self.ai_config = AICacheConfig(**self.ai_config)
        if self.enable_ai_cache is None:
            self.enable_ai_cache = self.ai_config is not None
        try:
            resolved = self.to_cache_config()
        except CacheConfigError:  # validate() reports it; read the preset's values meanwhile
            resolved = build_config(self.preset, self.environment, {}, ai=self._ai())
        self._fill(resolved)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={self._shown(name)!r}" for name in sorted(self._given))
        return f"CacheConfig({shown})"

    def _shown(self, name: str) -> Any:
        value = getattr(self, name)
        if name == "redis_password":
            return MASK
        return mask_url(value) if name == "redis_url" else value

    def _ai(self) -> bool:
        return bool(self.enable_ai_cache)

    @property
    def preset(self) -> str:
        """The preset under the record: the environment's, its AI twin with
        ``enable_ai_cache``, or ``simple`` for an environment without a preset."""
        env = self.environment or "development"
        if self._ai():
            return "ai-production" if env == "production" else "ai-development"
        return env if env in preset_names() else "simple"

    def _fill(self, config: CoreCacheConfig) -> None:
        values = {
            "redis_url": config.redis.url or None,
            "use_tls": config.security.use_tls,
            "tls_cert_path": config.security.tls_cert_path,
            "tls_key_path": config.security.tls_key_path,
            "default_ttl": config.ttl.default,
            "memory_cache_size": config.memory.max_entries,
            "compression_threshold": config.compression.threshold,
            "compression_level": config.compression.level,
            "environment": self.environment or preset_environment(config.preset),
        }
        for name, value in values.items():
            if name not in self._given:
                setattr(self, name, value)
        if self._ai() and self.ai_config is None:
            self.ai_config = AICacheConfig()

    def _params(self) -> dict[str, Any]:
        params = {
            name: getattr(self, name)
            for name in self._given - {"ai_config", "environment", "enable_ai_cache"}
        }
        if isinstance(self.ai_config, AICacheConfig):
            params.update(self.ai_config.overrides())
        return params

    def to_cache_config(self) -> CoreCacheConfig:
        """The frozen, typed ``CacheConfig``; raises ``CacheConfigError`` listing every
        problem (AI settings with ``enable_ai_cache=False`` among them)."""
        return build_config(self.preset, self.environment, self._params(), ai=self._ai())

    def validate(self) -> ValidationResult:
        """Every problem of this configuration, without raising."""
        result = ValidationResult()
        if self.ai_config is not None and not self._ai():
            result.add_error("ai_config is given but enable_ai_cache is False: it would do nothing")
        if isinstance(self.ai_config, AICacheConfig):
            ai = self.ai_config.validate()
            for message in ai.errors:
                result.add_error(message)
            result.warnings += ai.warnings
        try:
            self.to_cache_config()
        except CacheConfigError as exc:
            _problems(exc, result)
        result.errors = list(dict.fromkeys(result.errors))
        return result

    def to_dict(self) -> dict[str, Any]:
        """The original's flat dict (``ai_config`` as a dict); ``CacheFactory
        .create_cache_from_config`` takes it. Holds the password: mask before showing."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if isinstance(self.ai_config, AICacheConfig):
            out["ai_config"] = self.ai_config.to_dict()
        plain: dict[str, Any] = msgspec.to_builtins(out)
        return plain
