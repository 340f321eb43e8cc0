"""FastAPI dependencies: the lifespan's runtime, the cache, the AI cache, the token guards.

Each is a plain function of the request, so tests swap any of them with
``app.dependency_overrides[get_cache] = lambda: fake``.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, Request

from cachekit.layers.ai.cache import AIResponseCache
from cachekit.protocol import CacheInterface
from cachekit.web.problems import ProblemError
from cachekit.web.runtime import CacheRuntime

#: Key of the runtime in the lifespan state (``request.state``) and on ``app.state``.
STATE_KEY: Final = "cachekit"


class LifespanNotRunningError(RuntimeError):
    """A cachekit dependency ran in an app whose lifespan is not ``cachekit_lifespan``."""


def runtime_of(request: Request) -> CacheRuntime:
    """The runtime the lifespan put in the request state (or on ``app.state``)."""
    runtime = getattr(request.state, STATE_KEY, None)
    if runtime is None:
        runtime = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(runtime, CacheRuntime):
        raise LifespanNotRunningError(
            "no cachekit stack in this app: create it with "
            "FastAPI(lifespan=cachekit_lifespan()) (or wrap your own lifespan: "
            "cachekit_lifespan(your_lifespan)), and run it (TestClient needs 'with')"
        )
    return runtime


async def get_runtime(request: Request) -> CacheRuntime:
    """Dependency: the app's ``CacheRuntime`` (stack, config, sources, token rule)."""
    return runtime_of(request)


async def get_cache(request: Request) -> CacheInterface:
    """Dependency: the app's resolved, connected cache stack."""
    return runtime_of(request).cache


async def get_ai_cache(request: Request) -> AIResponseCache:
    """Dependency: the stack's AI layer (one over the stack when ``ai.enabled``
    is false: per-operation TTLs from ``ai.operation_ttls``, AI stats, invalidation)."""
    return runtime_of(request).ai_cache


def _authorize(request: Request, scope: str) -> None:
    namespace = request.path_params.get("namespace")
    denial = runtime_of(request).token_rule.authorize(
        request.headers.get("authorization"), scope, namespace
    )
    if denial is None:
        return
    if denial.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="cachekit"'}
        raise ProblemError(401, "unauthorized", denial.reason, headers=headers)
    raise ProblemError(403, "forbidden", denial.reason)


async def require_read(request: Request) -> None:
    """Dependency of reads: a token with ``read`` on the path's namespace when
    ``server.auth = "all"`` (reads are open under ``"writes"``)."""
    _authorize(request, "read")


async def require_write(request: Request) -> None:
    """Dependency of writes: a token with ``write`` on the path's namespace."""
    _authorize(request, "write")


async def require_token(request: Request) -> None:
    """Dependency of the ops endpoints (and your own admin routes): a token with the
    ``admin`` scope (``server.token`` has it), unless the service is open."""
    _authorize(request, "admin")


require_admin = require_token
GUARDS: Final = frozenset({require_read, require_write, require_token})
"""The dependencies that need a token (an app with one of them needs a token rule)."""


RuntimeDep = Annotated[CacheRuntime, Depends(get_runtime)]
CacheDep = Annotated[CacheInterface, Depends(get_cache)]
AICacheDep = Annotated[AIResponseCache, Depends(get_ai_cache)]
