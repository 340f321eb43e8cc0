"""``RedisCacheSecurityManager``: the original's security manager, over the core's checks.

The original's manager "validated certificates" by checking that files existed, and its
TLS settings never reached the connection. This one builds the same connection the
stack uses (``cachekit.backends.redis.connection``), validates with the core's TLS file,
credential and posture checks (``cachekit.config.credentials``), and reports without
secrets.
"""

from __future__ import annotations

import ssl
from typing import Any

import msgspec
import redis.asyncio as aioredis

from cachekit.backends.redis.connection import Endpoint
from cachekit.backends.redis.errors import map_redis_errors
from cachekit.compat.builder import CacheConfigBuilder
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


class RedisCacheSecurityManager:
    """Builds the secure connection of a configuration, validates it, and reports on it.

    ``RedisCacheSecurityManager(security_config)`` takes a ``SecurityConfig`` (then the
    URL comes from ``redis_url=``) or a whole ``CacheConfig``. Reports never contain
    secrets: passwords and keys show as ``***``, URLs with the password masked.
    """

    def __init__(
        self,
        security_config: SecurityConfig | CacheConfig | None = None,
        *,
        redis_url: str | None = None,
    ) -> None:
        if isinstance(security_config, CacheConfig):
            self.config: CacheConfig | None = security_config
            self.security = security_config.security
            self.redis_url = security_config.redis.url if redis_url is None else redis_url
        else:
            self.config = None
            self.security = security_config or SecurityConfig()
            self.redis_url = redis_url or ""

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
        if self.config is not None and url == self.config.redis.url:
            return self.config
        builder = CacheConfigBuilder()
        if self.config is not None:
            whole = self.config.to_dict()
            builder.for_environment(self.config.environment).with_preset(self.config.preset)
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
        endpoint = Endpoint.from_config(self.effective_config(redis_url))
        client = endpoint.client()
        try:
            with map_redis_errors("PING", **endpoint.hints()):
                await client.ping()
        except BaseException:
            await client.aclose()
            raise
        return client

    # -- checking ---------------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        if self.config is not None:
            data = self.config.to_dict()
            data["redis"]["url"] = self.redis_url
            return data
        return {
            "redis": {"url": self.redis_url},
            "security": msgspec.to_builtins(self.security),
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
        if self.config is not None and self.redis_url == self.config.redis.url:
            return credentials(self.config)
        url_user, url_password = userinfo(self.redis_url)
        redis_user = self.config.redis.username if self.config is not None else None
        redis_password = self.config.redis.password if self.config is not None else None
        user = self.security.username or redis_user or url_user
        return user, self.security.password or redis_password or url_password

    def _authentication(self) -> str:
        user, password = self._credentials()
        tls = uses_tls(self.redis_url) or (not self.redis_url and self.security.use_tls)
        return authentication(user, password, client_cert=tls and bool(self.security.tls_cert_path))

    def get_security_status(self) -> dict[str, Any]:
        """Current security settings and findings as a plain dict, secrets masked."""
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
        return {
            "redis_url": mask_url(self.redis_url) or None,
            "local": local,
            "tls": tls,
            "verify_certificates": sec.verify_certificates if tls else None,
            "min_tls_version": sec.min_tls_version if tls else None,
            "ca_path": sec.tls_ca_path,
            "client_certificate": sec.tls_cert_path,
            "authentication": self._authentication(),
            "password": MASK if self._credentials()[1] else None,
            "posture": sec.posture,
            "allow_insecure": sec.allow_insecure,
            "entries": entries,
            "secure": self.is_secure,
            "findings": [str(f) for f in findings],
        }

    def generate_security_report(self) -> str:
        """A short human-readable report of ``get_security_status()``."""
        status = self.get_security_status()
        lines = ["cachekit security report"]
        for key, value in status.items():
            if key != "findings":
                lines.append(f"  {key}: {value}")
        lines.append("  findings:" if status["findings"] else "  findings: none")
        lines += [f"    - {f}" for f in status["findings"]]
        return "\n".join(lines) + "\n"
