"""The ops router: liveness, readiness, status, stats, config and invalidation.

Mount it in any app whose lifespan is ``cachekit_lifespan``::

    app.include_router(ops_router())

``/livez`` answers as long as the process does. ``/readyz`` is 503 when the stack cannot
serve, 200 with ``"status": "degraded"`` when it serves from memory (503 then too with
``server.require_redis``); it answers from the last probe, so a flood of requests costs one
Redis probe per ``server.readiness_interval``. Both are open to anyone. ``/cache/status``,
``/cache/stats``, ``/cache/config``, ``POST /cache/invalidate`` and ``/metrics`` (Prometheus)
need a token with the
``admin`` scope (``server.token`` has it), unless the service is open (no token at all,
development/testing on loopback).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cachekit.errors import CacheError, CacheUnavailableError
from cachekit.tags import MAX_TAG_LENGTH, MAX_TAGS
from cachekit.web.deps import RuntimeDep, require_token
from cachekit.web.problems import problem_response, problem_responses

OPERATION_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_HTTP_PATTERN = 256
"""Longest pattern ``POST /cache/invalidate`` accepts (the library's limit is
``cachekit.backends.glob.MAX_PATTERN_LENGTH``)."""


class Health(BaseModel):
    """Health of the stack, as ``/readyz`` reports it."""

    status: Literal["ok", "degraded", "unavailable"]
    ready: bool
    reasons: list[str]
    tiers: dict[str, str]


class Liveness(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class InvalidateRequest(BaseModel):
    """What to remove: the entries of one AI ``operation``, keys matching a ``pattern``
    (a Redis glob over the stack's keys: ``*``, ``?``, ``[a-z]``, ``\\`` escapes), or the
    entries carrying any of ``tags``."""

    model_config = ConfigDict(extra="forbid")

    operation: Annotated[str | None, Field(pattern=OPERATION_PATTERN)] = None
    pattern: Annotated[str | None, Field(min_length=1, max_length=MAX_HTTP_PATTERN)] = None
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=MAX_TAG_LENGTH)]] | None,
        Field(min_length=1, max_length=MAX_TAGS),
    ] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> InvalidateRequest:
        given = [self.operation, self.pattern, self.tags]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of 'operation', 'pattern' and 'tags'")
        return self


class InvalidateResult(BaseModel):
    """How many entries were removed (from Redis when the stack has it)."""

    removed: int
    operation: str | None = None
    pattern: str | None = None
    tags: list[str] | None = None


def _opaque(value: Any) -> str:
    # Reports hold plain data; anything else is named, never rendered (it might hold secrets).
    return f"<{type(value).__name__}>"


_encode = msgspec.json.Encoder(enc_hook=_opaque).encode


def json_response(value: Any, status_code: int = 200) -> Response:
    """``value`` as JSON (NaN and infinities as null, unknown objects by type name)."""
    return Response(_encode(value), status_code=status_code, media_type="application/json")


def ops_router(*, prefix: str = "", tags: Sequence[str | Enum] = ("cachekit ops",)) -> APIRouter:
    """A router with the ops endpoints; mount it with ``app.include_router(ops_router())``."""
    router = APIRouter(prefix=prefix, tags=list(tags))

    @router.get("/livez", name="cachekit_livez", summary="Liveness", response_model=Liveness)
    async def livez() -> dict[str, str]:
        """Liveness: the process answers. Never looks at Redis."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        name="cachekit_readyz",
        summary="Readiness",
        response_model=Health,
        responses={503: {"model": Health, "description": "the stack cannot serve"}},
    )
    async def readyz(runtime: RuntimeDep) -> Response:
        """Readiness: 200 when the stack serves (``degraded`` from memory), else 503."""
        ready, body = await runtime.readiness()
        return json_response(body, 200 if ready else 503)

    admin: dict[str, Any] = {
        "dependencies": [Depends(require_token)],
        "responses": problem_responses(401, 403),
    }

    @router.get("/cache/status", name="cachekit_status", summary="Stack status", **admin)
    async def status(runtime: RuntimeDep) -> Response:
        """Health, environment, preset, the stack's composition and the write mode."""
        return json_response(await runtime.status())

    @router.get("/cache/stats", name="cachekit_stats", summary="Stack counters", **admin)
    async def stats(runtime: RuntimeDep) -> Response:
        """Counters of each layer of the stack (hits, misses, evictions, ...)."""
        return json_response(await runtime.stats())

    @router.get(
        "/cache/config", name="cachekit_config", summary="Resolved configuration", **admin
    )
    async def config(runtime: RuntimeDep) -> Response:
        """The resolved configuration, secrets masked, with the layer of each value."""
        return json_response(runtime.config_view())

    @router.post(
        "/cache/invalidate",
        name="cachekit_invalidate",
        summary="Invalidate entries",
        response_model=InvalidateResult,
        dependencies=[Depends(require_token)],
        responses=problem_responses(401, 403, 413, 422, 501, 503),
    )
    async def invalidate(body: InvalidateRequest, runtime: RuntimeDep) -> Any:
        """Remove an AI operation's entries or the keys matching a pattern (token needed)."""
        try:
            removed = await runtime.invalidate(
                operation=body.operation, pattern=body.pattern, tags=body.tags
            )
        except NotImplementedError as exc:
            return problem_response(501, str(exc), slug="not-supported")
        except CacheUnavailableError as exc:
            return problem_response(503, f"the cache cannot serve: {exc}", slug="cache-unavailable")
        except CacheError as exc:
            return problem_response(422, str(exc), slug="invalid-value")
        return InvalidateResult(
            removed=removed, operation=body.operation, pattern=body.pattern, tags=body.tags
        )

    @router.get(
        "/metrics",
        name="cachekit_metrics",
        summary="Prometheus metrics",
        responses={
            200: {"description": "the text format", "content": {"text/plain": {}}},
            **problem_responses(401, 403, 404),
        },
        **{"dependencies": admin["dependencies"]},
    )
    async def metrics(runtime: RuntimeDep) -> Response:
        """The stack's metrics in the Prometheus text format (``OTEL_METRICS_EXPORTER=prometheus``,
        the default of ``cachekit serve``)."""
        found = runtime.metrics()
        if found is None:
            detail = (
                "this stack's metrics do not go to Prometheus: set OTEL_METRICS_EXPORTER="
                "prometheus (and monitoring.enabled = true)"
            )
            return problem_response(404, detail, slug="not-found")
        media_type, body = found
        return Response(body, media_type=media_type)

    return router
