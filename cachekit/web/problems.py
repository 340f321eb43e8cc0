"""Problem details (RFC 9457) for every error the HTTP service answers.

Each error is a JSON object with ``type``, ``title``, ``status`` and ``detail``, sent as
``application/problem+json``. ``type`` is ``about:blank`` for plain HTTP errors (unknown
route, wrong method) and ``urn:cachekit:problem:<slug>`` for cachekit's own. Bad input is a
4xx, never a 500; a 500 carries no detail (it would be a bug, and details may hold data).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from cachekit.errors import CacheUnavailableError, CacheValueError
from cachekit.web.limits import TYPE_PREFIX, title

PROBLEM_JSON = "application/problem+json"

logger = logging.getLogger("cachekit.server")


class Problem(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class ProblemError(HTTPException):
    """An error answered as problem details; ``slug`` names its ``type``."""

    def __init__(
        self, status: int, slug: str, detail: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.slug = slug


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """A problem-details response; ``slug`` None means a plain HTTP error (about:blank)."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug if slug else "about:blank",
        "title": _title(status),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _title(status: int) -> str:
    return title(status)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only where and what: "input" may echo a secret and "ctx" may hold exception objects.
    out = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        out.append(
            {"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
        )
    return out


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
    if detail == _title(exc.status_code):  # Starlette's bare 404/405: say what was asked
        path = request.url.path[:200]
        if exc.status_code == 404:
            detail = f"nothing at {path}"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {path}"
    return problem_response(
        exc.status_code,
        detail,
        slug=getattr(exc, "slug", None),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)[:500]
    return problem_response(422, detail or "invalid request", slug="invalid-request", errors=errors)


async def _on_value(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(422, str(exc)[:500], slug="invalid-value")


async def _on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        503,
        f"the cache cannot serve: {exc}"[:500],
        slug="cache-unavailable",
        headers={"Retry-After": "1"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "unexpected error (logged by the server)", slug="internal")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer HTTP errors, validation errors and cache errors of ``app`` as problem details."""
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(CacheValueError, _on_value)
    app.add_exception_handler(CacheUnavailableError, _on_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring problem-details bodies for ``statuses``."""
    return {
        status: {
            "model": Problem,
            "description": _title(status),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
