"""Deadlines on slow clients: uvicorn's h11 protocol with a header and a body timeout.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``), but a connection
that sends nothing, or sends its headers a byte at a time, stays open for good: a few
thousand of them hold the server's sockets and memory. ``guarded_protocol`` makes the
protocol class ``cachekit serve`` runs, where

- a request's headers must be complete within ``header_timeout`` seconds of the
  connection opening or of the first byte after the previous response, and
- its body within ``body_timeout`` seconds of the headers,

or the connection is closed. The timers ride the event loop (``call_later``): no task or
thread per connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["GuardedH11Protocol", "guarded_protocol"]


class GuardedH11Protocol(H11Protocol):
    """``H11Protocol`` with the header and body deadlines (``guarded_protocol`` makes a
    subclass with others; a worker process of ``--workers N`` sets these by name)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "headers", "body" or None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers", self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        if self._waiting_for is None and (cycle is None or cycle.response_complete):
            self._arm("headers", self.header_timeout)  # the first byte of the next request
        super().data_received(data)
        self._follow(cycle)

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()  # may parse a pipelined request
        if self.cycle is cycle:
            self._disarm()  # idle now: the keep-alive timeout takes over
        else:
            self._follow(cycle)

    def _follow(self, before: Any) -> None:
        """Move the deadline along with the parser: headers in, then the body."""
        cycle = self.cycle
        if cycle is None or (cycle is before and self._waiting_for == "headers"):
            return
        if cycle is not before and cycle.more_body:
            self._arm("body", self.body_timeout)
        elif not cycle.more_body and self._waiting_for is not None:
            self._disarm()

    def _arm(self, what: str, seconds: float) -> None:
        self._disarm()
        self._waiting_for = what
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = None

    def _expired(self) -> None:
        self._deadline = None
        self._waiting_for = None
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """The h11 protocol class with these deadlines, for ``uvicorn.Config(http=...)``."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
