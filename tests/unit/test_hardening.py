"""The service's hardening, in process: who may do what (tokens, scopes, namespaces), JSON
limits, HEAD, the one 413 wording, /readyz from the last probe, offline docs. Slow clients,
Redis probes counted on a real server and the docs in a browser are in
tests/integration/test_hardening.py."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cachekit import CacheConfigError
from cachekit.testing import FakeCache
from cachekit.web.jsonlimits import MAX_JSON_DEPTH, json_limit_problem
from cachekit.web.runtime import CacheRuntime
from cachekit.web.server import create_app
from cachekit.web.tokens import TokenRule
from tests.http_helpers import bearer, settings

ADMIN = "admin-token-0123456789abcdefghijkl"
READER_A = "reader-a-0123456789abcdefghijklmnop"
WRITER_A = "writer-a-0123456789abcdefghijklmnop"
GRANTS = (
    f'{{reader = {{token = "{READER_A}", namespaces = ["a"], scopes = ["read"]}}, '
    f'writer = {{token = "{WRITER_A}", namespaces = ["a"], scopes = ["read", "write"]}}}}'
)


def production(*, admin: bool = True, **leaves: Any) -> Any:
    """Production settings (auth = "all") with an admin token (unless not ``admin``) and
    two grants on ``a``."""
    if admin:
        leaves.setdefault("server__token", ADMIN)
    leaves.setdefault("server__tokens", GRANTS)
    return settings("production", redis__url="redis://127.0.0.1:1/0", **leaves)


@pytest.fixture
def prod() -> Any:
    """The service on production settings, a fake cache holding a/k and b/k."""
    cache = FakeCache()
    with TestClient(create_app(settings=production(), cache=cache)) as client:
        for ns in ("a", "b"):
            response = client.put(f"/v1/cache/{ns}/k", json=ns, headers=bearer(ADMIN))
            assert response.status_code == 204
        yield client


# -- who may do what --------------------------------------------------------------------


def test_auth_production_reads_need_a_token(prod: TestClient) -> None:
    """Acceptance: in production an unauthenticated GET of a value is 401."""
    response = prod.get("/v1/cache/a/k")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert prod.post("/v1/cache/a:batch-get", json={"keys": ["k"]}).status_code == 401


def test_auth_grant_scoped_to_one_namespace(prod: TestClient) -> None:
    """Acceptance: a token for namespace ``a`` reads ``a`` and gets 403 on ``b``."""
    assert prod.get("/v1/cache/a/k", headers=bearer(READER_A)).json() == "a"
    denied = prod.get("/v1/cache/b/k", headers=bearer(READER_A))
    assert denied.status_code == 403 and "'b'" in denied.json()["detail"]
    assert prod.post("/v1/cache/b:batch-get", json={"keys": ["k"]},
                     headers=bearer(READER_A)).status_code == 403  # fmt: skip


def test_auth_write_scope_needed_for_writes(prod: TestClient) -> None:
    """Reading is not writing: PUT and DELETE need the write scope on the namespace."""
    assert prod.put("/v1/cache/a/k", json=1, headers=bearer(READER_A)).status_code == 403
    assert prod.delete("/v1/cache/a/k", headers=bearer(READER_A)).status_code == 403
    assert prod.put("/v1/cache/a/k", json=1, headers=bearer(WRITER_A)).status_code == 204
    assert prod.put("/v1/cache/b/k", json=1, headers=bearer(WRITER_A)).status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/cache/config"),
        ("GET", "/cache/stats"),
        ("GET", "/cache/status"),
        ("POST", "/cache/invalidate"),
    ],
)
def test_auth_ops_endpoints_need_admin(prod: TestClient, method: str, path: str) -> None:
    """Acceptance: ops endpoints without the admin scope are 401 (no token) or 403."""
    body = {"json": {"pattern": "x*"}} if method == "POST" else {}
    assert prod.request(method, path, **body).status_code == 401
    assert prod.request(method, path, headers=bearer(WRITER_A), **body).status_code == 403
    assert prod.request(method, path, headers=bearer(ADMIN), **body).status_code == 200


def test_auth_probes_stay_open(prod: TestClient) -> None:
    """/livez and /readyz answer without a token."""
    assert prod.get("/livez").status_code == 200
    assert prod.get("/readyz").status_code in (200, 503)


def test_auth_writes_mode_leaves_reads_open() -> None:
    """``server.auth = "writes"``: reads open, writes and ops still need their scopes."""
    app = create_app(settings=production(server__auth="writes"), cache=FakeCache())
    with TestClient(app) as client:
        assert client.get("/v1/cache/b/k").status_code == 404
        assert client.put("/v1/cache/b/k", json=1).status_code == 401
        assert client.get("/cache/config").status_code == 401


def test_auth_grants_alone_start_the_service() -> None:
    """Grants without an admin token are enough to start; ops are then out of reach."""
    app = create_app(settings=production(admin=False), cache=FakeCache())
    with TestClient(app) as client:
        assert client.get("/v1/cache/a/k", headers=bearer(READER_A)).status_code == 404
        assert client.get("/cache/config", headers=bearer(WRITER_A)).status_code == 403


@pytest.mark.parametrize(
    "leaves",
    [
        {"server__token": "short-token"},
        {"server__tokens": '{t = {token = "short", namespaces = ["*"], scopes = ["read"]}}'},
    ],
)
def test_auth_short_tokens_refused_outside_dev(leaves: dict[str, str]) -> None:
    """A token under 32 characters is a configuration error in production, never shown."""
    with pytest.raises(CacheConfigError, match="shorter than 32 characters") as info:
        production(**leaves)
    assert "short" not in " ".join(str(p.value) for p in info.value.problems)
    settings("testing", **leaves)  # development and testing accept them


def test_auth_grants_need_scopes_and_distinct_tokens() -> None:
    """A grant without scopes, with an unknown scope, or sharing a token is refused."""
    for token, scopes in (("x" * 32, "[]"), ("x" * 32, '["delete"]'), (ADMIN, '["read"]')):
        grants = f'{{t = {{token = "{token}", namespaces = ["*"], scopes = {scopes}}}}}'
        with pytest.raises(CacheConfigError, match=r"server\.tokens\.t"):
            production(server__tokens=grants)


def test_auth_tokens_never_shown() -> None:
    """/cache/config masks every grant's token and shows its scopes."""
    with TestClient(create_app(settings=production(), cache=FakeCache())) as client:
        text = client.get("/cache/config", headers=bearer(ADMIN)).text
    assert ADMIN not in text and READER_A not in text and WRITER_A not in text
    assert '"scopes"' in text or "scopes" in text
    rule = TokenRule.from_config(production().config.server, environment="production")
    assert READER_A not in repr(rule) and "tokens=3" in repr(rule)


def test_auth_without_any_token_refuses_to_start_in_production() -> None:
    """No admin token and no grant: the service does not start outside dev/testing."""
    config = production(admin=False, server__tokens="{}")
    with pytest.raises(CacheConfigError, match=r"server\.token"), TestClient(
        create_app(settings=config, cache=FakeCache())
    ):
        pass


# -- request limits ---------------------------------------------------------------------


@pytest.fixture
def dev() -> Any:
    """The service on the testing preset (open on loopback)."""
    with TestClient(create_app(settings=settings()), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("depth", [1000, 10_000, MAX_JSON_DEPTH + 1])
@pytest.mark.parametrize("path", ["/v1/cache/n/k", "/v1/cache/n:batch-get", "/cache/invalidate"])
def test_limits_deep_json_is_422_naming_the_limit(
    dev: TestClient, depth: int, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Acceptance: JSON nested 1,000 (or 65) levels is a 422 naming the limit on every JSON
    route, logged without a traceback."""
    caplog.set_level(logging.DEBUG)
    body = b"[" * depth + b"]" * depth
    method = dev.put if path.endswith("/k") else dev.post
    response = method(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("json-too-deep")
    assert str(MAX_JSON_DEPTH) in problem["detail"]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"1" + b"0" * 400, "-9223372036854775808 .. 18446744073709551615"),
        (b'{"n": 18446744073709551616}', "18446744073709551615"),
        (b"[1e400]", "1.8e308"),
        (b"-" + b"9" * 5000, "digits"),
    ],
)
def test_limits_huge_numbers_are_422_naming_the_limit(
    dev: TestClient, body: bytes, fragment: str
) -> None:
    """Acceptance: 10^400 and friends are a 422 naming the range, in every environment
    (the memory-only stack used to accept a bare 10^400)."""
    response = dev.put("/v1/cache/n/k", content=body)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("number-out-of-range")
    assert fragment in response.json()["detail"]
    assert dev.get("/v1/cache/n/k").status_code == 404


def test_limits_allow_what_fits(dev: TestClient) -> None:
    """At the limits, values are stored: 64 levels, the int64/uint64 ends, long digit
    strings inside strings."""
    for body in (
        b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
        b"[18446744073709551615, -9223372036854775808, 1.5e308]",
        b'{"id": "123456789012345678901234567890", "deep": "[[[[[[[[[[[[[[[["}',
    ):
        assert dev.put("/v1/cache/n/k", content=body).status_code == 204, body[:40]


def test_limits_scan_is_not_fooled_by_strings() -> None:
    """Brackets and digits inside strings (escaped quotes too) count for nothing."""
    text = b'["\\"[[[[' + b"[" * 100 + b'", "' + b"9" * 40 + b'"]'
    assert json_limit_problem(text) is None
    assert json_limit_problem(b'{"a": "x\\\\", "b": ' + b"[" * 70 + b"]" * 70 + b"}")


def test_limits_head_answers_get_routes(dev: TestClient) -> None:
    """HEAD works for every GET route: same status and headers, no body."""
    dev.put("/v1/cache/n/k", json={"a": 1})
    routes = [("/livez", 200), ("/v1/cache/n/k", 200), ("/v1/cache/n/nope", 404),
              ("/cache/config", 200), ("/openapi.json", 200), ("/docs", 200)]  # fmt: skip
    for path, status in routes:
        get, head = dev.get(path), dev.head(path)
        assert head.status_code == get.status_code == status, path
        assert head.content == b""
        assert head.headers.get("content-length") == get.headers.get("content-length")


def test_limits_413_has_one_wording(dev: TestClient) -> None:
    """A declared and an undeclared oversize body get the same 413 title and detail."""
    big = b"1" * (2 * 1024 * 1024)

    def chunks() -> Any:
        yield big[:1024]
        yield big[1024:]

    declared = dev.put("/v1/cache/n/k", content=big)
    streamed = dev.put("/v1/cache/n/k", content=chunks())
    batch = dev.post("/v1/cache/n:batch-get", content=big,
                     headers={"content-type": "application/json"})  # fmt: skip
    bodies = [r.json() for r in (declared, streamed, batch)]
    assert {r.status_code for r in (declared, streamed, batch)} == {413}
    assert {(b["title"], b["detail"]) for b in bodies} == {
        ("Content Too Large", "request body exceeds 1048576 bytes (server.max_body_bytes)")
    }


# -- /readyz from the last probe ------------------------------------------------------------


class CountingCache(FakeCache):
    """A fake cache whose health checks are counted (each would be a Redis probe)."""

    probes = 0

    async def health(self) -> Any:
        self.probes += 1
        await asyncio.sleep(0.01)
        return await super().health()


async def test_readyz_probes_once_per_interval() -> None:
    """1,000 concurrent and sequential readiness checks within an interval cost one probe;
    the next interval costs one more."""
    now = [1000.0]
    cache = CountingCache()
    config = settings(server__readiness_interval="5.0").config
    runtime = CacheRuntime(cache, config=config, clock=lambda: now[0])
    await asyncio.gather(*(runtime.readiness() for _ in range(500)))
    for _ in range(500):
        ready, body = await runtime.readiness()
    assert (cache.probes, ready, body["status"]) == (1, True, "ok")
    now[0] += 5.0
    await asyncio.gather(*(runtime.readiness() for _ in range(100)))
    assert cache.probes == 2


async def test_readyz_follows_health_after_the_interval() -> None:
    """A stack that turns degraded shows so on /readyz once the interval has passed."""
    now = [1000.0]
    cache = FakeCache()
    config = settings(server__readiness_interval="1.0", server__require_redis="true",
                      redis__url="redis://127.0.0.1:1/0").config  # fmt: skip
    runtime = CacheRuntime(cache, config=config, clock=lambda: now[0])
    assert (await runtime.readiness())[0] is True
    cache.set_health("degraded", "redis: down")
    assert (await runtime.readiness())[0] is True  # the last probe still stands
    now[0] += 1.0
    assert (await runtime.readiness())[0] is False


# -- docs without a CDN -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_name_no_external_url(dev: TestClient, path: str) -> None:
    """The docs pages load their scripts from this service, and the files are served."""
    page = dev.get(path)
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    assets = [a for a in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")
              if a in page.text]  # fmt: skip
    assert assets
    for asset in assets:
        served = dev.get(f"/docs-assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000
