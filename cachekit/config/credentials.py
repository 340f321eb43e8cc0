"""Credentials and TLS files: what the connection authenticates with, and whether it can.

Validation loads the TLS files the way the connection will: PEM certificates that parse,
a private key that matches the certificate, a CA bundle that loads (the original only
checked that the files existed). ``review`` summarises how a config connects, for
``cachekit check`` and the security manager.

Credentials: ``security.username`` / ``security.password`` and ``redis.username`` /
``redis.password`` are one setting under two names (the former are the original's
``SecurityConfig`` fields); a password in the URL's userinfo counts too. Any one of them
may be set; two that disagree are a configuration error rather than a silent precedence.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.config.posture import Finding, evaluate
from cachekit.config.tree import get
from cachekit.config.urls import endpoint, userinfo, uses_tls

TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_CERT_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- credentials ------------------------------------------------------------------------------


def credentials(config: CacheConfig) -> tuple[str | None, str | None]:
    """The ``(username, password)`` the connection authenticates with (None: not set)."""
    url_user, url_password = userinfo(config.redis.url)
    user = config.security.username or config.redis.username or url_user
    password = config.security.password or config.redis.password or url_password
    return user, password


def sentinel_credentials(config: CacheConfig) -> tuple[str | None, str | None]:
    """The ``(username, password)`` of the sentinels (None: not set). They are not the data
    nodes' credentials: a sentinel is often run without a password, or with its own."""
    return config.redis.sentinel_username or None, config.redis.sentinel_password or None


def credential_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(dotted key, message)`` for credentials set in two places with different values.

    Messages never contain the values.
    """
    problems = []
    url = get(data, "redis.url")
    url_user, url_password = userinfo(url) if isinstance(url, str) else (None, None)
    for field in ("username", "password"):
        in_security = _text(get(data, f"security.{field}"))
        in_redis = _text(get(data, f"redis.{field}"))
        if in_security and in_redis and in_security != in_redis:
            problems.append(
                (
                    f"security.{field}",
                    f"contradicts redis.{field} (one setting under two names): set it in one place",
                )
            )
        in_url = url_user if field == "username" else url_password
        configured = in_security or in_redis
        if in_url and configured and in_url != configured:
            where = "security." + field if in_security else "redis." + field
            problems.append(
                ("redis.url", f"the {field} in the URL contradicts {where}: set it in one place")
            )
    return problems


# -- TLS ----------------------------------------------------------------------------------------


def _refuse_passphrase() -> bytes:
    # OpenSSL would otherwise prompt on the terminal for an encrypted key.
    raise ValueError("the private key is encrypted")


def build_ssl_context(sec: SecurityConfig) -> ssl.SSLContext:
    """The ``SSLContext`` the connection uses, built the way redis-py builds it.

    Raises ``ssl.SSLError`` / ``OSError`` / ``ValueError`` for files that do not load.
    """
    context = ssl.create_default_context()
    if not sec.verify_certificates:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if sec.tls_cert_path:
        context.load_cert_chain(sec.tls_cert_path, sec.tls_key_path, password=_refuse_passphrase)
    if sec.tls_ca_path:
        context.load_verify_locations(cafile=sec.tls_ca_path)
    context.minimum_version = TLS_VERSIONS[sec.min_tls_version]
    return context


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _read(key: str, path: str, problems: list[tuple[str, str]]) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii")
    except FileNotFoundError:
        problems.append((key, "file does not exist"))
    except IsADirectoryError:
        problems.append((key, "is a directory, not a PEM file"))
    except UnicodeDecodeError:
        problems.append((key, "not a PEM file (binary content; DER files need conversion to PEM)"))
    except OSError as exc:
        problems.append((key, f"cannot read the file: {exc.strerror or type(exc).__name__}"))
    except ValueError:  # e.g. a NUL byte in the path
        problems.append((key, "not a usable file path"))
    return None


def tls_file_problems(
    ca: str | None, cert: str | None, key: str | None
) -> list[tuple[str, str]]:
    """``(dotted key, message)`` for TLS files that will not load into the connection.

    Checks that each file is readable PEM, that the CA bundle and the client certificate
    parse as X.509 certificates, that the key is a private key without a passphrase, and
    that it matches the certificate.
    """
    problems: list[tuple[str, str]] = []
    if ca and _read("security.tls_ca_path", ca, problems) is not None:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            reason = _ssl_reason(exc)
            problems.append(("security.tls_ca_path", f"not a PEM CA certificate bundle ({reason})"))
    cert_text = _read("security.tls_cert_path", cert, problems) if cert else None
    key_text = _read("security.tls_key_path", key, problems) if key else None
    cert_ok = False
    if cert_text is not None:
        blocks = _CERT_BLOCK.findall(cert_text)
        if not blocks:
            problems.append(("security.tls_cert_path", "no PEM certificate in the file"))
        else:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
                    cadata="\n".join(blocks)
                )
                cert_ok = True
            except ssl.SSLError as exc:
                problems.append(
                    ("security.tls_cert_path", f"certificate does not parse ({_ssl_reason(exc)})")
                )
    key_ok = False
    if key_text is not None:
        if "PRIVATE KEY-----" not in key_text:
            problems.append(("security.tls_key_path", "no PEM private key in the file"))
        elif "ENCRYPTED" in key_text:
            problems.append(
                (
                    "security.tls_key_path",
                    "the private key is encrypted with a passphrase; give cachekit an "
                    "unencrypted key file (readable by the app only)",
                )
            )
        else:
            key_ok = True
    if cert_ok and key_ok and cert and key:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                cert, key, password=_refuse_passphrase
            )
        except ssl.SSLError as exc:
            reason = _ssl_reason(exc)
            if "MISMATCH" in reason.upper():
                message = "private key does not match the certificate in security.tls_cert_path"
            else:
                message = f"certificate and key do not load together ({reason})"
            problems.append(("security.tls_key_path", message))
        except (OSError, ValueError) as exc:
            problems.append(("security.tls_key_path", f"cannot load the key ({_ssl_reason(exc)})"))
    return problems


# -- the review --------------------------------------------------------------------------------


class Review(msgspec.Struct, frozen=True):
    """How a configuration connects to Redis, for reports (no secrets)."""

    tls: bool
    local: bool | None
    authentication: str
    has_password: bool
    findings: tuple[Finding, ...]


def authentication(user: str | None, password: str | None, *, client_cert: bool) -> str:
    """The authentication methods in words: ``ACL user 'app' + client certificate``."""
    methods = []
    if password and user:
        methods.append(f"ACL user {user!r}")
    elif password:
        methods.append("password (AUTH)")
    if client_cert:
        methods.append("client certificate")
    return " + ".join(methods) or "none"


def findings_of(data: Mapping[str, Any], url: str, security: SecurityConfig) -> list[Finding]:
    """Every problem of the TLS files, credentials and posture of nested settings, errors
    first: what ``cachekit check`` and the security manager report."""
    files = tls_file_problems(security.tls_ca_path, security.tls_cert_path, security.tls_key_path)
    found = [
        Finding(rule="tls-files", severity="error", key=key, message=message)
        for key, message in files
    ]
    found += [
        Finding(rule="credentials", severity="error", key=key, message=message)
        for key, message in credential_problems(data)
    ]
    if security.use_tls and url and not uses_tls(url):
        found.append(
            Finding(
                rule="tls-url",
                severity="error",
                key="redis.url",
                message="security.use_tls = true but the URL is plaintext: use rediss://",
            )
        )
    found += evaluate(data)
    order = {"error": 0, "warning": 1, "note": 2}
    return sorted(found, key=lambda f: order[f.severity])


def is_local(url: str) -> bool | None:
    """Whether a Redis URL points at this machine (None: no URL, or one that does not parse)."""
    if not url:
        return None
    try:
        return endpoint(url)[2]
    except ValueError:
        return None


def review(config: CacheConfig) -> Review:
    """How ``config`` connects: TLS, loopback or not, authentication, findings."""
    url, sec = config.redis.url, config.security
    tls = uses_tls(url) or (not url and sec.use_tls)
    user, password = credentials(config)
    client_cert = tls and bool(sec.tls_cert_path)
    methods = authentication(user, password, client_cert=client_cert)
    if url and config.redis.topology == "sentinel":
        sentinel_user, sentinel_password = sentinel_credentials(config)
        methods += "; sentinels: " + authentication(
            sentinel_user, sentinel_password, client_cert=client_cert
        )
    return Review(
        tls=tls,
        local=is_local(url),
        authentication=methods,
        has_password=bool(password),
        findings=tuple(findings_of(config.to_dict(), url, sec)),
    )
