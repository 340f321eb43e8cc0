"""Logs of ``cachekit serve``: a request id on every request, and ``--log-format json``.

``RequestIdMiddleware`` (pure ASGI) gives each request an id: the caller's
``X-Request-ID`` when it is a short token, else a fresh one; it is sent back in the
response's ``X-Request-ID`` and is in every log record made while the request runs.
``JSONFormatter`` writes one JSON object per line: ``time``, ``level``, ``logger``,
``message``, ``request_id`` and, for access lines, ``client``, ``method``, ``path`` and
``status``. Nothing secret reaches a line: URLs in messages are masked (their password
and ``password=`` / ``username=`` values) and query values of names that look secret
(``token``, ``key``, ``password``, ...) are replaced.
"""

from __future__ import annotations

import json
import logging
import random
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cachekit.config.masking import MASK, looks_secret, mask_url

_REQUEST_ID: ContextVar[str | None] = ContextVar("cachekit_request_id", default=None)
_GIVEN: Final = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_URL: Final = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+")
_QUERY: Final = re.compile(r"([?&])([^=&\s]+)=([^&\s\"]*)")


def request_id() -> str | None:
    """The id of the request being served, if any."""
    return _REQUEST_ID.get()


class RequestIdMiddleware:
    """Sets the request id for the request's duration and sends it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        # An id names a request, it grants nothing: no need for the OS's randomness.
        rid = given if _GIVEN.match(given) else f"{random.getrandbits(64):016x}"
        token = _REQUEST_ID.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _REQUEST_ID.reset(token)


def scrub(text: str) -> str:
    """``text`` with URLs masked and secret-looking query values replaced."""
    text = _URL.sub(lambda m: mask_url(m.group(0)), text)
    return _QUERY.sub(
        lambda m: f"{m.group(1)}{m.group(2)}={MASK if looks_secret(m.group(2)) else m.group(3)}",
        text,
    )


class JSONFormatter(logging.Formatter):
    """One JSON object per line (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        rid = request_id()
        if rid is not None:
            doc["request_id"] = rid
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, _, status = args
            doc.update(
                message=f"{method} {scrub(str(path))} {status}",
                client=str(client),
                method=str(method),
                path=scrub(str(path)),
                status=int(str(status)),
            )
        else:
            doc["message"] = scrub(record.getMessage())
        if record.exc_info:
            doc["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)
