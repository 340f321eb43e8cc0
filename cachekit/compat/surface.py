"""What ``GenericRedisCache`` and ``AIResponseCache`` share of the original's surface.

The original's Redis caches connected lazily, could be awaited out of the factory
(``await factory.for_web_app(...)``), fired callbacks on get/set/delete, exposed their
monitor, memory tier and security manager, and had ``disconnect()``. This mixin gives
both classes those, over the resolved stack they wrap.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final, Self

from cachekit.compat.security import RedisCacheSecurityManager
from cachekit.layers.wrapper import CacheWrapper, memory_tier
from cachekit.protocol import TTL, UNSET, LocalTier

if TYPE_CHECKING:
    from cachekit.config.model import CacheConfig, SecurityConfig

__all__ = ["EVENTS", "OriginalSurface"]

#: Events ``register_callback`` accepts, and the arguments their callbacks get.
EVENTS: Final = {
    "get_success": "(key, value)",
    "get_miss": "(key)",
    "set_success": "(key, value)",
    "delete_success": "(key)",
}


class OriginalSurface(CacheWrapper):
    """The original Redis caches' attributes and hooks, over ``self.inner``.

    ``performance_monitor`` is the monitor of the stack (the one given to the
    constructor, which the telemetry layer then reports to, or the stack's own). A
    monitor that is not a ``CachePerformanceMonitor`` gets the original's
    ``record_cache_operation_time`` calls from this layer instead.
    """

    config: CacheConfig | None
    _callbacks: dict[str, list[Callable[..., Any]]]
    _records: Any

    def _init_surface(
        self,
        config: CacheConfig,
        performance_monitor: Any,
        security_config: SecurityConfig | None,
    ) -> None:
        self.config = config
        self._callbacks = defaultdict(list)
        own = self.inner.monitor
        self._records = (
            None
            if performance_monitor is None or own is performance_monitor
            else (performance_monitor)
        )
        self.performance_monitor: Any = performance_monitor or own
        self.security_config = security_config if security_config is not None else (config.security)
        self.security_manager = RedisCacheSecurityManager.from_config(config)
        self.redis_url = config.redis.url
        self.enable_l1_cache = config.memory.enabled
        self.compression_threshold = config.compression.threshold
        self.compression_level = config.compression.level
        self.fail_on_connection_error = config.redis.fail_on_connection_error

    # -- the original's attributes ---------------------------------------------------
    @property
    def l1_cache(self) -> LocalTier | None:
        """The stack's memory tier (None when it has none)."""
        return memory_tier(self.inner)

    @property
    def memory_cache_size(self) -> int:
        """Entries the memory tier holds at most (0 without one)."""
        tier = self.l1_cache if self.enable_l1_cache else None
        return tier.max_size if tier is not None else 0

    @property
    def memory_cache(self) -> dict[str, None]:
        """The memory tier's live keys, least recently used first (the original exposed
        its internal entries; read values with ``get``)."""
        tier = self.l1_cache if self.enable_l1_cache else None
        keys = getattr(tier, "get_keys", None)
        return dict.fromkeys(keys()) if callable(keys) else {}

    @property
    def memory_cache_order(self) -> list[str]:
        """The memory tier's live keys, least recently used first."""
        return list(self.memory_cache)

    # -- lifecycle -------------------------------------------------------------------
    def __await__(self) -> Generator[Any, None, Self]:
        """``await cache`` connects and gives the cache (``await factory.for_web_app()``)."""
        return self._connected().__await__()

    async def _connected(self) -> Self:
        await self.connect()
        return self

    async def disconnect(self) -> None:
        """Close the connections (``aclose``); the cache reconnects when used again."""
        await self.aclose()

    # -- callbacks and the caller's monitor ------------------------------------------
    def register_callback(self, event: str, callback: Callable[..., Any]) -> None:
        """Call ``callback`` on ``event``: ``get_success(key, value)``, ``get_miss(key)``,
        ``set_success(key, value)``, ``delete_success(key)``. Its errors are swallowed
        (and logged by the original); a cache call never fails because of a callback."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}: use one of {', '.join(EVENTS)}")
        self._callbacks[event].append(callback)

    def _fire(self, event: str, *args: Any) -> None:
        for callback in self._callbacks.get(event, ()):
            try:
                callback(*args)
            except Exception:  # noqa: S112 - the original's contract: callbacks never break a call
                continue

    def _record(self, operation: str, start: float, hit: bool) -> None:
        monitor = self._records
        if monitor is not None:
            monitor.record_cache_operation_time(operation, time.perf_counter() - start, hit)

    async def get(self, key: str, *, type: Any = None) -> Any:
        if self._records is None and not self._callbacks:
            return await super().get(key, type=type)
        start = time.perf_counter()
        value = await super().get(key, type=type)
        self._record("get", start, value is not None)
        if value is None:
            self._fire("get_miss", key)
        else:
            self._fire("get_success", key, value)
        return value

    async def set(self, key: str, value: Any, ttl: TTL = UNSET, **kwargs: Any) -> None:
        if self._records is None and not self._callbacks:
            return await super().set(key, value, ttl, **kwargs)
        start = time.perf_counter()
        await super().set(key, value, ttl, **kwargs)
        self._record("set", start, True)
        self._fire("set_success", key, value)

    async def delete(self, key: str) -> bool:
        if self._records is None and not self._callbacks:
            return await super().delete(key)
        start = time.perf_counter()
        existed = await super().delete(key)
        self._record("delete", start, existed)
        if existed:
            self._fire("delete_success", key)
        return existed

    # -- security (the manager of this cache's config) -------------------------------
    async def validate_security(self) -> Any:
        """The ``SecurityValidationResult`` of a fresh connection with this cache's
        settings (None when Redis is not configured)."""
        if not self.redis_url:
            return None
        return await self.security_manager.validate_configuration()

    def get_security_status(self) -> dict[str, Any]:
        """The security manager's status (no secrets)."""
        return self.security_manager.get_security_status()

    def get_security_recommendations(self) -> list[str]:
        """What to change in the security settings."""
        return self.security_manager.get_security_recommendations()

    async def generate_security_report(self) -> str:
        """A human-readable security report, after validating a fresh connection."""
        result = await self.validate_security()
        return self.security_manager.generate_security_report(result)

    async def test_security_configuration(self) -> dict[str, Any]:
        """The original's end-to-end security test of this cache's Redis."""
        return await self.security_manager.test_security_configuration(self.redis_url or None)
