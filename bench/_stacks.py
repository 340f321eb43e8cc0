"""cachekit as a user gets it: a preset, a few overrides, ``cachekit.resolve``."""

from __future__ import annotations

from typing import Any

import cachekit
from cachekit import CacheConfig, CacheConfigBuilder, CacheInterface

PRESET = "simple"
"""The preset the benchmark starts from: memory tier in front of Redis."""
BENCH_COMPRESSION = {"compression.algorithm": "zstd", "compression.level": 4}
"""The benchmark's one deviation from the preset's codec (the presets ship zlib)."""


def config(
    redis_url: str,
    *,
    memory: bool = True,
    redis: bool = True,
    monitoring: bool = False,
    pool: int = 10,
    max_entries: int = 10_000,
    **overrides: Any,
) -> CacheConfig:
    """The preset with the benchmark's server, tiers, pool size and telemetry switch."""
    dotted: dict[str, Any] = {
        "redis.url": redis_url if redis else "",
        "redis.max_connections": pool,
        "redis.socket_timeout": 30.0,
        "memory.enabled": memory,
        "memory.max_entries": max_entries,
        "memory.max_bytes": 1 << 30,
        "monitoring.enabled": monitoring,
        **BENCH_COMPRESSION,
    }
    dotted.update({k.replace("__", "."): v for k, v in overrides.items()})
    return CacheConfigBuilder().with_preset(PRESET).with_overrides(dotted).build()


def stack(redis_url: str, **kwargs: Any) -> CacheInterface:
    return cachekit.resolve(config(redis_url, **kwargs))


def describe(cache: Any) -> str:
    """The composition of a resolved stack, e.g. ``Resilient(TieredCache(...))``."""
    name = type(cache).__name__
    if hasattr(cache, "near") and hasattr(cache, "far"):
        return f"{name}({describe(cache.near)}, {describe(cache.far)})"
    inner = getattr(cache, "inner", None)
    if isinstance(inner, CacheInterface):
        return f"{name}({describe(inner)})"
    return name


def layer(cache: Any, cls: type) -> Any:
    """The first layer of ``cls`` in a resolved stack (to measure it without what wraps it)."""
    todo = [cache]
    while todo:
        current = todo.pop(0)
        if isinstance(current, cls):
            return current
        todo += [getattr(current, a) for a in ("inner", "near", "far") if hasattr(current, a)]
    raise LookupError(f"no {cls.__name__} in {describe(cache)}")
