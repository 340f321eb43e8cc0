"""The original's FastAPI dependency names, in an app with ``cachekit_lifespan`` and in
one without (the process-wide stack), and the test-cache dependencies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from cachekit import CacheConfig, CacheInterface, GenericRedisCache, InMemoryCache
from cachekit.fastapi import (
    CacheDependencyManager,
    cachekit_lifespan,
    cleanup_cache_registry,
    get_ai_cache_service,
    get_cache,
    get_cache_config,
    get_cache_health_status,
    get_cache_service,
    get_cache_service_conditional,
    get_fallback_cache_service,
    get_settings,
    get_test_cache,
    get_test_redis_cache,
    get_web_cache_service,
    validate_cache_configuration,
)
from cachekit.layers.ai.cache import AIResponseCache as AILayer
from tests.http_helpers import settings
from tests.redis_server import RedisServer

HEALTH_KEYS = {
    "cache_type",
    "status",
    "ping_available",
    "ping_success",
    "operation_test",
    "errors",
    "warnings",
    "statistics",
}


def make_app(**lifespan: Any) -> FastAPI:
    """An app whose routes use the original's dependencies."""
    app = FastAPI(lifespan=cachekit_lifespan(**lifespan)) if lifespan else FastAPI()

    @app.get("/ids")
    async def ids(
        service: Annotated[CacheInterface, Depends(get_cache_service)],
        web: Annotated[CacheInterface, Depends(get_web_cache_service)],
        ai: Annotated[AILayer, Depends(get_ai_cache_service)],
        fallback: Annotated[CacheInterface, Depends(get_fallback_cache_service)],
        config: Annotated[CacheConfig, Depends(validate_cache_configuration)],
    ) -> dict[str, Any]:
        await service.set("k", "v")
        return {
            "service": id(service),
            "web_has_no_ai": not isinstance(web, AILayer),
            "ai": type(ai).__name__,
            "fallback": type(fallback).__name__,
            "environment": config.environment,
            "value": await service.get("k"),
        }

    @app.get("/lifespan-id")
    async def lifespan_id(cache: Annotated[CacheInterface, Depends(get_cache)]) -> int:
        return id(cache)

    @app.get("/health")
    async def health(
        status: Annotated[dict[str, Any], Depends(get_cache_health_status)],
    ) -> dict[str, Any]:
        return status

    @app.get("/conditional")
    async def conditional(
        cache: Annotated[CacheInterface, Depends(get_cache_service_conditional)],
    ) -> dict[str, Any]:
        return {"type": type(cache).__name__, "id": id(cache)}

    @app.get("/config")
    async def config(config: Annotated[CacheConfig, Depends(get_cache_config)]) -> str:
        return config.preset

    @app.get("/test-cache")
    async def test_cache(cache: Annotated[InMemoryCache, Depends(get_test_cache)]) -> str:
        return type(cache).__name__

    return app


def test_dependencies_on_the_lifespan_stack() -> None:
    """Every dependency serves the lifespan's one stack; health has the original's keys."""
    with TestClient(make_app(settings=settings())) as client:
        body = client.get("/ids").json()
        assert body["service"] == client.get("/lifespan-id").json()
        assert body["web_has_no_ai"] and body["ai"] == "AIResponseCache"
        assert body["fallback"] == "InMemoryCache" and body["value"] == "v"
        health = client.get("/health").json()
        assert set(health) == HEALTH_KEYS and health["status"] == "healthy"
        assert health["ping_success"] is True and health["statistics"]
        assert client.get("/conditional").json()["id"] == body["service"]  # no AI layer
        fallback = client.get("/conditional", params={"fallback_only": True}).json()
        assert fallback["type"] == "InMemoryCache" and fallback["id"] != body["service"]
        ai = client.get("/conditional", params={"enable_ai": True}).json()
        assert ai["type"] == "AIResponseCache"
        assert client.get("/config").json() == body_preset(client)
        assert client.get("/test-cache").json() == "InMemoryCache"


def body_preset(client: TestClient) -> str:
    """The preset of the app's runtime."""
    runtime = client.app.state.cachekit  # type: ignore[attr-defined]
    return str(runtime.config.preset)


async def test_dependencies_without_a_lifespan_use_one_process_stack(root: Path) -> None:
    """Without ``cachekit_lifespan`` the dependencies share one stack until cleanup."""
    with TestClient(make_app()) as client:
        first = client.get("/ids").json()
        assert first["service"] == client.get("/ids").json()["service"]
        assert client.get("/health").json()["status"] == "healthy"
        assert client.get("/config").json() == get_settings().config.preset
    stats = await cleanup_cache_registry()
    assert stats == {
        "total_entries": 1,
        "active_caches": 1,
        "dead_references": 0,
        "disconnected_caches": 1,
        "errors": [],
    }
    assert (await CacheDependencyManager.cleanup_registry())["total_entries"] == 0


async def test_dependency_manager_registry_and_direct_calls(root: Path) -> None:
    """``_get_or_create_cache`` keeps one cache per key; the no-argument dependencies work
    when called directly."""
    made: list[InMemoryCache] = []

    async def factory() -> InMemoryCache:
        made.append(InMemoryCache())
        return made[-1]

    first = await CacheDependencyManager._get_or_create_cache("k", factory)
    second = await CacheDependencyManager._get_or_create_cache("k", factory)
    assert first is second and len(made) == 1
    assert await get_fallback_cache_service() is await get_fallback_cache_service()
    assert isinstance(await get_test_cache(), InMemoryCache)
    status = await get_cache_health_status(first)
    assert status["status"] == "healthy" and status["cache_type"] == "InMemoryCache"
    assert (await cleanup_cache_registry())["disconnected_caches"] == 1


async def test_validate_cache_configuration_refuses_an_invalid_record() -> None:
    """A record of the original's fields that does not validate is a 500."""
    from fastapi import HTTPException

    with pytest.raises(HTTPException) as info:
        await validate_cache_configuration(CacheConfig(default_ttl=-5))  # type: ignore[arg-type]
    assert info.value.status_code == 500


@pytest.mark.redis
async def test_get_test_redis_cache_connects(redis_server: RedisServer) -> None:
    """``get_test_redis_cache`` gives a connected Redis cache at ``TEST_REDIS_URL``."""
    cache = await get_test_redis_cache({"TEST_REDIS_URL": redis_server.url})
    try:
        assert isinstance(cache, GenericRedisCache)
        assert (await cache.health()).status == "ok"
    finally:
        await cache.aclose()
