"""The key/value API over the stack (``/v1/cache/...``), for services in any language.

::

    GET    /v1/cache/{namespace}/{key}          the JSON value, or 404
    PUT    /v1/cache/{namespace}/{key}?ttl=60   store the JSON body (&tags=user:42,team:7)
    DELETE /v1/cache/{namespace}/{key}          remove it
    POST   /v1/cache/{namespace}:batch-get      {"keys": [...]} -> values and misses

An entry is the stack's key ``{namespace}/{key}``, so Python code on the same settings
reads it with ``await cache.get("orders/42")``. Reads need the ``read`` scope on the
namespace (when ``server.auth = "all"``), writes the ``write`` scope (``TokenRule``).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cachekit.protocol import UNSET
from cachekit.tags import MAX_TAG_LENGTH, MAX_TAGS
from cachekit.web.deps import CacheDep, require_read, require_write
from cachekit.web.jsonlimits import INT_RANGE, MAX_JSON_DEPTH
from cachekit.web.problems import ProblemError, problem_responses

NAMESPACE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
KEY_PATTERN = r"^[A-Za-z0-9_.:@~+=,-]{1,250}$"
MAX_BATCH = 1000
MAX_TTL = 10 * 365 * 86400

Namespace = Annotated[
    str,
    Path(
        pattern=NAMESPACE_PATTERN,
        description="1-64 characters from A-Z a-z 0-9 _ . -",
        examples=["orders"],
    ),
]
Key = Annotated[
    str,
    Path(
        pattern=KEY_PATTERN,
        description="1-250 characters from A-Z a-z 0-9 _ . : @ ~ + = , -",
        examples=["42"],
    ),
]
TTLParam = Annotated[
    float | None,
    Query(gt=0, le=MAX_TTL, description="seconds to keep the value (default: ttl.default)"),
]
TagsParam = Annotated[
    str | None,
    Query(
        max_length=MAX_TAGS * (MAX_TAG_LENGTH + 1),
        description="comma-separated tags (POST /cache/invalidate {\"tags\": [...]} removes "
        "every entry carrying one)",
        examples=["user:42,team:7"],
    ),
]

_JSON_BODY = {
    "requestBody": {
        "required": True,
        "description": "any JSON value except null",
        "content": {"application/json": {"schema": {}}},
    }
}
_decode_json = msgspec.json.Decoder().decode
_encode_json = msgspec.json.Encoder().encode


class BatchGet(BaseModel):
    """Keys to read in one call."""

    model_config = ConfigDict(extra="forbid")

    keys: Annotated[
        list[Annotated[str, Field(pattern=KEY_PATTERN)]], Field(min_length=1, max_length=MAX_BATCH)
    ]


class BatchResult(BaseModel):
    """Values of the keys that hit, and the keys that missed."""

    values: dict[str, Any]
    missing: list[str]


class Deleted(BaseModel):
    """Whether a live entry was removed."""

    deleted: bool


def _stack_key(namespace: str, key: str) -> str:
    return f"{namespace}/{key}"


def _json_response(value: Any) -> Response:
    try:
        content = _encode_json(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise ProblemError(
            422, "not-json", f"the stored value cannot be shown as JSON: {exc}"
        ) from None
    return Response(content, media_type="application/json")


def kv_router() -> APIRouter:
    """The key/value API over the stack (``/v1/cache/...``)."""
    router = APIRouter(prefix="/v1/cache", tags=["cache"])

    @router.get(
        "/{namespace}/{key}",
        name="cachekit_get",
        summary="Read a value",
        dependencies=[Depends(require_read)],
        responses={
            200: {
                "description": "the stored JSON value",
                "content": {"application/json": {"schema": {}}},
            },
            **problem_responses(404, 422, 503),
        },
    )
    async def get_value(namespace: Namespace, key: Key, cache: CacheDep) -> Response:
        """The JSON value stored under the key, or 404."""
        value = await cache.get(_stack_key(namespace, key))
        if value is None:
            raise ProblemError(404, "not-found", f"no entry {namespace}/{key}")
        return _json_response(value)

    @router.put(
        "/{namespace}/{key}",
        name="cachekit_put",
        summary="Store a value",
        status_code=204,
        dependencies=[Depends(require_write)],
        openapi_extra=_JSON_BODY,
        responses=problem_responses(400, 401, 403, 413, 422, 503),
    )
    async def put_value(
        namespace: Namespace,
        key: Key,
        request: Request,
        cache: CacheDep,
        ttl: TTLParam = None,
        tags: TagsParam = None,
    ) -> Response:
        """Store the JSON body under the key for ``ttl`` seconds, with ``tags`` (token needed)."""
        value = _read_json(await request.body())
        seconds = UNSET if ttl is None else ttl
        try:
            if tags is None:
                await cache.set(_stack_key(namespace, key), value, seconds)
            else:
                names = [tag.strip() for tag in tags.split(",") if tag.strip()]
                await cache.set_tagged(_stack_key(namespace, key), value, names, seconds)
        except OverflowError:
            low, high = INT_RANGE
            detail = f"an integer is outside the range a value may hold ({low} .. {high})"
            raise ProblemError(422, "number-out-of-range", detail) from None
        except (TypeError, msgspec.EncodeError, RecursionError) as exc:
            raise ProblemError(422, "invalid-value", f"cannot store this value: {exc}") from None
        return Response(status_code=204)

    @router.delete(
        "/{namespace}/{key}",
        name="cachekit_delete",
        summary="Delete a value",
        response_model=Deleted,
        dependencies=[Depends(require_write)],
        responses=problem_responses(401, 403, 422, 503),
    )
    async def delete_value(namespace: Namespace, key: Key, cache: CacheDep) -> Deleted:
        """Remove the key (token needed); ``deleted`` says whether it held a value."""
        return Deleted(deleted=await cache.delete(_stack_key(namespace, key)))

    @router.post(
        "/{namespace}:batch-get",
        name="cachekit_batch_get",
        summary="Read many values",
        response_model=BatchResult,
        dependencies=[Depends(require_read)],
        responses=problem_responses(401, 403, 413, 422, 503),
    )
    async def batch_get(namespace: Namespace, body: BatchGet, cache: CacheDep) -> Response:
        """Values of many keys in one call; ``missing`` lists the keys that missed."""
        wanted = list(dict.fromkeys(body.keys))
        found = await cache.get_many([_stack_key(namespace, k) for k in wanted])
        cut = len(namespace) + 1
        values = {name[cut:]: value for name, value in found.items()}
        return _json_response({"values": values, "missing": [k for k in wanted if k not in values]})

    return router


def _read_json(body: bytes) -> Any:
    if not body:
        raise ProblemError(400, "invalid-json", "the body is empty: send a JSON value")
    try:
        value = _decode_json(body)
    except RecursionError:  # JSONLimitsMiddleware refuses this first; kept for other apps
        detail = f"the JSON nests too deep; the limit is {MAX_JSON_DEPTH} levels"
        raise ProblemError(422, "json-too-deep", detail) from None
    except msgspec.ValidationError as exc:  # "Number out of range": 1e400
        raise ProblemError(422, "number-out-of-range", f"the body holds {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProblemError(
            400,
            "invalid-json",
            f'the body is not JSON ({exc}); to store a string, send it quoted: "text"',
        ) from None
    if value is None:
        raise ProblemError(422, "invalid-value", "null cannot be stored: a miss reads as null")
    return value
