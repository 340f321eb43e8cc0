"""``CacheWrapper``: the base of cross-cutting layers that implement the same protocol.

A wrapper forwards every operation to ``inner``; subclasses override only what they add
to (tiering, resilience, telemetry, the AI domain layer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, cast

from cachekit.health import HealthReport, StateChange
from cachekit.protocol import TTL, UNSET, CacheInterface, LocalTier, Monitor
from cachekit.tags import TagIndex


class CacheWrapper(CacheInterface):
    """Forwards the protocol to ``inner``."""

    def __init__(self, inner: CacheInterface) -> None:
        super().__init__()
        self.inner = inner
        self.default_ttl = inner.default_ttl

    @property
    def monitor(self) -> Monitor | None:
        """The monitor of the stack below (the telemetry layer owns it)."""
        return self.inner.monitor

    def _default_tags(self) -> TagIndex:
        return self.inner.tags()  # the tier below records them

    def build_key(self, text: str, operation: str, options: Mapping[str, Any] | None = None) -> str:
        """This layer's key generator when it has one, else the layer below's."""
        if self.key_generator is not None:
            return self.key_generator.generate_cache_key(text, operation, options)
        return self.inner.build_key(text, operation, options)

    async def get(self, key: str, *, type: Any = None) -> Any:
        return await self.inner.get(key, type=type)

    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        await self.inner.set(key, value, ttl)

    async def delete(self, key: str) -> bool:
        return await self.inner.delete(key)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        return await self.inner.get_many(keys, type=type)

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        await self.inner.set_many(items, ttl)

    async def delete_many(self, keys: Iterable[str]) -> int:
        return await self.inner.delete_many(keys)

    async def clear(self) -> None:
        await self.inner.clear()

    async def delete_matching(self, pattern: str) -> int:
        return await self.inner.delete_matching(pattern)

    async def connect(self) -> bool:
        return await self.inner.connect()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def health(self) -> HealthReport:
        return await self.inner.health()

    def on_state_change(self, callback: Callable[[StateChange], object]) -> Callable[[], None]:
        return self.inner.on_state_change(callback)


def children(layer: CacheInterface) -> list[CacheInterface]:
    """The layers directly below ``layer``: a wrapper's ``inner``, a tier pair's ``near``
    and ``far``."""
    found = []
    for attr in ("inner", "near", "far"):
        child = getattr(layer, attr, None)
        if isinstance(child, CacheInterface):
            found.append(child)
    return found


def stack_layers(cache: CacheInterface) -> Iterator[CacheInterface]:
    """Every layer of a stack, outermost first, each once."""
    pending = [cache]
    seen: set[int] = set()
    while pending:
        layer = pending.pop(0)
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        pending.extend(children(layer))


def find_tier(cache: CacheInterface, kind: str) -> CacheInterface | None:
    """The first storage layer of a stack whose ``tier`` is ``kind`` (``"memory"``, ...)."""
    return next((layer for layer in stack_layers(cache) if layer.tier == kind), None)


def memory_tier(cache: CacheInterface) -> LocalTier | None:
    """The memory tier of a stack, if it has one."""
    return cast("LocalTier | None", find_tier(cache, "memory"))


def describe_stack(cache: CacheInterface) -> str:
    """The composition as text: ``ResilientCache(TieredCache(InMemoryCache, RedisBackend))``."""
    below = [describe_stack(child) for child in children(cache)]
    name = type(cache).__name__
    return f"{name}({', '.join(below)})" if below else name
