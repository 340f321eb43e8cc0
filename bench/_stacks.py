"""cachekit as a user gets it: a preset, a few overrides, ``cachekit.resolve``.

The stacks are what ``resolve()`` builds by default (telemetry and resilience on, the
memory tier kept coherent by tracking where it fronts Redis); rows that strip a layer say
so in their name.
"""

from __future__ import annotations

from typing import Any

import cachekit
from cachekit import CacheConfig, CacheConfigBuilder, CacheInterface
from cachekit.layers.wrapper import describe_stack, stack_layers

PRESET = "simple"
"""The preset the benchmark starts from: memory tier in front of Redis."""
BENCH_COMPRESSION = {"compression.algorithm": "zstd", "compression.level": 4}
"""The benchmark's one deviation from the preset's codec (the presets ship zlib)."""


def config(
    redis_url: str,
    *,
    memory: bool = True,
    redis: bool = True,
    monitoring: bool = True,
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


def describe(cache: CacheInterface) -> str:
    """The composition of a resolved stack, e.g. ``ResilientCache(TieredCache(...))``."""
    return describe_stack(cache)


def layer(cache: CacheInterface, cls: type) -> Any:
    """The first layer of ``cls`` in a resolved stack (to measure it without what wraps it)."""
    found = next((each for each in stack_layers(cache) if isinstance(each, cls)), None)
    if found is None:
        raise LookupError(f"no {cls.__name__} in {describe(cache)}")
    return found
