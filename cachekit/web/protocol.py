"""Deadlines on slow clients: uvicorn's HTTP protocol with a header and a body timeout.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``), but a connection
that sends nothing, or sends its headers a byte at a time, stays open for good: a few
thousand of them hold the server's sockets and memory. ``guarded_protocol`` makes the
protocol class ``cachekit serve`` runs, where

- a request's headers must be complete within ``header_timeout`` seconds of the
  connection opening or of the first byte after the previous response, and
- its body within ``body_timeout`` seconds of the headers,

or the connection is closed. The timers ride the event loop (``call_later``): no task or
thread per connection. The protocol is uvicorn's httptools one (a C parser, several times
cheaper per request than h11) when ``httptools`` is installed, as the ``server`` extra
does, else its h11 one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is in the server extra
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

__all__ = ["GuardedH11Protocol", "GuardedProtocol", "guarded_protocol"]


class _Guard:
    """The header and body deadlines, over either of uvicorn's protocols (``cycle``,
    ``data_received``, ``on_response_complete`` are theirs)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    cycle: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "headers", "body" or None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm("headers", self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        if self._waiting_for is None and (cycle is None or cycle.response_complete):
            self._arm("headers", self.header_timeout)  # the first byte of the next request
        super().data_received(data)  # type: ignore[misc]
        self._follow(cycle)

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()  # type: ignore[misc]  # may parse a pipelined request
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


class GuardedH11Protocol(_Guard, H11Protocol):
    """``H11Protocol`` with the header and body deadlines."""


if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
        """``HttpToolsProtocol`` with the header and body deadlines."""

    GuardedProtocol: type[_Guard] = GuardedHttpToolsProtocol
else:  # pragma: no cover
    GuardedProtocol = GuardedH11Protocol
"""The protocol ``cachekit serve`` runs (``guarded_protocol`` makes a subclass with other
deadlines; a worker process of ``--workers N`` sets them on this one, found by name)."""


def guarded_protocol(header_timeout: float, body_timeout: float) -> type[Any]:
    """The protocol class with these deadlines, for ``uvicorn.Config(http=...)``."""
    return type(
        GuardedProtocol.__name__,
        (GuardedProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
