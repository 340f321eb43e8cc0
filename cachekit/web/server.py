"""``cachekit serve``: the resolved stack over HTTP, for services in any language.

::

    GET    /v1/cache/{namespace}/{key}          the JSON value, or 404
    PUT    /v1/cache/{namespace}/{key}?ttl=60   store the JSON body (token needed)
    DELETE /v1/cache/{namespace}/{key}          remove it (token needed)
    POST   /v1/cache/{namespace}:batch-get      {"keys": [...]} -> values and misses

plus the ops router (``/livez``, ``/readyz``, ``/cache/...``) and ``/openapi.json``. An
entry is the stack's key ``{namespace}/{key}``, so Python code on the same settings reads
it with ``await cache.get("orders/42")``. Errors are problem details (RFC 9457), bad
input a 4xx, never a 500. Defaults come from the ``[server]`` settings: 127.0.0.1:8000,
1 MiB bodies, writes need ``server.token`` outside development/testing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cachekit.config.model import CacheConfig
from cachekit.config.settings import ResolvedSettings
from cachekit.protocol import UNSET, CacheInterface
from cachekit.web.deps import CacheDep, require_token
from cachekit.web.limits import BodyLimitMiddleware
from cachekit.web.ops import ops_router
from cachekit.web.problems import ProblemError, install_problem_handlers, problem_responses

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
        dependencies=[Depends(require_token)],
        openapi_extra=_JSON_BODY,
        responses=problem_responses(400, 401, 413, 422, 503),
    )
    async def put_value(
        namespace: Namespace, key: Key, request: Request, cache: CacheDep, ttl: TTLParam = None
    ) -> Response:
        """Store the JSON body under the key for ``ttl`` seconds (token needed)."""
        value = _read_json(await request.body())
        try:
            await cache.set(_stack_key(namespace, key), value, UNSET if ttl is None else ttl)
        except (TypeError, OverflowError, msgspec.EncodeError) as exc:
            raise ProblemError(422, "invalid-value", f"cannot store this value: {exc}") from None
        return Response(status_code=204)

    @router.delete(
        "/{namespace}/{key}",
        name="cachekit_delete",
        summary="Delete a value",
        response_model=Deleted,
        dependencies=[Depends(require_token)],
        responses=problem_responses(401, 422, 503),
    )
    async def delete_value(namespace: Namespace, key: Key, cache: CacheDep) -> Deleted:
        """Remove the key (token needed); ``deleted`` says whether it held a value."""
        return Deleted(deleted=await cache.delete(_stack_key(namespace, key)))

    @router.post(
        "/{namespace}:batch-get",
        name="cachekit_batch_get",
        summary="Read many values",
        response_model=BatchResult,
        responses=problem_responses(413, 422, 503),
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
    except msgspec.DecodeError as exc:
        raise ProblemError(
            400,
            "invalid-json",
            f'the body is not JSON ({exc}); to store a string, send it quoted: "text"',
        ) from None
    if value is None:
        raise ProblemError(422, "invalid-value", "null cannot be stored: a miss reads as null")
    return value


def create_app(
    *,
    settings: ResolvedSettings | None = None,
    config: CacheConfig | None = None,
    cache: CacheInterface | None = None,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
    environment: str | None = None,
) -> FastAPI:
    """The service ``cachekit serve`` runs: ops router, key/value API, problem details.

    Settings are resolved here (the body limit is needed to build the app); the stack is
    resolved and connected by the lifespan at startup.
    """
    from cachekit._version import __version__
    from cachekit.config.settings import resolve_settings
    from cachekit.web.lifespan import cachekit_lifespan

    if settings is None and config is None:
        settings = resolve_settings(environ=environ, environment=environment)
    resolved = settings.config if settings is not None else config
    assert resolved is not None
    app = FastAPI(
        title="cachekit",
        version=__version__,
        description="Key/value access to a cachekit stack, and its ops endpoints.",
        lifespan=cachekit_lifespan(settings=settings, config=config, cache=cache, host=host),
        redoc_url=None,
    )
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=resolved.server.max_body_bytes)
    app.include_router(ops_router())
    app.include_router(kv_router())
    return app


def log_config() -> dict[str, Any]:
    """uvicorn's logging setup, with cachekit's warnings shown next to uvicorn's."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    config["loggers"]["cachekit"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def uvicorn_config(settings: ResolvedSettings, *, log_level: str = "info") -> Any:
    """The ``uvicorn.Config`` of the service: ``server.host``:``server.port``, lifespan on."""
    import uvicorn

    server = settings.config.server
    return uvicorn.Config(
        create_app(settings=settings),
        host=server.host,
        port=server.port,
        log_level=log_level,
        log_config=log_config(),
        lifespan="on",
        server_header=False,
    )


def worker_app() -> FastAPI:
    """The app of one worker process of ``cachekit serve --workers N`` (uvicorn imports it
    by name): the settings resolved from the environment the parent handed down."""
    from cachekit.config.settings import resolve_settings

    return_large_frees_to_the_os()
    return create_app(settings=resolve_settings())


def serve(settings: ResolvedSettings, *, log_level: str = "info", workers: int = 1) -> int:
    """Run the service until interrupted; 0 after a clean shutdown, 1 when it failed to start.

    Refuses to start (``CacheConfigError`` naming ``server.token``) when writes would
    need a token and none is set. With ``workers`` > 1, uvicorn runs that many worker
    processes on one socket, each with a stack of its own; their memory tiers stay
    coherent through Redis (``memory.coherence``).
    """
    import uvicorn

    from cachekit.web.tokens import TokenRule

    config = settings.config
    TokenRule(
        config.server.token, environment=config.environment, host=config.server.host
    ).enforce()
    if workers > 1:
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.run(
                "cachekit.web.server:worker_app",
                factory=True,
                workers=workers,
                host=config.server.host,
                port=config.server.port,
                log_level=log_level,
                log_config=log_config(),
                lifespan="on",
                server_header=False,
            )
        return 0
    return_large_frees_to_the_os()
    server = uvicorn.Server(uvicorn_config(settings, log_level=log_level))
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after shutdown
        server.run()
    return 0 if server.started else 1


def return_large_frees_to_the_os(threshold: int = 128 * 1024) -> bool:
    """Pin glibc's mmap threshold in this process (``cachekit serve`` owns it), so blocks of
    ``threshold`` bytes or more are mapped and unmapped on their own; True when set.

    glibc raises the threshold after each large free (up to 32 MiB), so the encoded values
    the memory tier drops and the request buffers of large PUTs land in the heap, which
    fragments and does not shrink: 120 PUTs of a 1 MB object into a 64 MiB tier left RSS
    30 MiB above what the tier held, and 0 with the threshold pinned. Not glibc (or no
    libc found): nothing changes.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    m_mmap_threshold = -3  # M_MMAP_THRESHOLD in malloc.h
    return bool(mallopt(m_mmap_threshold, threshold))
