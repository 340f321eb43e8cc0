"""Health of a cache stack: ``ok``, ``degraded`` (serving from memory) or ``unavailable``.

Also the shape of the servers behind a remote tier (``Topology``), what one read reports
(``GetResult``: hit, miss, or degraded) and what a state change callback receives
(``StateChange``). A layer that serves a read without Redis
calls ``note_degraded_read``; ``observe_read`` collects those notes for the duration of
one ``get``, through any number of wrappers (a context variable, not an argument).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

import msgspec

Status = Literal["ok", "degraded", "unavailable"]
ReadStatus = Literal["hit", "miss", "degraded"]


class HealthReport(msgspec.Struct, frozen=True):
    """What ``await cache.health()`` returns. ``reasons`` never contain secrets."""

    status: Status
    reasons: tuple[str, ...] = ()
    tiers: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        """True when every tier serves normally."""
        return self.status == "ok"

    @property
    def serving(self) -> bool:
        """True when reads and writes are answered (``ok`` or ``degraded``)."""
        return self.status != "unavailable"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {"status": self.status, "reasons": list(self.reasons), "tiers": dict(self.tiers)}


class GetResult(msgspec.Struct, frozen=True):
    """What ``await cache.get_result(key)`` returns: the value and how it was found.

    ``status`` is ``hit`` or ``miss`` when Redis (or a memory-only stack) answered, and
    ``degraded`` when Redis could not be asked: ``value`` is then whatever the memory
    tier held (possibly None) and ``reason`` says why Redis was skipped.
    """

    status: ReadStatus
    value: Any = None
    reason: str | None = None

    @property
    def found(self) -> bool:
        """True when a value came back (a hit, or a degraded read that memory answered)."""
        return self.value is not None

    @property
    def degraded(self) -> bool:
        """True when the read could not consult Redis."""
        return self.status == "degraded"


class Topology(msgspec.Struct, frozen=True):
    """What a remote tier found when it looked at its servers (``cachekit check`` prints it).

    ``mode`` is ``standalone``, ``sentinel`` or ``cluster``; ``summary`` one line about the
    whole, ``nodes`` one line per server (role, address, slots), ``problems`` what makes it
    unfit to serve (slots no primary covers, a replica where a master is needed).
    """

    mode: str
    summary: str
    nodes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


class StateChange(msgspec.Struct, frozen=True):
    """Passed to ``on_state_change`` callbacks when a cache changes status."""

    previous: Status
    current: Status
    reason: str


_READ_NOTES: ContextVar[list[str] | None] = ContextVar("cachekit_read_notes", default=None)


@contextmanager
def observe_read() -> Iterator[list[str]]:
    """Collect the degraded-read notes of the reads made inside the block (an enclosing
    block gets them too: a traced ``get`` inside ``get_result`` hides nothing)."""
    outer = _READ_NOTES.get()
    notes: list[str] = []
    token = _READ_NOTES.set(notes)
    try:
        yield notes
    finally:
        _READ_NOTES.reset(token)
        if outer is not None:
            outer.extend(notes)


def note_degraded_read(reason: str) -> None:
    """Record that a read was served without Redis (no-op unless someone observes)."""
    notes = _READ_NOTES.get()
    if notes is not None:
        notes.append(reason)
