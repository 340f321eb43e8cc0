"""``RedisCacheSecurityManager``: the original's security manager, over the core's checks.

The original's manager "validated certificates" by checking that files existed, and its
TLS settings never reached the connection. This one builds the same connection the
stack uses (``cachekit.backends.redis.connection``), validates with the core's TLS file,
credential and posture checks (``cachekit.config.credentials``), and reports without
secrets.
"""

from __future__ import annotations

import ssl
import time
from collections import deque
from typing import Any, Final

import msgspec
import redis.asyncio as aioredis

from cachekit.backends.redis.connection import Endpoint
from cachekit.backends.redis.errors import map_redis_errors
from cachekit.compat.builder import CacheConfigBuilder
from cachekit.compat.security_result import SecurityValidationResult
from cachekit.config.credentials import (
    authentication,
    build_ssl_context,
    credentials,
    findings_of,
    is_local,
)
from cachekit.config.masking import MASK, mask_url
from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.config.posture import Finding, evaluate
from cachekit.config.urls import userinfo, uses_tls
from cachekit.errors import CacheConfigError, CacheError

__all__ = ["RedisCacheSecurityManager"]

_EVENTS_KEPT: Final = 1000
"""Security events kept (connections made, validations), as in the original."""


def _core(security: SecurityConfig) -> SecurityConfig:
    """The core section of the original's ``SecurityConfig`` (its extra fields dropped)."""
    core = getattr(security, "core", None)
    return core() if callable(core) else security


class RedisCacheSecurityManager:
    """Builds the secure connection of a configuration, validates it, and reports on it.

    ``RedisCacheSecurityManager(config, performance_monitor=None)`` takes a
    ``SecurityConfig`` (then the URL comes from ``redis_url=``) or a whole ``CacheConfig``;
    a monitor with ``record_operation`` (``CachePerformanceMonitor``) gets the time of
    each connection and validation. Reports never contain secrets: passwords and keys
    show as ``***``, URLs with the password masked.
    """

    def __init__(
        self,
        config: SecurityConfig | CacheConfig | None = None,
        performance_monitor: Any = None,
        *,
        redis_url: str | None = None,
        security_config: SecurityConfig | None = None,
    ) -> None:
        config = config if config is not None else security_config
        if isinstance(config, CacheConfig):
            self._whole: CacheConfig | None = config
            self.security = config.security
            self.redis_url = config.redis.url if redis_url is None else redis_url
        else:
            self._whole = None
            self.security = config or SecurityConfig()
            self.redis_url = redis_url or ""
        self.performance_monitor = performance_monitor
        self._events: deque[dict[str, Any]] = deque(maxlen=_EVENTS_KEPT)
        self._last_validation: SecurityValidationResult | None = None

    @property
    def config(self) -> SecurityConfig:
        """The security settings this manager applies (the original's attribute)."""
        return self.security

    @classmethod
    def from_config(cls, config: CacheConfig) -> RedisCacheSecurityManager:
        """The manager of a resolved configuration."""
        return cls(config)

    def __repr__(self) -> str:
        url = mask_url(self.redis_url)
        return f"RedisCacheSecurityManager(url={url!r}, security={self.security!r})"

    # -- building ---------------------------------------------------------------------------
    def effective_config(self, redis_url: str | None = None) -> CacheConfig:
        """A validated ``CacheConfig`` for the connection (the ``simple`` preset's pool and
        timeouts when the manager was given a ``SecurityConfig`` only)."""
        url = self.redis_url if redis_url is None else redis_url
        if self._whole is not None and url == self._whole.redis.url:
            return self._whole
        builder = CacheConfigBuilder()
        if self._whole is not None:
            whole = self._whole.to_dict()
            builder.for_environment(self._whole.environment).with_preset(self._whole.preset)
            return builder.with_overrides(
                {"redis": {**whole["redis"], "url": url}, "security": whole["security"]}
            ).build()
        return builder.with_preset("simple").with_redis(url).with_security(self.security).build()

    def connection_kwargs(self, redis_url: str | None = None) -> dict[str, Any]:
        """redis-py keyword arguments for credentials and TLS (holds the password)."""
        return Endpoint.from_config(self.effective_config(redis_url)).security_kwargs()

    def ssl_context(self) -> ssl.SSLContext:
        """The ``SSLContext`` the configured TLS options describe (raises if files do not load)."""
        return build_ssl_context(self.security)

    async def create_secure_connection(self, redis_url: str | None = None) -> aioredis.Redis:
        """A connected ``redis.asyncio`` client with the configured TLS and credentials.

        Raises ``CacheSecurityError`` naming the cause (certificate verification,
        authentication, permission) or ``CacheUnavailableError``; the client is closed then.
        """
        start = time.perf_counter()
        endpoint = Endpoint.from_config(self.effective_config(redis_url))
        client = endpoint.client()
        try:
            with map_redis_errors("PING", **endpoint.hints()):
                await client.ping()
        except BaseException:
            await client.aclose()
            await self._timed("secure_connection_create", start, False)
            raise
        self._event("connection_created", tls=bool(endpoint.hints()["tls"]))
        await self._timed("secure_connection_create", start, True)
        return client

    # -- checking ---------------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        if self._whole is not None:
            data = self._whole.to_dict()
            data["redis"]["url"] = self.redis_url
            return data
        return {
            "redis": {"url": self.redis_url},
            "security": msgspec.to_builtins(_core(self.security)),
        }

    def validate(self) -> list[Finding]:
        """Every problem of the TLS files, credentials and posture (errors first)."""
        return findings_of(self._data(), self.redis_url, self.security)

    @property
    def is_secure(self) -> bool:
        """True when validation finds no error and the connection would pass the strict
        posture without ``allow_insecure`` (loopback may be plaintext), whatever the
        configured posture."""
        if any(f.severity == "error" for f in self.validate()):
            return False
        data = self._data()
        data["security"] = {**data["security"], "posture": "strict", "allow_insecure": False}
        return not any(f.severity == "error" for f in evaluate(data))

    def get_security_recommendations(self) -> list[str]:
        """What to change, one line per finding that is not a note."""
        return [f"{f.key}: {f.message}" for f in self.validate() if f.severity != "note"]

    # -- reporting --------------------------------------------------------------------------
    def _credentials(self) -> tuple[str | None, str | None]:
        if self._whole is not None and self.redis_url == self._whole.redis.url:
            return credentials(self._whole)
        url_user, url_password = userinfo(self.redis_url)
        redis_user = self._whole.redis.username if self._whole is not None else None
        redis_password = self._whole.redis.password if self._whole is not None else None
        user = self.security.username or redis_user or url_user
        return user, self.security.password or redis_password or url_password

    def _authentication(self) -> str:
        user, password = self._credentials()
        tls = uses_tls(self.redis_url) or (not self.redis_url and self.security.use_tls)
        return authentication(user, password, client_cert=tls and bool(self.security.tls_cert_path))

    def _level(self) -> str:
        tls = uses_tls(self.redis_url) or (not self.redis_url and self.security.use_tls)
        password = bool(self._credentials()[1])
        if tls and password and self.security.verify_certificates:
            return "HIGH"
        return "MEDIUM" if tls or password else "LOW"

    def _event(self, kind: str, **details: Any) -> None:
        if getattr(self.security, "log_security_events", True):
            self._events.append(
                {
                    "timestamp": time.time(),
                    "event_type": kind,
                    "details": details,
                    "security_level": self._level(),
                }
            )

    async def _timed(self, name: str, start: float, ok: bool) -> None:
        monitor = self.performance_monitor
        record = getattr(monitor, "record_operation", None)
        if callable(record) and getattr(self.security, "enable_security_monitoring", True):
            await record(name, (time.perf_counter() - start) * 1000, ok)

    def get_security_status(self) -> dict[str, Any]:
        """Current security settings and findings as a plain dict, secrets masked: the
        original's keys (``security_level``, ``configuration``, ``last_validation``, ...)
        and cachekit's (``tls``, ``authentication``, ``findings``, ...)."""
        sec = self.security
        tls = uses_tls(self.redis_url) or (not self.redis_url and sec.use_tls)
        local = is_local(self.redis_url)
        if sec.encryption_keys:
            entries = f"encrypted (AES-GCM, {len(sec.encryption_keys)} key(s))"
        elif sec.signing_keys:
            entries = f"signed (HMAC-SHA256, {len(sec.signing_keys)} key(s))"
        else:
            entries = "plain"
        findings = self.validate()
        user, password = self._credentials()
        redis = self.effective_config().redis if self._valid() else None
        last = self._last_validation
        return {
            "timestamp": time.time(),
            "security_level": self._level(),
            "configuration": {
                "has_authentication": bool(password),
                "tls_enabled": tls,
                "acl_configured": bool(user and password),
                "certificate_verification": sec.verify_certificates,
                "connection_timeout": redis.connect_timeout if redis else None,
                "max_retries": redis.retries if redis else None,
            },
            "last_validation": None
            if last is None
            else {
                "timestamp": "recent",
                "is_secure": last.is_secure,
                "security_score": last.security_score,
                "vulnerabilities_count": len(last.vulnerabilities),
                "recommendations_count": len(last.recommendations),
            },
            "security_events_count": len(self._events),
            "recommendations_count": len(self.get_security_recommendations()),
            "redis_url": mask_url(self.redis_url) or None,
            "local": local,
            "tls": tls,
            "verify_certificates": sec.verify_certificates if tls else None,
            "min_tls_version": sec.min_tls_version if tls else None,
            "ca_path": sec.tls_ca_path,
            "client_certificate": sec.tls_cert_path,
            "authentication": self._authentication(),
            "password": MASK if password else None,
            "posture": sec.posture,
            "allow_insecure": sec.allow_insecure,
            "entries": entries,
            "secure": self.is_secure,
            "findings": [str(f) for f in findings],
        }

    def _valid(self) -> bool:
        try:
            self.effective_config()
        except CacheConfigError:
            return False
        return True

    # -- validating a live connection (the original's result shape) --------------------------
    async def validate_connection_security(self, redis_client: Any) -> SecurityValidationResult:
        """Judge a connected ``redis.asyncio`` client with these settings: it answers, it
        authenticates, it is encrypted, the TLS files load, and the posture findings."""
        start = time.perf_counter()
        user, password = self._credentials()
        tls = uses_tls(self.redis_url) or self.security.use_tls
        vulnerabilities: list[str] = []
        warnings: list[str] = []
        checks: dict[str, Any] = {}
        try:
            await redis_client.ping()
            checks["connectivity"] = "OK"
        except Exception as exc:  # a failed ping is part of the verdict
            vulnerabilities.append(f"Connection failure: {type(exc).__name__}")
            checks["connectivity"] = f"FAILED: {type(exc).__name__}"
        if password:
            checks["authentication"] = "ACL configured" if user else "AUTH configured"
        else:
            vulnerabilities.append("No authentication configured")
            checks["authentication"] = "None"
        pool = getattr(redis_client, "connection_pool", None)
        encrypted = "SSL" in getattr(getattr(pool, "connection_class", None), "__name__", "")
        if encrypted:
            checks["encryption"] = f"TLS enabled (min version: {self.security.min_tls_version})"
        else:
            vulnerabilities.append("Unencrypted connection")
            checks["encryption"] = "Disabled"
        file_errors = [f for f in self.validate() if f.rule == "tls-files"]
        certificate_valid = tls and not file_errors
        if tls:
            checks["certificates"] = "Valid" if certificate_valid else "Invalid"
            vulnerabilities += [
                f"Invalid or expired certificates: {f.message}" for f in file_errors
            ]
            if not self.security.verify_certificates:
                vulnerabilities.append("Certificate verification disabled")
        for finding in self.validate():
            if finding.rule != "tls-files":
                (vulnerabilities if finding.severity == "error" else warnings).append(
                    f"{finding.key}: {finding.message}"
                )
        result = SecurityValidationResult(
            is_secure=False,
            auth_configured=bool(password),
            tls_enabled=tls,
            acl_enabled=bool(user and password),
            certificate_valid=certificate_valid,
            vulnerabilities=vulnerabilities,
            recommendations=self.get_security_recommendations()
            or ["Use Redis in a private network; restrict its port with a firewall"],
            warnings=warnings,
            detailed_checks=checks,
            connection_encrypted=encrypted,
            auth_method=("ACL" if user else "AUTH") if password else None,
            tls_version=self.security.min_tls_version if encrypted else None,
        )
        self._last_validation = result
        self._event(
            "security_validation",
            security_score=result.security_score,
            is_secure=result.is_secure,
            vulnerabilities_count=len(result.vulnerabilities),
        )
        await self._timed("security_validation", start, True)
        return result

    async def validate_configuration(
        self, redis_url: str | None = None
    ) -> SecurityValidationResult:
        """``validate_connection_security`` of a fresh connection with these settings (a
        connection that fails gives an insecure result naming why)."""
        try:
            client = await self.create_secure_connection(redis_url)
        except CacheError as exc:
            result = SecurityValidationResult(
                is_secure=False,
                auth_configured=bool(self._credentials()[1]),
                tls_enabled=uses_tls(self.redis_url) or self.security.use_tls,
                acl_enabled=bool(self._credentials()[0]),
                certificate_valid=False,
                vulnerabilities=[f"Connection failure: {exc}"],
                recommendations=self.get_security_recommendations(),
                detailed_checks={"connectivity": f"FAILED: {exc}"},
            )
            self._last_validation = result
            return result
        try:
            return await self.validate_connection_security(client)
        finally:
            await client.aclose()

    async def test_security_configuration(self, redis_url: str | None = None) -> dict[str, Any]:
        """The original's end-to-end test: the settings validate, a connection opens and
        authenticates, and its verdict (``timestamp``, ``configuration_valid``,
        ``connection_successful``, ``authentication_working``, ``encryption_active``,
        ``overall_secure``, ``security_score``, ``test_details``, ``errors``)."""
        results: dict[str, Any] = {
            "timestamp": time.time(),
            "configuration_valid": False,
            "connection_successful": False,
            "authentication_working": False,
            "encryption_active": False,
            "overall_secure": False,
            "security_score": 0,
            "test_details": {},
            "errors": [],
        }
        errors = [f"{f.key}: {f.message}" for f in self.validate() if f.severity == "error"]
        results["configuration_valid"] = not errors
        results["test_details"]["configuration"] = "Valid" if not errors else "Invalid"
        results["errors"] += errors
        try:
            client = await self.create_secure_connection(redis_url)
        except CacheError as exc:
            results["errors"].append(f"Connection failed: {exc}")
            results["test_details"]["connection"] = f"Failed: {exc}"
            return results
        try:
            results["connection_successful"] = results["authentication_working"] = True
            results["test_details"]["connection"] = "Successful"
            results["test_details"]["authentication"] = "Working"
            verdict = await self.validate_connection_security(client)
        finally:
            await client.aclose()
        results["encryption_active"] = verdict.connection_encrypted
        results["overall_secure"] = verdict.is_secure
        results["security_score"] = verdict.security_score
        results["test_details"]["security_validation"] = {
            "secure": verdict.is_secure,
            "score": verdict.security_score,
            "vulnerabilities": verdict.vulnerabilities,
        }
        return results

    def generate_security_report(
        self, validation_result: SecurityValidationResult | None = None
    ) -> str:
        """A human-readable report of ``get_security_status()``, with the verdict of a
        live validation (the one given, else the last one) when there is one."""
        status = self.get_security_status()
        lines = ["cachekit security report"]
        for key, value in status.items():
            if key not in {"findings", "configuration", "last_validation", "timestamp"}:
                lines.append(f"  {key}: {value}")
        lines.append("  findings:" if status["findings"] else "  findings: none")
        lines += [f"    - {f}" for f in status["findings"]]
        verdict = validation_result or self._last_validation
        if verdict is not None:
            lines.append("  live validation:")
            lines += [f"    {line}" for line in verdict.get_security_summary().splitlines()]
        return "\n".join(lines) + "\n"
