"""``cachekit_lifespan``: one resolved stack per app lifespan, connected and closed with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from cachekit.config.model import CacheConfig
from cachekit.config.settings import ResolvedSettings
from cachekit.protocol import CacheInterface
from cachekit.web.deps import GUARDS, STATE_KEY
from cachekit.web.runtime import CacheRuntime

Lifespan = Callable[[Any], AbstractAsyncContextManager[Mapping[str, Any] | None]]


def cachekit_lifespan(
    lifespan: Lifespan | None = None,
    /,
    *,
    config: CacheConfig | None = None,
    settings: ResolvedSettings | None = None,
    cache: CacheInterface | None = None,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
    environment: str | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    root: str | Path | None = None,
    redis_client: Any = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[dict[str, Any]]]:
    """A lifespan that resolves, connects and closes the app's cache stack.

    Without arguments the layered settings are read at startup (like
    ``cachekit.resolve()``); ``config`` or ``settings`` give them instead, and ``cache``
    substitutes a prebuilt stack (a test double). ``lifespan``, the app's own, runs inside,
    with the stack connected; the state it yields is kept. ``host`` is the address the app
    is bound to (default ``server.host``): with no ``server.token``, an app with
    token-guarded routes starts only in development/testing on a loopback host.
    """

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        runtime = CacheRuntime.build(
            config=config,
            settings=settings,
            cache=cache,
            host=host,
            environ=environ,
            environment=environment,
            preset=preset,
            overrides=overrides,
            root=root,
            redis_client=redis_client,
        )
        if _has_guarded_routes(app.router.routes):
            runtime.token_rule.enforce()
        await runtime.start()
        app.state.cachekit = runtime
        try:
            if lifespan is None:
                yield {STATE_KEY: runtime}
            else:
                async with lifespan(app) as inner_state:
                    yield {**(inner_state or {}), STATE_KEY: runtime}
        finally:
            app.state.cachekit = None
            await runtime.stop()

    return run


def _has_guarded_routes(routes: Iterable[Any]) -> bool:
    """Whether any route (in included routers and mounts too) depends on a token guard."""
    for route in routes:
        dependant = getattr(route, "dependant", None)
        if dependant is not None and _depends_on_token(dependant):
            return True
        # FastAPI >= 0.16x keeps an included router whole, with its include-time dependencies.
        context = getattr(route, "include_context", None)
        for dependency in getattr(context, "dependencies", None) or ():
            if _is_guard(getattr(dependency, "dependency", None)):
                return True
        children = getattr(route, "routes", None)
        if children is None:
            children = getattr(getattr(route, "original_router", None), "routes", None)
        if children and _has_guarded_routes(children):
            return True
    return False


def _depends_on_token(dependant: Any) -> bool:
    if _is_guard(dependant.call):
        return True
    return any(_depends_on_token(sub) for sub in dependant.dependencies)


def _is_guard(call: Any) -> bool:
    return any(call is guard for guard in GUARDS)
