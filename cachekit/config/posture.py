"""Posture rules: which Redis connections an environment accepts.

A preset sets ``security.posture``. Under ``"strict"`` (the ``production`` and
``ai-production`` presets) validation refuses three things, each a named rule:

    plaintext-remote        a ``redis://`` URL to a host that is not loopback
    unauthenticated-remote  a non-loopback host without a password or client certificate
    unverified-tls          ``security.verify_certificates = false``

unless ``security.allow_insecure = true``, which turns each refusal into a warning logged
at every start. Loopback hosts and unix sockets may be plaintext and unauthenticated; under
``strict`` that is a warning (``plaintext-local``, ``unauthenticated-local``). Under
``"relaxed"`` every finding is a note: reported by ``cachekit config validate``, never fatal.

Rules read the nested settings (raw or ``CacheConfig.to_dict()``) and never do I/O: a host
name is not resolved, so a name that resolves to loopback still counts as remote. They
apply to every host a URL lists (sentinels, cluster seeds): one remote host makes the
connection remote. The sentinels' own authentication (``redis.sentinel_password``) is
checked like the data nodes'; the nodes a sentinel or a cluster announces get the same
TLS and credentials as the ones listed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from cachekit.config.model import CacheConfig
from cachekit.config.tree import get
from cachekit.config.urls import RedisURL, parse_redis_url, scheme_mode, userinfo

Severity = Literal["error", "warning", "note"]

logger = logging.getLogger("cachekit")

RULES: dict[str, str] = {
    "plaintext-remote": "a plaintext redis:// URL to a host that is not loopback",
    "unauthenticated-remote": "a non-loopback host without a password or client certificate",
    "unverified-tls": "security.verify_certificates = false",
    "plaintext-local": "a plaintext connection to a loopback host or unix socket",
    "unauthenticated-local": "no authentication to a loopback host or unix socket",
}


class Finding(msgspec.Struct, frozen=True):
    """One posture finding: the rule, how serious it is, the key to change, and why."""

    rule: str
    severity: Severity
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: posture rule '{self.rule}' ({self.key}): {self.message}"


def _authenticated(data: Mapping[str, Any], url: str, tls: bool) -> bool:
    secrets = (get(data, "redis.password"), get(data, "security.password"), userinfo(url)[1])
    client_cert = tls and bool(get(data, "security.tls_cert_path"))
    return any(isinstance(s, str) and s for s in secrets) or client_cert


def _where(parsed: RedisURL) -> str:
    """The hosts of a URL in words, for findings."""
    if parsed.scheme == "unix":
        return "a unix socket"
    hosts = [host for host, _ in parsed.hosts] or [parsed.host or "localhost"]
    if len(hosts) == 1:
        return f"host {hosts[0]!r}"
    return "hosts " + ", ".join(repr(h) for h in dict.fromkeys(hosts))


def evaluate(data: Mapping[str, Any]) -> list[Finding]:
    """Posture findings for nested settings (raw merged layers or ``config.to_dict()``).

    Values of the wrong type are left to validation: they yield no finding here.
    """
    url = get(data, "redis.url")
    posture = get(data, "security.posture")
    if not isinstance(url, str) or not url or posture not in ("strict", "relaxed"):
        return []
    try:
        parsed = parse_redis_url(url)
    except ValueError:
        return []
    local, tls = parsed.local, parsed.tls
    where = _where(parsed)
    strict = posture == "strict"
    waived = get(data, "security.allow_insecure") is True
    found: list[tuple[str, str, str, bool]] = []  # rule, key, message, refusable
    if local:
        if not tls:
            message = f"plaintext connection to {where}"
            found.append(("plaintext-local", "redis.url", message, False))
        if not _authenticated(data, url, tls):
            message = f"no authentication to {where}"
            found.append(("unauthenticated-local", "redis.password", message, False))
    else:
        if not tls:
            found.append((
                "plaintext-remote",
                "redis.url",
                f"plaintext {parsed.scheme}:// to non-loopback {where}: use "
                f"rediss{parsed.scheme[len('redis'):]}:// (TLS)",
                True,
            ))
        if not _authenticated(data, url, tls):
            found.append((
                "unauthenticated-remote",
                "redis.password",
                f"no authentication to non-loopback {where}: set redis.password (and "
                "redis.username for an ACL user) or a client certificate "
                "(security.tls_cert_path, security.tls_key_path)",
                True,
            ))
        sentinel = (scheme_mode(url) or get(data, "redis.mode")) == "sentinel"
        sentinel_secret = get(data, "redis.sentinel_password")
        client_cert = tls and bool(get(data, "security.tls_cert_path"))
        if sentinel and not (isinstance(sentinel_secret, str) and sentinel_secret) and not (
            client_cert
        ):
            found.append((
                "unauthenticated-remote",
                "redis.sentinel_password",
                f"sentinels at non-loopback {where} without a password: set "
                "redis.sentinel_password (whoever can reach a sentinel can name the master "
                "the cache writes to) or a client certificate",
                True,
            ))
    if get(data, "security.verify_certificates") is False:
        found.append((
            "unverified-tls",
            "security.verify_certificates",
            "server certificates are not verified, so anyone on the path can impersonate "
            "Redis: set security.tls_ca_path to the CA that signed the server certificate",
            True,
        ))
    findings = []
    for rule, key, message, refusable in found:
        if not strict:
            severity: Severity = "note"
        elif refusable and not waived:
            severity = "error"
            message += "; or set security.allow_insecure = true to accept the risk"
        else:
            severity = "warning"
            if refusable:
                message += " (accepted: security.allow_insecure = true)"
        findings.append(Finding(rule=rule, severity=severity, key=key, message=message))
    return findings


def findings(config: CacheConfig) -> list[Finding]:
    """Posture findings of a resolved config."""
    return evaluate(config.to_dict())


def log_findings(config: CacheConfig) -> None:
    """Log the findings of ``config`` on logger ``cachekit``: warnings as WARNING, notes as DEBUG.

    Called at every start (``resolve``), so an accepted risk stays visible in the logs.
    """
    for finding in findings(config):
        level = logging.WARNING if finding.severity != "note" else logging.DEBUG
        logger.log(
            level,
            "security posture %s (preset %s, environment %s): %s",
            finding.severity,
            config.preset,
            config.environment,
            f"rule '{finding.rule}' ({finding.key}): {finding.message}",
        )
