"""The one place where redis-py errors become cachekit errors.

Messages name the cause in words a deployer acts on (certificate verification, hostname
mismatch, client certificate, authentication, ACL permission) and never carry secrets:
URL userinfo and ``password=``-style fragments are masked, even if a lower library put
them in its message.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions as rex

from cachekit.errors import (
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
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]*@")
_ASSIGNED = re.compile(r"(?i)\b(?P<name>password|passwd|token|secret)(?P<sep>['\"]?\s*[=:]\s*)\S+")
_RESET = (
    "connection reset",
    "closed by server",
    "connection lost",
    "unexpected eof",
    "broken pipe",
)


def scrub(text: str) -> str:
    """``text`` with URL passwords and ``password=...``-style values masked."""
    text = _USERINFO.sub(r"\g<scheme>\g<user>:***@", text)
    return _ASSIGNED.sub(r"\g<name>\g<sep>***", text)


def describe(exc: BaseException) -> str:
    """One line naming the cause of a Redis failure, without secrets."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return scrub(f"{type(exc).__name__}: {text}")[:300]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 6:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _security_cause(chain: list[BaseException], text: str) -> str | None:
    """What a security failure means, or None when the failure is not about security."""
    if any(isinstance(e, rex.NoPermissionError) for e in chain) or "noperm" in text or (
        "no permissions" in text
    ):
        return (
            "permission denied by the server's ACL (the user may not run this command or "
            "use these keys; the cache needs its key prefix and the commands it runs)"
        )
    auth = any(isinstance(e, rex.AuthenticationError) for e in chain)
    if "wrongpass" in text or "invalid username-password" in text:
        return "authentication failed: wrong username or password, or the user is disabled"
    if auth or "noauth" in text or "authentication required" in text:
        return (
            "authentication required: the server wants a username/password and none was "
            "accepted (set redis.password, and redis.username for an ACL user)"
        )
    verify = any(isinstance(e, ssl.SSLCertVerificationError) for e in chain)
    if verify or "certificate verify failed" in text:
        if "mismatch" in text:
            return (
                "TLS certificate verification failed: hostname mismatch (the server "
                "certificate is not valid for the host in redis.url)"
            )
        if "expired" in text:
            return "TLS certificate verification failed: the server certificate has expired"
        return (
            "TLS certificate verification failed: the server certificate is not signed by "
            "a trusted CA (set security.tls_ca_path to the CA that signed it)"
        )
    if "certificate required" in text or "peer did not return a certificate" in text:
        return (
            "the server requires a client certificate (tls-auth-clients): set "
            "security.tls_cert_path and security.tls_key_path"
        )
    if "protocol version" in text or "unsupported protocol" in text:
        return (
            "TLS version refused: the server and security.min_tls_version share no "
            "TLS version"
        )
    if "wrong version number" in text or "record layer failure" in text:
        return "TLS handshake failed: the port does not seem to speak TLS (use redis://?)"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return "TLS handshake failed"
    if any(marker in text for marker in _SECURITY_MARKERS) and not any(
        isinstance(e, (rex.TimeoutError, TimeoutError)) for e in chain
    ):
        return "refused for a security reason"
    return None


def _connect_hint(text: str, timeout: bool, tls: bool | None, client_cert: bool) -> str:
    """A likely cause for a failure while connecting that names no cause itself."""
    if tls is None:
        return ""
    if timeout and tls:
        return " (no TLS handshake answer: the port may be plaintext, use redis://)"
    if any(marker in text for marker in _RESET):
        if not tls:
            return " (the server dropped a plaintext client: the port may expect TLS, use rediss://)"
        if not client_cert:
            return (
                " (the server dropped the TLS session: it may require a client certificate, "
                "set security.tls_cert_path and security.tls_key_path)"
            )
    return ""


@contextmanager
def map_redis_errors(
    operation: str, *, tls: bool | None = None, client_cert: bool = False
) -> Iterator[None]:
    """Translate redis-py / socket errors raised inside the block into the cachekit tree.

    ``tls`` / ``client_cert`` (see ``Endpoint.hints``) say how a connect was attempted, so
    a dropped connection can name its likely cause (TLS port, client certificate).
    """
    try:
        yield
    except (rex.RedisError, rex.RedisClusterException, OSError) as exc:
        chain = _chain(exc)
        text = " ".join(str(e) for e in chain).lower()
        timeout = any(isinstance(e, (rex.TimeoutError, TimeoutError)) for e in chain)
        cause = None if timeout and not any(isinstance(e, ssl.SSLError) for e in chain) else (
            _security_cause(chain, text)
        )
        if cause is not None:
            message = f"redis {operation} refused: {cause} [{describe(exc)}]"
            raise CacheSecurityError(message) from exc
        hint = _connect_hint(text, timeout, tls, client_cert)
        if timeout:
            raise CacheTimeoutError(
                f"redis {operation} timed out{hint}: {describe(exc)}"
            ) from exc
        raise CacheUnavailableError(f"redis {operation} failed{hint}: {describe(exc)}") from exc
