"""The one exception tree of cachekit.

    CacheError
    ├── CacheConfigError          invalid settings (every problem, reported together)
    ├── CacheUnavailableError     Redis cannot serve and strict mode is on (also ConnectionError)
    │   └── CacheTimeoutError     an operation exceeded its timeout (also TimeoutError)
    ├── CacheSecurityError        a TLS / ACL / authentication problem in strict mode
    └── CacheValueError           a value or argument the cache cannot accept (also ValueError)

Errors raised by redis-py are translated into this tree in exactly one place
(``cachekit.backends.redis.errors.map_redis_errors``).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec


class CacheError(Exception):
    """Root of every error cachekit raises on purpose."""


class ConfigProblem(msgspec.Struct, frozen=True):
    """One problem found in the layered settings.

    ``key`` is the dotted key, ``value`` its display form (secrets already masked),
    ``source`` the layer that set it, and ``message`` what is wrong.
    """

    key: str
    message: str
    value: str | None = None
    source: str | None = None

    def __str__(self) -> str:
        parts = [f"{self.key}: {self.message}"]
        if self.value is not None:
            parts.append(f"value {self.value}")
        if self.source is not None:
            parts.append(f"from {self.source}")
        return " | ".join(parts)


class CacheConfigError(CacheError, ValueError):
    """The settings do not resolve to a valid configuration.

    Carries every problem found, not only the first (``problems``).
    """

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        count = len(self.problems)
        head = f"{count} configuration problem{'s' if count != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class CacheUnavailableError(CacheError, ConnectionError):
    """Redis cannot serve the operation and the cache is configured to raise."""


class CacheTimeoutError(CacheUnavailableError, TimeoutError):
    """A Redis operation did not finish within the configured timeout."""


class CacheSecurityError(CacheUnavailableError):
    """TLS, certificate, authentication or ACL problem talking to Redis."""


class CacheValueError(CacheError, ValueError):
    """An argument the cache cannot accept (TTL <= 0, text too long, ...)."""
