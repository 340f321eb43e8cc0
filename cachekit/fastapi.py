"""FastAPI integration: one resolved stack per app lifespan, injected as dependencies.

::

    from fastapi import FastAPI
    from cachekit.fastapi import CacheDep, cachekit_lifespan, ops_router

    app = FastAPI(lifespan=cachekit_lifespan())
    app.include_router(ops_router())

    @app.get("/users/{uid}")
    async def user(uid: int, cache: CacheDep) -> dict:
        return await cache.get_or_set(f"user:{uid}", lambda: load_user(uid))

``cachekit_lifespan`` resolves the settings at startup (never at import), connects the
stack, and closes it at shutdown; it wraps the app's own lifespan when given one, which
then runs with the stack connected (``app.state.cachekit.cache``). In tests, swap the
cache with ``app.dependency_overrides[get_cache]`` or ``cachekit.testing.override_cache``.

The original's dependency names (``get_cache_service``, ``get_cache_health_status``,
``get_fallback_cache_service``, ``get_test_cache``, ``cleanup_cache_registry``,
``CacheDependencyManager``, ...) work on top of the same lifespan
(``cachekit.web.legacy``, ``cachekit.compat.dependencies``).

This module imports FastAPI (``pip install 'cachekit[server]'``); ``import cachekit``
does not. Everything here lives in ``cachekit.web``.
"""

from __future__ import annotations

from cachekit.extras import require

require("fastapi", "server", "cachekit.fastapi")

from cachekit.compat.dependencies import get_test_cache, get_test_redis_cache  # noqa: E402
from cachekit.web.cached import cache_response  # noqa: E402
from cachekit.web.deps import (  # noqa: E402 - after the check that names the extra
    AICacheDep,
    CacheDep,
    LifespanNotRunningError,
    RuntimeDep,
    get_ai_cache,
    get_cache,
    get_runtime,
    require_read,
    require_token,
    require_write,
)
from cachekit.web.jsonlimits import JSONLimitsMiddleware  # noqa: E402
from cachekit.web.legacy import (  # noqa: E402
    CacheDependencyManager,
    cleanup_cache_registry,
    get_ai_cache_service,
    get_cache_config,
    get_cache_health_status,
    get_cache_service,
    get_cache_service_conditional,
    get_fallback_cache_service,
    get_settings,
    get_web_cache_service,
    validate_cache_configuration,
)
from cachekit.web.lifespan import cachekit_lifespan  # noqa: E402
from cachekit.web.limits import BodyLimitMiddleware, HeadMiddleware  # noqa: E402
from cachekit.web.ops import ops_router  # noqa: E402
from cachekit.web.problems import install_problem_handlers  # noqa: E402
from cachekit.web.runtime import CacheRuntime  # noqa: E402
from cachekit.web.tokens import TokenRule  # noqa: E402

__all__ = [
    "AICacheDep",
    "BodyLimitMiddleware",
    "CacheDep",
    "CacheDependencyManager",
    "CacheRuntime",
    "HeadMiddleware",
    "JSONLimitsMiddleware",
    "LifespanNotRunningError",
    "RuntimeDep",
    "TokenRule",
    "cache_response",
    "cachekit_lifespan",
    "cleanup_cache_registry",
    "get_ai_cache",
    "get_ai_cache_service",
    "get_cache",
    "get_cache_config",
    "get_cache_health_status",
    "get_cache_service",
    "get_cache_service_conditional",
    "get_fallback_cache_service",
    "get_runtime",
    "get_settings",
    "get_test_cache",
    "get_test_redis_cache",
    "get_web_cache_service",
    "install_problem_handlers",
    "ops_router",
    "require_read",
    "require_token",
    "require_write",
    "validate_cache_configuration",
]
