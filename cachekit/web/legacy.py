"""The original's FastAPI dependency names, on top of the lifespan design.

``get_cache_service``, ``get_cache_config``, ``get_cache_health_status``, ... give what
the app's ``cachekit_lifespan`` holds: its one stack, connected at startup and closed at
shutdown. An app of the original that has no ``cachekit_lifespan`` still works: the
dependencies then use one stack per process, resolved from the layered settings on first
use, kept in ``CacheDependencyManager`` (the one place this process-wide state lives)
and closed by ``cleanup_cache_registry()``, which such an app calls at shutdown as it
did with the original. Unlike the original's registry, the stack is built once, not per
request. (``get_test_cache`` and ``get_test_redis_cache`` are in
``cachekit.compat.dependencies``; ``cachekit.fastapi`` exports them all.)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from fastapi import Depends, HTTPException, Request

from cachekit.backends.memory import InMemoryCache
from cachekit.config.model import CacheConfig
from cachekit.config.settings import ResolvedSettings, resolve_settings
from cachekit.errors import CacheError
from cachekit.layers.ai.cache import AIResponseCache
from cachekit.layers.wrapper import stack_layers
from cachekit.protocol import CacheInterface
from cachekit.web.deps import STATE_KEY
from cachekit.web.runtime import CacheRuntime

__all__ = [
    "CacheDependencyManager",
    "cleanup_cache_registry",
    "get_ai_cache_service",
    "get_cache_config",
    "get_cache_health_status",
    "get_cache_service",
    "get_cache_service_conditional",
    "get_fallback_cache_service",
    "get_settings",
    "get_web_cache_service",
    "validate_cache_configuration",
]

_MAIN = "main"
_STATUS = {"ok": "healthy", "degraded": "degraded", "unavailable": "unhealthy"}


class CacheDependencyManager:
    """The process-wide stacks of apps without ``cachekit_lifespan`` (and the caches
    created through ``_get_or_create_cache``), each built and connected once."""

    _settings: ClassVar[ResolvedSettings | None] = None
    _runtimes: ClassVar[dict[str, CacheRuntime]] = {}
    _caches: ClassVar[dict[str, CacheInterface]] = {}
    _fallback: ClassVar[CacheInterface | None] = None

    @staticmethod
    async def cleanup_registry() -> dict[str, Any]:
        """``cleanup_cache_registry()``."""
        return await cleanup_cache_registry()

    @staticmethod
    async def _ensure_cache_connected(cache: CacheInterface) -> CacheInterface:
        """``cache``, connected when it can be (an unreachable Redis degrades to memory)."""
        with contextlib.suppress(CacheError):  # it serves from memory meanwhile
            await cache.connect()
        return cache

    @classmethod
    async def _get_or_create_cache(
        cls,
        cache_key: str,
        factory_func: Callable[..., Awaitable[CacheInterface] | CacheInterface],
        *args: Any,
        **kwargs: Any,
    ) -> CacheInterface:
        """The cache registered under ``cache_key``, or the one ``factory_func`` makes
        (awaited if it returns an awaitable), connected and kept until cleanup."""
        cache = cls._caches.get(cache_key)
        if cache is None:
            made = factory_func(*args, **kwargs)
            cache = await made if inspect.isawaitable(made) else made
            assert isinstance(cache, CacheInterface)
            cls._caches[cache_key] = cache
        return await cls._ensure_cache_connected(cache)

    @classmethod
    async def runtime(cls) -> CacheRuntime:
        """The process's stack of the layered settings (built, started once)."""
        runtime = cls._runtimes.get(_MAIN)
        if runtime is None:
            runtime = cls._runtimes[_MAIN] = CacheRuntime.build(settings=get_settings())
            await runtime.start()
        return runtime

    @classmethod
    def fallback(cls) -> CacheInterface:
        """The process's memory-only cache, sized by the ``development`` preset."""
        if cls._fallback is None:
            config = resolve_settings(environment="development", environ={}, use_files=False)
            memory = config.config.memory
            cls._fallback = InMemoryCache(
                config.config.ttl.default, memory.max_entries, max_bytes=memory.max_bytes
            )
        return cls._fallback


def _lifespan_runtime(request: Request) -> CacheRuntime | None:
    runtime = getattr(request.state, STATE_KEY, None) or getattr(request.app.state, STATE_KEY, None)
    return runtime if isinstance(runtime, CacheRuntime) else None


async def _runtime(request: Request) -> CacheRuntime:
    return _lifespan_runtime(request) or await CacheDependencyManager.runtime()


def get_settings() -> ResolvedSettings:
    """The layered settings of this process, read once (the original's cached settings)."""
    if CacheDependencyManager._settings is None:
        CacheDependencyManager._settings = resolve_settings()
    return CacheDependencyManager._settings


async def get_cache_config(request: Request) -> CacheConfig:
    """Dependency: the app's resolved config (the lifespan's, else the process's)."""
    runtime = _lifespan_runtime(request)
    return runtime.config if runtime is not None else get_settings().config


async def get_cache_service(request: Request) -> CacheInterface:
    """Dependency: the app's connected stack (the lifespan's, else the process's)."""
    return (await _runtime(request)).cache


async def get_web_cache_service(request: Request) -> CacheInterface:
    """Dependency: the app's stack without its AI layer."""
    cache = (await _runtime(request)).cache
    return cache.inner if isinstance(cache, AIResponseCache) else cache


async def get_ai_cache_service(request: Request) -> AIResponseCache:
    """Dependency: the stack's AI layer (one over the stack when ``ai.enabled`` is off)."""
    return (await _runtime(request)).ai_cache


async def get_fallback_cache_service() -> CacheInterface:
    """Dependency: a memory-only cache, the same one for the whole process."""
    return CacheDependencyManager.fallback()


async def validate_cache_configuration(
    config: CacheConfig = Depends(get_cache_config),  # noqa: B008 - FastAPI's own form
) -> Any:
    """Dependency: the config, or a 500 when it does not validate (a resolved config
    always does; a record of the original's fields is checked with its ``validate``)."""
    check = getattr(config, "validate", None)
    if callable(check):
        result = check()
        if not result.is_valid:
            raise HTTPException(
                status_code=500,
                detail={
                    "error": "Invalid cache configuration",
                    "validation_errors": list(result.errors),
                    "warnings": list(getattr(result, "warnings", [])),
                },
            )
    return config


async def get_cache_service_conditional(
    request: Request, enable_ai: bool = False, fallback_only: bool = False
) -> CacheInterface:
    """Dependency: the AI layer (``enable_ai``), the stack, or the memory fallback."""
    if fallback_only:
        return await get_fallback_cache_service()
    if enable_ai:
        return await get_ai_cache_service(request)
    return await get_web_cache_service(request)


async def cleanup_cache_registry() -> dict[str, Any]:
    """Close the process-wide stacks and registered caches; the original's counts
    (``total_entries``, ``active_caches``, ``dead_references`` (always 0: caches are held,
    not weakly referenced), ``disconnected_caches``, ``errors``)."""
    manager = CacheDependencyManager
    stats: dict[str, Any] = {
        "total_entries": len(manager._runtimes) + len(manager._caches),
        "active_caches": len(manager._runtimes) + len(manager._caches),
        "dead_references": 0,
        "disconnected_caches": 0,
        "errors": [],
    }
    closers: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        (key, runtime.stop) for key, runtime in manager._runtimes.items()
    ]
    closers += [(key, cache.aclose) for key, cache in manager._caches.items()]
    manager._runtimes, manager._caches, manager._settings = {}, {}, None
    for key, close in closers:
        try:
            await close()
            stats["disconnected_caches"] += 1
        except CacheError as exc:
            stats["errors"].append(f"failed to close cache {key}: {exc}")
    return stats


async def _statistics(cache: CacheInterface) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in stack_layers(cache):
        for name in ("get_cache_stats", "get_stats"):
            method = getattr(layer, name, None)
            if callable(method):
                result = method()
                out[type(layer).__name__] = await result if inspect.isawaitable(result) else result
                break
    return out


async def get_cache_health_status(
    cache: CacheInterface = Depends(get_cache_service),  # noqa: B008 - FastAPI's own form
) -> dict[str, Any]:
    """Dependency: the original's health dict (``cache_type``, ``status`` healthy /
    degraded / unhealthy, ``ping_available``, ``ping_success``, ``operation_test``,
    ``errors``, ``warnings``, ``statistics``) from ``cache.health()``, which pings Redis
    within the connect budget; no test key is written."""
    status: dict[str, Any] = {
        "cache_type": type(cache).__name__,
        "status": "unknown",
        "ping_available": True,
        "ping_success": False,
        "operation_test": False,
        "errors": [],
        "warnings": [],
        "statistics": {},
    }
    budget = cache.config.budget.connect if cache.config is not None else 5.0
    try:
        async with asyncio.timeout(budget):
            report = await cache.health()
    except (TimeoutError, CacheError) as exc:
        status["status"] = "unhealthy"
        status["errors"].append(f"health check failed: {exc or type(exc).__name__}")
        return status
    status["status"] = _STATUS[report.status]
    status["ping_success"] = report.status == "ok"
    reasons = list(report.reasons)
    status["warnings" if report.status == "degraded" else "errors"] += reasons
    try:
        status["statistics"] = await _statistics(cache)
    except CacheError as exc:
        status["warnings"].append(f"statistics unavailable: {exc}")
    return status
