"""``CacheParameterMapper``: the original's split of flat cache parameters.

The original's semantics: ``memory_cache_size`` becomes ``l1_cache_size`` (and turns
the memory tier on unless ``enable_l1_cache`` is given), the generic parameters go to
the Redis cache, everything else, names it does not know included, is AI-specific.
Which names are generic comes from the one name table (``cachekit.compat.names``):
every flat name whose config key is not under ``ai``. Validation is the config's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cachekit.compat.ai import DEFAULT_PRESET, config_from_params
from cachekit.compat.keys import CacheKeyGenerator, hash_name
from cachekit.compat.names import LEGACY_KEYS, OBJECT_PARAMS
from cachekit.compat.results import ValidationResult
from cachekit.errors import CacheConfigError, CacheValueError

__all__ = ["CacheParameterMapper", "check_params"]

_OBJECTS: Final = frozenset({"hash_algorithm", "performance_monitor", "preset"})


def check_params(params: Mapping[str, Any], preset: str, result: ValidationResult) -> None:
    """Add to ``result`` what is wrong with flat parameters over ``preset``."""
    memory, l1 = params.get("memory_cache_size"), params.get("l1_cache_size")
    if memory is not None and l1 is not None and memory != l1:
        result.add_conflict("memory_cache_size", f"is {memory} but l1_cache_size is {l1}")
    if params.get("enable_l1_cache") is False and (memory is not None or l1 is not None):
        result.add_warning("memory_cache_size has no effect while enable_l1_cache is False")
    algorithm = params.get("hash_algorithm")
    if algorithm is not None:
        try:
            CacheKeyGenerator(hash_algorithm=hash_name(algorithm))
        except CacheValueError as exc:
            result.add_error(f"hash_algorithm: {exc}")
    config_params = {k: v for k, v in params.items() if k not in _OBJECTS}
    try:
        config_from_params(preset, config_params)
    except CacheConfigError as exc:
        for problem in exc.problems:
            result.add_error(str(problem))


class CacheParameterMapper:
    """Sorts the original's flat cache parameters into generic and AI-specific ones."""

    #: AI parameter names that the generic cache knows under another name.
    PARAMETER_MAPPINGS: Mapping[str, str] = {"memory_cache_size": "l1_cache_size"}

    def __init__(self) -> None:
        self._parameter_mappings = dict(self.PARAMETER_MAPPINGS)
        self._generic_parameters = {
            name
            for name, key in LEGACY_KEYS.items()
            if not key.startswith("ai.") and name not in self._parameter_mappings
        } | (OBJECT_PARAMS - {"hash_algorithm"})
        self._ai_specific_parameters = {
            name for name, key in LEGACY_KEYS.items() if key.startswith("ai.")
        } | {"hash_algorithm"}
        self._parameter_conflicts = {
            "memory_cache_size": "maps to l1_cache_size: give one of the two, or equal values"
        }

    @staticmethod
    def is_ai_specific(name: str) -> bool:
        """Whether ``name`` configures the AI layer (keys, TTL table, savings)."""
        target = LEGACY_KEYS.get(name, name)
        return name == "hash_algorithm" or target.startswith("ai.")

    def map_ai_to_generic_params(
        self, ai_params: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(generic_params, ai_specific_params)``, with the original's rules: mapped
        names are renamed (``memory_cache_size`` → ``l1_cache_size``, which also sets
        ``enable_l1_cache=True`` unless given); names it does not know are AI-specific."""
        generic: dict[str, Any] = {}
        ai: dict[str, Any] = {}
        for name, value in ai_params.items():
            if name in self._parameter_mappings:
                generic[self._parameter_mappings[name]] = value
            elif name in self._generic_parameters:
                generic[name] = value
            else:
                ai[name] = value
        if "l1_cache_size" in generic and "enable_l1_cache" not in generic:
            generic["enable_l1_cache"] = True
        return generic, ai

    def validate_parameter_compatibility(self, ai_params: Mapping[str, Any]) -> ValidationResult:
        """Conflicts between parameters, and every value the config would reject."""
        result = ValidationResult()
        for name in ai_params:
            if name in self._generic_parameters or name in self._parameter_mappings:
                result.generic_params.add(name)
            elif name in self._ai_specific_parameters:
                result.ai_specific_params.add(name)
        preset = str(ai_params.get("preset") or DEFAULT_PRESET)
        check_params(ai_params, preset, result)
        return result

    def get_parameter_info(self) -> dict[str, Any]:
        """The classification: generic and AI-specific names, mappings, conflicts, the
        config key each name sets (cachekit's validation rules live on those keys)."""
        return {
            "generic_parameters": sorted(self._generic_parameters),
            "ai_specific_parameters": sorted(self._ai_specific_parameters),
            "parameter_mappings": dict(self._parameter_mappings),
            "parameter_conflicts": dict(self._parameter_conflicts),
            "validation_rules": {
                name: {"config_key": key} for name, key in sorted(LEGACY_KEYS.items())
            },
            "total_parameters": len(self._generic_parameters) + len(self._ai_specific_parameters),
        }
