"""Redis URLs: their schemes, host, credentials, and what counts as loopback.

One set of rules for every reader of a URL (validation, posture, credentials, the
server's token rule): a host name is never resolved, so a name that resolves to
loopback still counts as remote.
"""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import unquote, urlsplit

REDIS_SCHEMES: Final = frozenset({"redis", "rediss", "unix"})
"""URL schemes of a single Redis server (``rediss`` is TLS)."""

_LOCAL_NAMES: Final = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` names and loopback addresses (``127.0.0.0/8``, ``::1``).

    Only the name given counts: ``0.0.0.0`` and an empty name are not loopback (a URL
    without a host is, see ``endpoint``).
    """
    if not host:
        return False
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint(url: str) -> tuple[str, str | None, bool]:
    """``(scheme, host, local)`` of a Redis URL; ``local`` for loopback hosts and sockets.

    A URL without a host means localhost (redis-py's default for ``redis://``). Raises
    ``ValueError`` for a URL ``urlsplit`` cannot read (an unclosed IPv6 bracket).
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "unix":
        return scheme, None, True
    host = parts.hostname or ""
    return scheme, host or None, is_loopback(host or "localhost")


def uses_tls(url: str) -> bool:
    """Whether a Redis URL asks for TLS (``rediss://``)."""
    return url.startswith("rediss://")


def userinfo(url: str) -> tuple[str | None, str | None]:
    """The ``(username, password)`` in a URL's userinfo, percent-decoded (None: not given)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return user, password
