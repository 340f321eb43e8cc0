"""The one exception tree of cachekit.

    CacheError
    ├── CacheConfigError          invalid settings, every problem reported together (ValueError)
    ├── CacheUnavailableError     Redis cannot serve and strict mode is on (ConnectionError)
    │   ├── CacheTimeoutError     an operation exceeded its timeout (TimeoutError)
    │   └── CacheSecurityError    a TLS / ACL / authentication problem
    ├── CacheValueError           a value or argument the cache cannot accept (ValueError)
    ├── MissingExtraError         an optional dependency is not installed (ModuleNotFoundError)
    └── CodecError                stored bytes that do not decode: the entry is a miss (ValueError)
        └── IntegrityError        an entry whose signature or encryption does not check out

Errors raised by redis-py are translated into this tree in exactly one place
(``cachekit.backends.redis.errors.map_redis_errors``). ``CodecError`` never reaches a
caller of the cache: the Redis tier turns it into a miss and counts it.
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


class MissingExtraError(CacheError, ModuleNotFoundError):
    """A feature needs an optional dependency that is not installed; the message names
    the extra to install (``pip install 'cachekit[server]'``)."""


class CodecError(CacheError, ValueError):
    """Stored bytes that do not decode to a value: foreign, corrupt, truncated or too large."""


class IntegrityError(CodecError):
    """An entry that is unsigned, badly signed, undecryptable, or bound to another key."""
