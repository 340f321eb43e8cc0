"""The Redis commands the backends build: SET with its expiry, and a command's name.

Shared by ``RedisBackend`` and the topologies built on it (``ClusterBackend``), so a SET
reads the same whichever node it goes to.
"""

from __future__ import annotations

from typing import Any, Final

SCAN_COUNT: Final = 500
"""Keys one SCAN step asks for."""
PROBE_TTL: Final = 5
"""Seconds a probe's key lives."""


def name_of(command: tuple[Any, ...]) -> str:
    """The command's name, for telemetry (``OTHER`` for an empty one)."""
    return str(command[0]) if command else "OTHER"


def expiry(ttl: float | None) -> tuple[int | None, int | None]:
    """``(ex, px)`` for SET: whole seconds as EX, fractions as PX milliseconds."""
    if ttl is None:
        return None, None
    if float(ttl).is_integer():
        return int(ttl), None
    return None, max(1, round(ttl * 1000))


def set_command(name: str, data: bytes, ttl: float | None, *, nx: bool = False) -> tuple[Any, ...]:
    """The SET command for ``name``: EX for whole seconds, PX for fractions, NX on demand."""
    ex, px = expiry(ttl)
    expires = ("EX", ex) if ex is not None else ("PX", px) if px is not None else ()
    return ("SET", name, data, *expires, *(("NX",) if nx else ()))
