"""cachekit.fastapi: lifespan, dependencies, overrides, the ops router and the token rule."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from cachekit import AIResponseCache, CacheConfigError, CacheInterface, InMemoryCache
from cachekit.config.urls import is_loopback
from cachekit.fastapi import (
    AICacheDep,
    CacheDep,
    LifespanNotRunningError,
    cachekit_lifespan,
    get_ai_cache,
    get_cache,
    ops_router,
    require_token,
)
from cachekit.layers.wrapper import describe_stack
from cachekit.testing import Call, FakeCache, FakeClock, override_cache
from cachekit.web.runtime import CacheRuntime
from cachekit.web.tokens import TokenRule
from tests.http_helpers import bearer, settings

# Production wants tokens of 32 characters or more.
TOKEN = "t0ken-0123456789abcdefghijklmnopq"
SECRET_TOKEN = "s3cret-token-0123456789abcdefghij"
CANARY_TOKEN = "canary-token-77-0123456789abcdefgh"


def make_app(*, lifespan: Any = None, ops: bool = True, **kwargs: Any) -> FastAPI:
    """An app with one cached route, the ops router, and the cachekit lifespan."""
    kwargs.setdefault("settings", settings())
    app = FastAPI(lifespan=cachekit_lifespan(lifespan, **kwargs))
    if ops:
        app.include_router(ops_router())

    @app.get("/items/{item}")
    async def item(item: str, cache: CacheDep) -> dict[str, Any]:
        value = await cache.get_or_set(f"item:{item}", lambda: {"item": item})
        return {"value": value, "cache": id(cache)}

    @app.get("/ai")
    async def ai(cache: AICacheDep) -> dict[str, Any]:
        key = cache.build_key("hello", "summarize")
        await cache.set(key, {"summary": "hi"})
        return {"type": type(cache).__name__, "key": key, "id": id(cache)}

    return app


# -- lifespan ---------------------------------------------------------------------------


def test_lifespan_connects_at_startup_and_closes_at_shutdown() -> None:
    """The stack is connected before the first request and closed when the app stops."""
    cache = FakeCache()
    app = make_app(cache=cache)
    with TestClient(app) as client:
        assert cache.connected and not cache.closed
        assert client.get("/items/a").status_code == 200
    assert cache.closed


def test_lifespan_resolves_one_stack_for_every_request() -> None:
    """Every request gets the same stack object: nothing is built per request."""
    with TestClient(make_app()) as client:
        ids = {client.get(f"/items/{n}").json()["cache"] for n in range(5)}
    assert len(ids) == 1


def test_lifespan_serves_cached_values_between_requests() -> None:
    """A value loaded by one request is a hit for the next one."""
    cache = FakeCache()
    with TestClient(make_app(cache=cache)) as client:
        client.get("/items/a")
        client.get("/items/a")
    assert cache.get_stats()["hits"] == 1


def test_lifespan_wraps_the_apps_own_lifespan() -> None:
    """The app's lifespan runs inside, with the stack connected, and its state is kept."""
    events: list[str] = []
    cache = FakeCache()

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        events.append(f"own start, connected={app.state.cachekit.cache.connected}")
        await app.state.cachekit.cache.set("warm", 1)
        yield {"greeting": "hello"}
        events.append(f"own stop, closed={cache.closed}")

    app = make_app(lifespan=own, cache=cache)

    @app.get("/greeting")
    async def greeting(request: Request, cache: CacheDep) -> dict[str, Any]:
        return {"greeting": request.state.greeting, "warm": await cache.get("warm")}

    with TestClient(app) as client:
        assert client.get("/greeting").json() == {"greeting": "hello", "warm": 1}
    assert events == ["own start, connected=True", "own stop, closed=False"]
    assert cache.closed


def test_lifespan_reads_the_layered_settings_at_startup(tmp_path: Path) -> None:
    """Without config the lifespan resolves the settings layers (here a mapping)."""
    environ = {"CACHEKIT_ENV": "testing", "CACHEKIT_TTL__DEFAULT": "123"}
    app = make_app(settings=None, environ=environ, root=tmp_path)
    with TestClient(app) as client:
        leaf = client.get("/cache/config").json()["settings"]["ttl.default"]
    assert leaf == {"value": 123, "source": "CACHEKIT_TTL__DEFAULT"}


def test_lifespan_accepts_a_config_object() -> None:
    """A CacheConfig passed in code is used as is; its leaves' source says so."""
    config = settings(ttl__default=77).config
    with TestClient(make_app(settings=None, config=config)) as client:
        leaf = client.get("/cache/config").json()["settings"]["ttl.default"]
    assert leaf["value"] == 77 and leaf["source"].startswith("code")


def test_lifespan_failed_startup_names_the_problem() -> None:
    """Invalid settings stop the app at startup with every problem named."""
    app = make_app(settings=None, environ={"CACHEKIT_TTL__DEFAULT": "-1"}, root="/nonexistent")
    with pytest.raises(CacheConfigError, match=r"ttl\.default"), TestClient(app):
        pass


# -- dependencies -----------------------------------------------------------------------


def test_get_cache_override_swaps_the_cache() -> None:
    """``app.dependency_overrides[get_cache]`` replaces the stack in routes."""
    fake = FakeCache()
    app = make_app()
    app.dependency_overrides[get_cache] = lambda: fake
    with TestClient(app) as client:
        assert client.get("/items/x").json()["cache"] == id(fake)
    assert fake.calls[0] == Call("get_or_set", ("item:x",))


def test_override_cache_swaps_both_dependencies_and_restores() -> None:
    """``override_cache`` overrides CacheDep and AICacheDep inside the block only."""
    app = make_app()
    previous = FakeCache()
    app.dependency_overrides[get_cache] = lambda: previous
    fake = FakeCache()
    with override_cache(app, fake), TestClient(app) as client:
        assert client.get("/items/x").json()["cache"] == id(fake)
        assert client.get("/ai").json()["type"] == "AIResponseCache"
    assert any(call.method == "set" for call in fake.calls[1:])  # the AI write reached the fake
    assert app.dependency_overrides[get_cache]() is previous
    assert get_ai_cache not in app.dependency_overrides


def test_get_ai_cache_gives_the_ai_layer_of_the_stack() -> None:
    """AICacheDep gives the stack's own AIResponseCache when it has one."""
    stack = AIResponseCache(inner=FakeCache())
    with TestClient(make_app(cache=stack)) as client:
        body = client.get("/ai").json()
    assert body["id"] == id(stack) and body["key"].startswith("ai:summarize:")


async def test_get_ai_cache_wraps_a_stack_without_ai_layer() -> None:
    """Without an AI layer, AICacheDep is an AIResponseCache over the same stack, with the
    per-operation TTLs of the config."""
    cache = FakeCache()
    config = settings(ai__operation_ttls__summarize=42)
    with TestClient(make_app(settings=config, cache=cache)) as client:
        body = client.get("/ai").json()
    assert body["type"] == "AIResponseCache"
    assert 41 < (await cache.get_ttl(body["key"]) or 0) <= 42


def test_get_cache_without_lifespan_raises_a_clear_error() -> None:
    """Using CacheDep in an app without cachekit_lifespan says how to fix it."""
    app = FastAPI()

    @app.get("/")
    async def root(cache: CacheDep) -> None:
        return None

    with (
        TestClient(app) as client,
        pytest.raises(LifespanNotRunningError, match="cachekit_lifespan"),
    ):
        client.get("/")


# -- the ops router ---------------------------------------------------------------------


def test_ops_router_livez_answers_without_looking_at_the_stack() -> None:
    """/livez is 200 even when the stack is unavailable."""
    cache = FakeCache()
    cache.set_health("unavailable", "redis down")
    with TestClient(make_app(cache=cache)) as client:
        assert client.get("/livez").json() == {"status": "ok"}


@pytest.mark.parametrize(("status", "code"), [("ok", 200), ("degraded", 200), ("unavailable", 503)])
def test_ops_router_readyz_follows_health(status: Any, code: int) -> None:
    """/readyz: 200 when serving (degraded from memory too), 503 when it cannot serve."""
    cache = FakeCache()
    cache.set_health(status, "reason given")
    with TestClient(make_app(cache=cache)) as client:
        response = client.get("/readyz")
    assert response.status_code == code
    assert response.json()["status"] == status
    assert response.json()["ready"] is (code == 200)


def test_ops_router_readyz_503_when_degraded_and_redis_required() -> None:
    """With server.require_redis, serving from memory is not ready."""
    cache = FakeCache()
    cache.set_health("degraded", "redis: connection refused")
    config = settings(redis__url="redis://127.0.0.1:1/0", server__require_redis="true")
    with TestClient(make_app(settings=config, cache=cache)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "server.require_redis" in " ".join(response.json()["reasons"])


def test_ops_router_readyz_bounds_a_hanging_health_check() -> None:
    """A health check that never answers is reported within the timeout budget."""
    import asyncio

    class Hanging(FakeCache):
        async def health(self) -> Any:
            await asyncio.sleep(60)

    config = settings(redis__connect_timeout="0.1", redis__socket_timeout="0.1")
    with TestClient(make_app(settings=config, cache=Hanging())) as client:
        body = client.get("/readyz").json()
    assert body["status"] == "degraded"
    assert "no answer within" in body["reasons"][0]


def test_ops_router_status_describes_the_stack() -> None:
    """/cache/status names environment, preset, composition and write mode."""
    with TestClient(make_app()) as client:
        body = client.get("/cache/status").json()
    assert body["environment"] == "testing"
    assert body["stack"] == "InMemoryCache"
    assert body["writes"] == "open"
    assert body["status"] == "ok"


def test_ops_router_stats_counts_hits_and_misses() -> None:
    """/cache/stats reports the memory tier's counters."""
    with TestClient(make_app()) as client:
        client.get("/items/a")
        client.get("/items/a")
        stats = client.get("/cache/stats").json()["InMemoryCache"]
    assert (stats["hits"], stats["misses"]) == (1, 1)


def test_ops_router_config_masks_secrets_and_names_sources() -> None:
    """/cache/config shows every leaf with its source; secrets appear nowhere."""
    canary = "canary-token-8d1f-0123456789abcdef"
    config = settings(
        "production",
        redis__url="redis://user:canary-password-8d1f@127.0.0.1:1/0",
        redis__password="canary-password-8d1f",
        server__token=canary,
    )
    with TestClient(make_app(settings=config, cache=FakeCache())) as client:
        admin = bearer(canary)
        raw = client.get("/cache/config", headers=admin).text
        raw += client.get("/cache/status", headers=admin).text
        leaves = client.get("/cache/config", headers=admin).json()["settings"]
    assert "canary" not in raw
    assert leaves["server.token"] == {"value": "***", "source": "CACHEKIT_SERVER__TOKEN"}
    assert leaves["redis.url"]["value"] == "redis://user:***@127.0.0.1:1/0"
    assert leaves["ttl.default"]["source"].startswith("preset production")


def test_ops_router_invalidate_by_pattern_removes_matching_keys() -> None:
    """POST /cache/invalidate with a pattern removes the keys it matches, only those."""
    cache = FakeCache()
    with TestClient(make_app(cache=cache)) as client:
        for name in ("user:1", "user:2", "order:1"):
            client.get(f"/items/{name}")
        response = client.post("/cache/invalidate", json={"pattern": "item:user:*"})
    assert response.json() == {
        "removed": 2, "operation": None, "pattern": "item:user:*", "tags": None
    }
    assert sorted(cache.get_keys()) == ["item:order:1"]


async def test_ops_router_invalidate_by_operation_removes_that_operation() -> None:
    """Invalidation by operation removes that operation's AI keys and leaves the rest."""
    cache = FakeCache()
    summary = cache.build_key("text", "summarize")
    await cache.set(summary, "s")
    await cache.set(cache.build_key("text", "sentiment"), "p")
    with TestClient(make_app(cache=cache)) as client:
        body = client.post("/cache/invalidate", json={"operation": "summarize"}).json()
    assert body["removed"] == 1
    assert summary not in cache.get_keys() and len(cache.get_keys()) == 1


async def test_ops_router_invalidate_goes_through_the_ai_layer() -> None:
    """Invalidation by operation goes through the AI layer, which counts it."""
    cache = FakeCache()
    await cache.set(cache.build_key("q", "qa"), "answer")
    with TestClient(make_app(cache=cache)) as client:
        assert client.post("/cache/invalidate", json={"operation": "qa"}).json()["removed"] == 1
        stats = client.get("/cache/stats").json()["AIResponseCache"]
    assert stats["invalidations"]["operation"] == 1
    assert Call("delete_matching", ("ai:qa:*",)) in cache.calls


@pytest.mark.parametrize(
    "body",
    [{}, {"operation": "a", "pattern": "b"}, {"operation": "bad op"}, {"pattern": ""}, {"x": 1}],
)
def test_ops_router_invalidate_rejects_bad_bodies(body: dict[str, Any]) -> None:
    """Neither or both of operation/pattern, bad names, unknown fields: 422."""
    with TestClient(make_app()) as client:
        response = client.post("/cache/invalidate", json=body)
    assert response.status_code == 422


def test_ops_router_invalidate_needs_json_content_type() -> None:
    """A form-like POST (what another web page could send) is refused."""
    with TestClient(make_app()) as client:
        response = client.post(
            "/cache/invalidate", content=b'{"pattern": "*"}', headers={"content-type": "text/plain"}
        )
    assert response.status_code == 422


# -- the token rule ---------------------------------------------------------------------


def production(**leaves: Any) -> Any:
    """Production settings with Redis on a closed port (the fake cache stands in)."""
    return settings("production", redis__url="redis://127.0.0.1:1/0", **leaves)


def test_token_rule_production_with_token_requires_it() -> None:
    """In production with a token, invalidation without it or with a wrong one is 401."""
    app = make_app(settings=production(server__token=SECRET_TOKEN), cache=FakeCache())
    with TestClient(app) as client:
        missing = client.post("/cache/invalidate", json={"pattern": "*"})
        wrong = client.post("/cache/invalidate", json={"pattern": "*"}, headers=bearer("nope"))
        basic = client.post(
            "/cache/invalidate", json={"pattern": "*"}, headers={"Authorization": "Basic czNjcmV0"}
        )
        good = client.post(
            "/cache/invalidate", json={"pattern": "*"}, headers=bearer(SECRET_TOKEN)
        )
    assert [r.status_code for r in (missing, wrong, basic, good)] == [401, 401, 401, 200]
    assert missing.headers["www-authenticate"].startswith("Bearer")


def test_token_rule_production_without_token_refuses_to_start() -> None:
    """A production app with token-guarded routes and no token does not start, and says why."""
    app = make_app(settings=production(), cache=FakeCache())
    with (
        pytest.raises(CacheConfigError, match=r"server\.token: not set.*'production'"),
        TestClient(app),
    ):
        pass


def test_token_rule_applies_only_to_apps_with_guarded_routes() -> None:
    """An app without mutating ops routes starts in production with no token."""
    app = make_app(settings=production(), cache=FakeCache(), ops=False)
    with TestClient(app) as client:
        assert client.get("/items/a").status_code == 200


def test_token_rule_user_routes_can_require_the_token() -> None:
    """An app's own route guarded by ``require_token`` follows the same rule."""
    app = make_app(settings=production(server__token=TOKEN), cache=FakeCache(), ops=False)

    @app.post("/admin/flush", dependencies=[Depends(require_token)])
    async def flush(cache: CacheDep) -> dict[str, bool]:
        await cache.clear()
        return {"flushed": True}

    with TestClient(app) as client:
        assert client.post("/admin/flush").status_code == 401
        assert client.post("/admin/flush", headers=bearer(TOKEN)).status_code == 200
    app = make_app(settings=production(), cache=FakeCache(), ops=False)
    app.post("/admin/flush", dependencies=[Depends(require_token)])(flush)
    with pytest.raises(CacheConfigError, match=r"server\.token"), TestClient(app):
        pass


def test_token_rule_development_open_on_loopback_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """In development on loopback, writes run without a token and a warning is logged."""
    caplog.set_level(logging.WARNING, logger="cachekit")
    with TestClient(make_app(settings=settings("development"))) as client:
        assert client.post("/cache/invalidate", json={"pattern": "*"}).status_code == 200
    assert any("server.token is not set" in r.getMessage() for r in caplog.records)


def test_token_rule_development_on_all_interfaces_refuses_to_start() -> None:
    """Development bound beyond loopback needs a token too."""
    app = make_app(settings=settings("development"), host="0.0.0.0")
    with pytest.raises(CacheConfigError, match=r"host '0\.0\.0\.0'"), TestClient(app):
        pass


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("cache.internal", False),
        ("", False),
    ],
)
def test_is_loopback_recognises_loopback_hosts(host: str, expected: bool) -> None:
    """Only loopback addresses and ``localhost`` count as loopback."""
    assert is_loopback(host) is expected


def test_token_rule_check_compares_tokens() -> None:
    """check() accepts only ``Bearer <token>`` with the exact token."""
    rule = TokenRule("s3cret", environment="production", host="127.0.0.1")
    assert rule.check("Bearer s3cret") is None
    assert rule.check("bearer  s3cret ") is None
    for header in (None, "", "Bearer", "Bearer s3cre", "Bearer s3cret2", "Token s3cret"):
        assert rule.check(header) is not None


def test_token_rule_never_shows_the_token() -> None:
    """Neither repr nor the refusal message contain the token."""
    rule = TokenRule(CANARY_TOKEN, environment="production", host="0.0.0.0")
    assert "canary" not in repr(rule)
    assert "canary" not in str(rule.check("Bearer wrong"))
    runtime = CacheRuntime(FakeCache(), config=production(server__token=CANARY_TOKEN).config)
    assert "canary" not in repr(runtime) and "canary" not in repr(runtime.config)


def test_token_rule_testing_without_token_is_open() -> None:
    """The testing environment on loopback needs no token; production refuses writes."""
    assert TokenRule(None, environment="testing", host="::1").mode == "open"
    refused = TokenRule(None, environment="staging", host="127.0.0.1")
    assert refused.mode == "refused" and refused.check("Bearer x") is not None


# -- the test double --------------------------------------------------------------------


async def test_fake_cache_records_calls_and_uses_its_clock() -> None:
    """FakeCache records each call, and entries expire when its clock moves."""
    clock = FakeClock()
    cache = FakeCache(clock=clock)
    await cache.set("a", 1, ttl=10)
    assert await cache.get("a") == 1
    cache.advance(11)
    assert await cache.get("a") is None
    assert cache.methods_called() == ["set", "get", "get"]
    assert isinstance(cache, InMemoryCache) and isinstance(cache, CacheInterface)


async def test_fake_cache_reports_the_health_it_is_given() -> None:
    """set_health makes health() report a degraded or unavailable stack."""
    cache = FakeCache()
    assert (await cache.health()).status == "ok"
    cache.set_health("degraded", "redis: connection refused")
    report = await cache.health()
    assert (report.status, report.reasons) == ("degraded", ("redis: connection refused",))


def test_describe_stack_shows_the_composition() -> None:
    """The composition reads like the stack: wrappers around tiers."""
    from cachekit import resolve

    config = settings(redis__url="redis://127.0.0.1:1/0").config
    text = describe_stack(resolve(config))
    assert "TieredCache(InMemoryCache, RedisBackend)" in text


def test_token_rule_sees_guards_added_at_include_time() -> None:
    """A router included with ``dependencies=[Depends(require_token)]`` and a prefix counts."""
    from fastapi import APIRouter

    admin = APIRouter()

    @admin.post("/flush")
    async def flush() -> None:
        return None

    app = make_app(settings=production(), cache=FakeCache(), ops=False)
    app.include_router(admin, prefix="/admin", dependencies=[Depends(require_token)])
    with pytest.raises(CacheConfigError, match=r"server\.token"), TestClient(app):
        pass


# -- the example app --------------------------------------------------------------------


def example_client() -> TestClient:
    """The example app with instant stand-in latencies, on its own settings (development)."""
    from examples.fastapi_app import create_app

    return TestClient(create_app(llm_latency=0.0, db_latency=0.0, environ={}))


def test_example_app_caches_model_answers_per_operation() -> None:
    """The example's TextProcessorService answers a repeated request from the AI cache."""
    text = {"text": "Caching is good. Misses are slow. Hits are fast."}
    with example_client() as client:
        first = client.post("/text/summarize", json=text).json()
        second = client.post("/text/summarize", json=text).json()
        other = client.post("/text/sentiment", json=text).json()
        stats = client.get("/cache/stats").json()["AIResponseCache"]
        status = client.get("/cache/status").json()
    assert (first["cache_hit"], second["cache_hit"], other["cache_hit"]) == (False, True, False)
    assert first["result"] == second["result"]
    assert stats["operations"]["summarize"]["hits"] == 1
    assert stats["operation_ttls"]["summarize"] == 1800  # ai-development, from settings.toml
    assert status["preset"] == "ai-development" and status["redis_url"] is None


def test_example_app_caches_users_and_rejects_bad_operations() -> None:
    """CacheDep caches the user lookup; a question outside ``qa`` is a 422."""
    with example_client() as client:
        assert client.get("/users/1").json()["name"] == "Ada Lovelace"
        assert client.get("/users/1").status_code == 200
        assert client.get("/users/99").status_code == 404
        bad = client.post("/text/summarize", json={"text": "t", "question": "why?"})
        assert client.get("/readyz").status_code == 200
    assert bad.status_code == 422


def test_readme_fastapi_in_five_lines_runs() -> None:
    """The README's "FastAPI in five lines" works as written (with load_user defined)."""
    from fastapi import FastAPI as FastAPIApp

    async def load_user(uid: int) -> dict[str, Any]:
        return {"id": uid}

    app = FastAPIApp(lifespan=cachekit_lifespan(settings=settings()))
    app.include_router(ops_router())

    @app.get("/users/{uid}")
    async def user(uid: int, cache: CacheDep) -> dict[str, Any]:
        return await cache.get_or_set(f"user:{uid}", lambda: load_user(uid))  # type: ignore[no-any-return]

    with TestClient(app) as client:
        assert client.get("/users/7").json() == {"id": 7}
        assert client.get("/users/7").json() == {"id": 7}
        assert client.get("/cache/stats").json()["InMemoryCache"]["hits"] == 1


def test_ops_router_stats_renders_odd_values_without_error() -> None:
    """NaN and objects in a layer's stats become null and a type name, not a 500."""

    class OddStats(FakeCache):
        def get_stats(self) -> dict[str, Any]:
            return {"ratio": float("nan"), "thing": object(), "n": 1}

    with TestClient(make_app(cache=OddStats())) as client:
        body = client.get("/cache/stats").json()["OddStats"]
    assert body == {"ratio": None, "thing": "<object>", "n": 1}
