"""``build_config``: the original's flat parameters over a preset, through one validation.

The names come from ``cachekit.compat.names``; the rule added here is about the AI
layer: AI settings turn it on, or are refused where the cache built has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cachekit.compat.builder import CacheConfigBuilder
from cachekit.compat.names import ai_keys, legacy_overrides
from cachekit.compat.presets import preset_environment
from cachekit.config.model import CacheConfig
from cachekit.errors import CacheConfigError, ConfigProblem

__all__ = ["build_config"]


def build_config(
    preset: str,
    environment: str | None,
    params: Mapping[str, Any],
    *,
    ai: bool | None = None,
) -> CacheConfig:
    """The validated config of the original's flat parameters over ``preset``.

    ``ai=True`` turns the AI layer on; ``ai=False`` refuses AI settings (the cache built
    has no AI layer to use them); ``ai=None`` turns it on when AI settings are given,
    unless they come with ``ai.enabled = false``, which is refused as a contradiction.
    A ``preset`` or ``environment`` key in ``params`` picks those; by default the
    environment is the preset's own (``production`` for ``ai-production``).
    """
    builder = CacheConfigBuilder()
    chosen = str(params.get("preset") or preset)
    env = environment if environment is not None else params.get("environment")
    builder.for_environment(str(env) if env is not None else preset_environment(chosen))
    builder.with_preset(chosen)
    security = params.get("security_config")
    if security is not None:
        builder.with_security(security)
    overrides = legacy_overrides(params)
    given_ai = ai_keys(overrides)
    enabled = overrides.get("ai.enabled")
    if isinstance(overrides.get("ai"), Mapping):
        enabled = overrides["ai"].get("enabled", enabled)
    if ai is False and (given_ai or enabled is True):
        raise CacheConfigError(
            [
                ConfigProblem(
                    key=key,
                    message="an AI setting, but this cache has no AI layer: build an "
                    "AIResponseCache (CacheFactory.for_ai_app, or a config with AI settings "
                    "through create_cache_from_config)",
                )
                for key in (given_ai or ["ai.enabled"])
            ]
        )
    if ai is True:
        overrides["ai.enabled"] = True
    elif ai is None and given_ai:
        if enabled is False:
            raise CacheConfigError(
                [
                    ConfigProblem(
                        key=key, message="given while ai.enabled is false: it would do nothing"
                    )
                    for key in given_ai
                ]
            )
        overrides["ai.enabled"] = True
    return builder.with_overrides(overrides).build()
