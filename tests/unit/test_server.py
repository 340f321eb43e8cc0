"""``cachekit serve``: the key/value API, token rule, body limit and problem details, in
process (real Redis and the command run as a subprocess are in tests/integration)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cachekit import CacheConfigError
from cachekit.cli.main import main
from cachekit.testing import FakeCache
from cachekit.web.server import create_app
from tests.helpers_net import free_port
from tests.http_helpers import bearer, settings

PROBLEM_KEYS = {"type", "title", "status", "detail"}
TOKEN = "s3cret-0123456789abcdefghijklmnopqrstuv"  # 32 characters or more, as production wants


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The service on the testing preset (memory only, writes open on loopback)."""
    with TestClient(create_app(settings=settings())) as test_client:
        yield test_client


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status`` (and ``type`` ending in ``slug``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    if slug is not None:
        assert body["type"] == f"urn:cachekit:problem:{slug}"
    return body


# -- the key/value API ------------------------------------------------------------------


def test_kv_put_then_get_round_trips_json(client: TestClient) -> None:
    """A JSON value PUT under a key is what GET returns."""
    value = {"name": "Ada", "langs": ["en", "fr"], "age": 36, "score": 1.5, "ok": True}
    assert client.put("/v1/cache/users/42", json=value).status_code == 204
    response = client.get("/v1/cache/users/42")
    assert response.status_code == 200 and response.json() == value
    assert response.headers["content-type"] == "application/json"


def test_kv_put_accepts_json_without_content_type(client: TestClient) -> None:
    """``curl -d`` sends a form content type; a JSON body is still accepted."""
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert client.put("/v1/cache/n/k", content=b'"text"', headers=headers).status_code == 204
    assert client.get("/v1/cache/n/k").json() == "text"


def test_kv_get_missing_key_is_404_problem(client: TestClient) -> None:
    """A missing key is a 404 problem naming it."""
    body = assert_problem(client.get("/v1/cache/users/nobody"), 404, "not-found")
    assert "users/nobody" in body["detail"]


def test_kv_ttl_expires_the_value() -> None:
    """``?ttl=`` sets the entry's lifetime (seen through the fake clock)."""
    cache = FakeCache()
    with TestClient(create_app(settings=settings(), cache=cache)) as client:
        client.put("/v1/cache/s/short", json=1, params={"ttl": 5})
        client.put("/v1/cache/s/long", json=2)
        cache.advance(6)
        assert client.get("/v1/cache/s/short").status_code == 404
        assert client.get("/v1/cache/s/long").json() == 2
        cache.advance(60)
        assert client.get("/v1/cache/s/long").status_code == 404


def test_kv_delete_reports_whether_it_removed(client: TestClient) -> None:
    """DELETE removes the entry; a second DELETE reports nothing removed."""
    client.put("/v1/cache/n/k", json=1)
    assert client.delete("/v1/cache/n/k").json() == {"deleted": True}
    assert client.delete("/v1/cache/n/k").json() == {"deleted": False}
    assert client.get("/v1/cache/n/k").status_code == 404


def test_kv_batch_get_returns_hits_and_misses(client: TestClient) -> None:
    """batch-get returns the values that hit and lists the keys that missed."""
    client.put("/v1/cache/n/a", json={"v": 1})
    client.put("/v1/cache/n/b", json=[2])
    response = client.post("/v1/cache/n:batch-get", json={"keys": ["a", "b", "c", "a"]})
    assert response.json() == {"values": {"a": {"v": 1}, "b": [2]}, "missing": ["c"]}


def test_kv_namespaces_are_separate(client: TestClient) -> None:
    """The same key in two namespaces holds two values."""
    client.put("/v1/cache/one/k", json=1)
    client.put("/v1/cache/two/k", json=2)
    assert (client.get("/v1/cache/one/k").json(), client.get("/v1/cache/two/k").json()) == (1, 2)


async def test_kv_entries_are_readable_from_python_on_the_same_stack() -> None:
    """An entry written over HTTP is ``{namespace}/{key}`` in the stack."""
    cache = FakeCache()
    with TestClient(create_app(settings=settings(), cache=cache)) as client:
        client.put("/v1/cache/orders/42", json={"total": 10})
    assert await cache.get("orders/42") == {"total": 10}


def test_kv_openapi_is_published(client: TestClient) -> None:
    """/openapi.json lists the key/value and ops endpoints."""
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/cache/{namespace}/{key}", "/v1/cache/{namespace}:batch-get"} <= set(paths)
    assert {"/livez", "/readyz", "/cache/status", "/cache/config", "/cache/invalidate"} <= set(
        paths
    )
    assert set(paths["/v1/cache/{namespace}/{key}"]) == {"get", "put", "delete"}


# -- problem details on bad input -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        (b"", 400, "invalid-json"),
        (b"not json", 400, "invalid-json"),
        (b'{"a": ', 400, "invalid-json"),
        (b"\xff\xfe", 400, "invalid-json"),
        (b"null", 422, "invalid-value"),
        (b"[123456789012345678901234567890]", 422, "number-out-of-range"),
    ],
)
def test_problem_details_for_bad_bodies(
    client: TestClient, body: bytes, status: int, slug: str
) -> None:
    """Bodies that are not storable JSON get a 4xx problem, never a 500."""
    assert_problem(client.put("/v1/cache/n/k", content=body), status, slug)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/cache/bad%20ns/k",
        "/v1/cache/n/bad%20key",
        "/v1/cache/n/" + "k" * 251,
        "/v1/cache/" + "n" * 65 + "/k",
        "/v1/cache/n/a*b",
        "/v1/cache/n/%C3%A9",
    ],
)
def test_problem_details_for_bad_names(client: TestClient, path: str) -> None:
    """Namespaces and keys outside their charset or length get a 422 problem."""
    body = assert_problem(client.put(path, json=1), 422, "invalid-request")
    assert body["errors"] and "input" not in body["errors"][0]


@pytest.mark.parametrize("ttl", ["0", "-1", "abc", "nan", "inf", "1e20"])
def test_problem_details_for_bad_ttl(client: TestClient, ttl: str) -> None:
    """A TTL that is not a positive number of seconds (up to 10 years) is a 422."""
    assert_problem(client.put("/v1/cache/n/k", json=1, params={"ttl": ttl}), 422)


def test_problem_details_for_bad_batch_bodies(client: TestClient) -> None:
    """batch-get needs 1 to 1000 valid keys as a JSON object."""
    for body in ({"keys": []}, {"keys": ["bad key"]}, {"keys": ["k"] * 1001}, {"other": 1}, [1]):
        assert_problem(client.post("/v1/cache/n:batch-get", json=body), 422)


def test_problem_details_for_unknown_routes_and_methods(client: TestClient) -> None:
    """Unknown paths and methods are problems too (``about:blank``)."""
    assert assert_problem(client.get("/nope"), 404)["type"] == "about:blank"
    assert assert_problem(client.patch("/v1/cache/n/k", json=1), 405)["type"] == "about:blank"


# -- body limit -------------------------------------------------------------------------


def test_body_limit_declared_length_is_413() -> None:
    """A body whose Content-Length exceeds server.max_body_bytes gets 413."""
    with TestClient(create_app(settings=settings(server__max_body_bytes=1024))) as client:
        assert client.put("/v1/cache/n/k", json="x" * 1000).status_code == 204
        response = client.put("/v1/cache/n/k", json="x" * 2000)
    assert_problem(response, 413, "body-too-large")


def test_body_limit_counts_streamed_bytes() -> None:
    """A chunked body without Content-Length is cut off at the limit with 413."""

    def chunks() -> Iterator[bytes]:
        yield b'"'
        for _ in range(10):
            yield b"x" * 500
        yield b'"'

    with TestClient(create_app(settings=settings(server__max_body_bytes=1024))) as client:
        response = client.put("/v1/cache/n/k", content=chunks())
        batch = client.post(
            "/v1/cache/n:batch-get",
            content=(b'{"keys": [' + b'"k",' * 400 + b'"k"]}' for _ in range(1)),
            headers={"content-type": "application/json"},
        )
    assert_problem(response, 413, "body-too-large")
    assert_problem(batch, 413, "body-too-large")


# -- token rule in the service ----------------------------------------------------------


def production(**leaves: Any) -> Any:
    """Production settings; Redis on a closed port (a fake cache stands in)."""
    return settings("production", redis__url="redis://127.0.0.1:1/0", **leaves)


def test_token_production_put_without_token_is_401() -> None:
    """With a token configured and ``server.auth = "writes"``, writes need it; reads do not."""
    app = create_app(
        settings=production(server__token=TOKEN, server__auth="writes"), cache=FakeCache()
    )
    with TestClient(app) as client:
        assert_problem(client.put("/v1/cache/n/k", json=1), 401, "unauthorized")
        assert_problem(client.put("/v1/cache/n/k", json=1, headers=bearer("wrong")), 401)
        assert_problem(client.delete("/v1/cache/n/k"), 401)
        assert client.put("/v1/cache/n/k", json=1, headers=bearer(TOKEN)).status_code == 204
        assert client.get("/v1/cache/n/k").json() == 1
        assert client.post("/v1/cache/n:batch-get", json={"keys": ["k"]}).status_code == 200


def test_token_unauthorized_before_validation() -> None:
    """A caller without the token learns nothing about input validity: 401 first."""
    app = create_app(settings=production(server__token=TOKEN), cache=FakeCache())
    with TestClient(app) as client:
        assert client.put("/v1/cache/bad%20ns/k", content=b"junk").status_code == 401


def test_token_production_without_token_refuses_to_start() -> None:
    """The service does not start in production without a token."""
    app = create_app(settings=production(), cache=FakeCache())
    with pytest.raises(CacheConfigError, match=r"server\.token"), TestClient(app):
        pass


def test_cli_serve_refuses_production_without_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cachekit serve --env production`` without a token exits 2 naming server.token."""
    for var in [v for v in os.environ if v.startswith("CACHEKIT_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("CACHEKIT_SETTINGS_ROOT", str(tmp_path))
    assert main(["serve", "--env", "production", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "server.token: not set" in err and "CACHEKIT_SERVER__TOKEN" in err
