"""Limits on JSON request bodies: nesting depth and the range of numbers.

JSON nested about a thousand levels deep makes every decoder in the stack (msgspec, the
standard library, pydantic) hit Python's recursion limit, and values nested a little less
fail later in a deeper call stack (encoding for Redis, rendering a response). Integers
beyond 64 bits cannot be stored (MessagePack carries 64-bit integers), and ``1e400`` is
no finite float. So ``JSONLimitsMiddleware`` reads each request body (already bounded by
``BodyLimitMiddleware``) and answers 422 naming the limit before any decoder sees it:

    nesting       at most ``MAX_JSON_DEPTH`` levels of arrays and objects
    integers      -2**63 .. 2**64 - 1
    floats        finite (at most about 1.8e308)

The scan never decodes: it blanks out strings with one regular expression (so a bracket
or digits inside a string count for nothing), then counts brackets and looks at the few
numbers long enough to be out of range, all in C. Bodies with at most ``MAX_JSON_DEPTH``
brackets and no long number skip the work.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cachekit.web.limits import send_problem

__all__ = ["INT_RANGE", "MAX_JSON_DEPTH", "JSONLimitsMiddleware", "json_limit_problem"]

MAX_JSON_DEPTH: Final = 64
"""Deepest nesting of arrays and objects a request body may have."""
INT_RANGE: Final = (-(2**63), 2**64 - 1)
"""The integers a value may hold (MessagePack's 64-bit range)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
# Digits to "0" and "E" to "e": a long number then shows as a run of zeros, found by find().
_SHAPES = bytes.maketrans(b"123456789E", b"000000000e")
_LONG_SHAPES = (b"0" * 19, b"e000", b"e+000", b"e-000")


_NUMBER_CHARS = frozenset(b"0123456789.eE+-")


def _maybe_long_number(body: bytes) -> bool:
    """Whether ``body`` may hold a number out of range (19 digits, a 3-digit exponent)."""
    shapes = body.translate(_SHAPES)
    return any(shape in shapes for shape in _LONG_SHAPES)


def _long_numbers(text: bytes) -> list[bytes]:
    """The numbers of ``text`` (strings blanked) with 19 digits or a 3-digit exponent."""
    shapes = text.translate(_SHAPES)
    found: dict[int, bytes] = {}
    for shape in _LONG_SHAPES:
        at = shapes.find(shape)
        while at >= 0:
            start, end = at, at + len(shape)
            while start > 0 and text[start - 1] in _NUMBER_CHARS:
                start -= 1
            while end < len(text) and text[end] in _NUMBER_CHARS:
                end += 1
            found.setdefault(start, text[start:end])
            at = shapes.find(shape, end)
    return list(found.values())
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1


def _depth(text: bytes) -> int:
    brackets = text.translate(None, _BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _number_problem(token: bytes) -> str | None:
    if b"." not in token and b"e" not in token.lower():
        low, high = INT_RANGE
        digits = len(token.lstrip(b"-"))
        if not token.lstrip(b"-").isdigit():
            return None
        # Past 20 digits it is out of range; int() would refuse past 4,300 anyway.
        if digits > 20 or not low <= int(token) <= high:
            return (
                f"an integer of {digits} digits is outside the range a value may hold "
                f"({low} .. {high})"
            )
        return None
    try:
        number = float(token)
    except ValueError:  # not a number after all: the decoder says what is wrong
        return None
    if math.isinf(number):
        return "a number is too large for a float (the limit is about 1.8e308)"
    return None


def json_limit_problem(body: bytes) -> tuple[str, str] | None:
    """``(slug, detail)`` of the first limit ``body`` breaks, or None (also for text that
    is not JSON: the decoder reports that)."""
    opens = body.count(b"[") + body.count(b"{")
    long_number = _maybe_long_number(body)
    if opens <= MAX_JSON_DEPTH and not long_number:
        return None
    text = _STRING.sub(b'""', body)
    if opens > MAX_JSON_DEPTH and (depth := _depth(text)) > MAX_JSON_DEPTH:
        return (
            "json-too-deep",
            f"the JSON nests {depth} levels deep; the limit is {MAX_JSON_DEPTH} levels",
        )
    if long_number:
        for token in _long_numbers(text):
            problem = _number_problem(token)
            if problem is not None:
                return "number-out-of-range", problem
    return None


class JSONLimitsMiddleware:
    """Answer 422 to request bodies that break a JSON limit; pass the others on intact."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        problem = json_limit_problem(b"".join(chunks))
        if problem is not None:
            await send_problem(send, 422, problem[0], problem[1])
            return
        replay = iter(messages)

        async def replayed() -> Message:
            message = next(replay, None)
            return message if message is not None else await receive()

        await self.app(scope, replayed, send)
