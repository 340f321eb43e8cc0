"""``cache_response``: HTTP caching of a FastAPI endpoint's responses in the app's stack.

::

    @app.get("/users/{uid}")
    @cache_response(ttl=60, tags=["user:{uid}"])
    async def user(uid: int) -> dict[str, Any]: ...

The first request runs the endpoint and stores its encoded response (body, status, media
type and an ``ETag``: a digest of the body) under a key made of the method, the path, the
sorted query string and the ``vary`` headers (or ``key``, a template filled from the
endpoint's arguments). Later requests are answered from the cache with the same ``ETag``
and ``Cache-Control: max-age``; a request whose ``If-None-Match`` holds that ETag gets
``304 Not Modified`` without a body. Concurrent misses run the endpoint once
(``get_or_set``: single flight, the lease across processes, ``[refresh]``). A request with
``Cache-Control: no-cache`` runs the endpoint and stores the fresh response; ``no-store``
runs it and stores nothing. Only ``methods`` (GET and HEAD by default) are cached; only
200 responses are stored. The endpoint's return value is encoded with FastAPI's
``jsonable_encoder`` (a ``Response`` it returns is stored as it is).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, TypeVar

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from cachekit.cached import KeySpec, TagSpec
from cachekit.loaders import Uncacheable
from cachekit.protocol import UNSET, CacheInterface
from cachekit.web.deps import get_cache

E = TypeVar("E", bound=Callable[..., Awaitable[Any]])

_REQUEST: Final = "_cachekit_request"
_CACHE: Final = "_cachekit_cache"


def _directives(request: Request) -> set[str]:
    header = request.headers.get("cache-control", "")
    return {part.strip().split("=", 1)[0].lower() for part in header.split(",") if part.strip()}


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, ``*`` matches any)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def _entry(result: Any) -> dict[str, Any] | Uncacheable:
    """The stored form of an endpoint's result; ``Uncacheable`` for a non-200 response."""
    response = result if isinstance(result, Response) else JSONResponse(jsonable_encoder(result))
    body = bytes(response.body)
    entry = {
        "body": body,
        "status": response.status_code,
        "media_type": response.media_type or "application/octet-stream",
        "etag": _etag(body),
    }
    return entry if response.status_code == 200 else Uncacheable(entry)


def cache_response(
    *,
    ttl: float | None = 60.0,
    key: KeySpec | None = None,
    tags: TagSpec = (),
    vary: Sequence[str] = (),
    private: bool = False,
    methods: Iterable[str] = ("GET", "HEAD"),
) -> Callable[[E], E]:
    """Cache an endpoint's responses for ``ttl`` seconds (see the module doc).

    ``key`` and ``tags`` are templates filled from the endpoint's arguments by name (or
    functions of them); ``vary`` names request headers whose values join the key;
    ``private`` sends ``Cache-Control: private`` instead of ``public``.
    """
    cached_methods = frozenset(m.upper() for m in methods)
    vary_headers = tuple(h.lower() for h in vary)
    scope = "private" if private else "public"
    control = f"{scope}, max-age={round(ttl)}" if ttl is not None else f"{scope}, no-cache"

    def decorate(endpoint: E) -> E:
        signature = inspect.signature(endpoint, eval_str=True)

        def key_of(request: Request, arguments: dict[str, Any]) -> str:
            if callable(key):
                return key(**arguments)
            if key is not None:
                return key.format(**arguments)
            query = sorted(request.query_params.multi_items())
            parts = [request.method, request.url.path, repr(query)]
            parts += [request.headers.get(h, "") for h in vary_headers]
            digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
            return f"http:{endpoint.__module__}.{endpoint.__qualname__}:{digest}"

        def tags_of(arguments: dict[str, Any]) -> list[str]:
            if callable(tags):
                return list(tags(**arguments))
            return [template.format(**arguments) for template in tags]

        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request: Request = kwargs.pop(_REQUEST)
            cache: CacheInterface = kwargs.pop(_CACHE)
            if request.method not in cached_methods:
                return await endpoint(*args, **kwargs)
            arguments = signature.bind_partial(*args, **kwargs).arguments
            name, names = key_of(request, arguments), tags_of(arguments)
            directives = _directives(request)
            seconds = UNSET if ttl is None else ttl

            async def load() -> Any:
                return _entry(await endpoint(*args, **kwargs))

            if "no-store" in directives:
                entry = _entry(await endpoint(*args, **kwargs))
            elif "no-cache" in directives:
                entry = await load()
                if not isinstance(entry, Uncacheable):
                    await cache.set_tagged(name, entry, names, seconds)
            else:
                entry = await cache.get_or_set_tagged(name, load, names, seconds)
            if isinstance(entry, Uncacheable):
                entry = entry.value
            headers = {"ETag": entry["etag"], "Cache-Control": control}
            if vary_headers:
                headers["Vary"] = ", ".join(vary)
            fresh = _matches(request.headers.get("if-none-match"), entry["etag"])
            if fresh and entry["status"] == 200:
                return Response(status_code=304, headers=headers)
            return Response(
                entry["body"], status_code=entry["status"], media_type=entry["media_type"],
                headers=headers,
            )  # fmt: skip

        extra = [
            inspect.Parameter(_REQUEST, inspect.Parameter.KEYWORD_ONLY, annotation=Request),
            inspect.Parameter(
                _CACHE,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=CacheInterface,
                default=Depends(get_cache),
            ),
        ]
        params = list(signature.parameters.values())
        head = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
        tail = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*head, *extra, *tail]
        )
        return wrapper  # type: ignore[return-value]

    return decorate
