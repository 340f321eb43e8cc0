"""Request limits as pure ASGI middleware (they work under any framework).

``BodyLimitMiddleware`` refuses request bodies larger than ``server.max_body_bytes``: a
declared ``Content-Length`` above the limit is refused before the app runs; otherwise the
bytes are counted as the app reads them and reading past the limit raises ``BodyTooLarge``
(an HTTP 413), which the app's handlers turn into a response, or this middleware does when
nothing has been sent yet. Every 413 carries the same title and detail (``too_large``).

``HeadMiddleware`` answers ``HEAD`` for every ``GET`` route: the request runs as a GET and
the body is dropped (headers, ``Content-Length`` included, are kept).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TYPE_PREFIX: Final = "urn:cachekit:problem:"
_TITLES: Final = {413: "Content Too Large"}
"""RFC 9110's title, where Python's ``HTTPStatus`` still has the older phrase."""


def title(status: int) -> str:
    """The ``title`` of a problem with ``status``: the status's reason phrase."""
    try:
        return _TITLES.get(status) or HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def too_large(limit: int) -> str:
    """The one wording of a 413."""
    return f"request body exceeds {limit} bytes (server.max_body_bytes)"


class BodyTooLarge(HTTPException):
    """The request body exceeds the configured limit."""

    slug = "body-too-large"

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large(limit))


async def send_problem(
    send: Send, status: int, slug: str, detail: str, *, close: bool = False
) -> None:
    """Answer a problem-details response straight from ASGI middleware."""
    body = json.dumps(
        {
            "type": TYPE_PREFIX + slug,
            "title": title(status),
            "status": status,
            "detail": detail,
        }
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Answer 413 to requests whose body exceeds ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await send_problem(send, 413, BodyTooLarge.slug, too_large(limit), close=True)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await send_problem(send, 413, BodyTooLarge.slug, too_large(limit), close=True)


class HeadMiddleware:
    """Run ``HEAD`` requests as ``GET`` and send no body back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def bodiless(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, bodiless)
