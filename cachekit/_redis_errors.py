"""The one place where redis-py errors become cachekit errors."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions as rex

from cachekit._exceptions import (
    CacheSecurityError,
    CacheTimeoutError,
    CacheUnavailableError,
)

_SECURITY_MARKERS = (
    "certificate",
    "ssl",
    "tls",
    "wrongpass",
    "invalid username-password",
    "noauth",
    "authentication",
    "noperm",
    "no permissions",
)


def describe(exc: BaseException) -> str:
    """One line naming the cause of a Redis failure, without secrets."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


@contextmanager
def map_redis_errors(operation: str) -> Iterator[None]:
    """Translate redis-py / socket errors raised inside the block into the cachekit tree."""
    try:
        yield
    except (rex.TimeoutError, TimeoutError) as exc:
        raise CacheTimeoutError(f"redis {operation} timed out: {describe(exc)}") from exc
    except (
        rex.AuthenticationError,
        rex.AuthorizationError,
        rex.NoPermissionError,
        ssl.SSLError,
    ) as exc:
        raise CacheSecurityError(f"redis {operation} refused: {describe(exc)}") from exc
    except (rex.RedisError, OSError) as exc:
        lowered = str(exc).lower()
        if any(marker in lowered for marker in _SECURITY_MARKERS):
            raise CacheSecurityError(f"redis {operation} refused: {describe(exc)}") from exc
        raise CacheUnavailableError(f"redis {operation} failed: {describe(exc)}") from exc
