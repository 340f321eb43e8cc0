"""``Endpoint``: everything redis-py needs to reach Redis, derived once from the settings.

Pool size, timeouts, retries with backoff (redis-py's own ``Retry``), credentials and TLS
options all become redis-py keyword arguments here, so they reach the socket; nothing
else in cachekit builds a redis-py client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from cachekit.config.credentials import TLS_VERSIONS, credentials
from cachekit.config.masking import mask_url
from cachekit.config.model import CacheConfig
from cachekit.config.urls import parse_redis_url


@dataclass(frozen=True, repr=False)
class Endpoint:
    """Where Redis is and how to talk to it. Holds the password: never log ``kwargs()``."""

    url: str
    """The URL redis-py connects to: scheme, host, port, database or socket path, without
    credentials (they go as keyword arguments, so nothing in the URL overrides them)."""
    max_connections: int
    socket_timeout: float
    connect_timeout: float
    retries: int
    backoff_base: float
    backoff_cap: float
    client_name: str
    username: str | None = None
    password: str | None = None
    tls: dict[str, Any] = field(default_factory=dict)
    """redis-py's ``ssl_*`` options; empty for a plaintext URL."""

    @classmethod
    def from_config(cls, config: CacheConfig) -> Endpoint:
        """The endpoint of ``config.redis`` with the credentials and TLS of ``config.security``
        (a password may be set in either section or in the URL, see ``credentials``).

        The URL is read by ``cachekit.config.urls.parse_redis_url``, the parser validation
        uses: a URL it cannot read is a ``CacheConfigError`` naming ``redis.url``, never
        redis-py's ``ValueError`` at the first command."""
        redis_cfg, sec = config.redis, config.security
        target = parse_redis_url(redis_cfg.url)  # CacheConfigError naming redis.url
        user, password = credentials(config)
        tls: dict[str, Any] = {}
        if target.tls:
            tls["ssl_cert_reqs"] = "required" if sec.verify_certificates else "none"
            tls["ssl_check_hostname"] = sec.verify_certificates
            tls["ssl_min_version"] = TLS_VERSIONS[sec.min_tls_version]
            if sec.tls_ca_path:
                tls["ssl_ca_certs"] = sec.tls_ca_path
            if sec.tls_cert_path:
                tls["ssl_certfile"] = sec.tls_cert_path
            if sec.tls_key_path:
                tls["ssl_keyfile"] = sec.tls_key_path
        return cls(
            url=target.connection_url(),
            max_connections=redis_cfg.max_connections,
            socket_timeout=redis_cfg.socket_timeout,
            connect_timeout=redis_cfg.connect_timeout,
            retries=redis_cfg.retries,
            backoff_base=redis_cfg.retry_backoff_base,
            backoff_cap=redis_cfg.retry_backoff_cap,
            client_name=f"cachekit-{config.namespace}",
            username=user,
            password=password,
            tls=tls,
        )

    def __repr__(self) -> str:
        return (
            f"Endpoint(url={mask_url(self.url)!r}, username={self.username!r}, "
            f"password={'None' if self.password is None else repr('***')}, "
            f"tls={bool(self.tls)}, max_connections={self.max_connections})"
        )

    def retry(self, retries: int | None = None) -> Retry:
        """redis-py's Retry with jittered exponential backoff (``retries`` overrides the count)."""
        backoff = ExponentialWithJitterBackoff(cap=self.backoff_cap, base=self.backoff_base)
        return Retry(backoff, self.retries if retries is None else retries)

    def security_kwargs(self) -> dict[str, Any]:
        """redis-py keyword arguments for credentials and TLS (holds the password)."""
        kwargs: dict[str, Any] = {}
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password
        kwargs.update(self.tls)
        return kwargs

    def kwargs(self, *, retries: int | None = None) -> dict[str, Any]:
        """Keyword arguments for ``redis.asyncio`` pools: TLS options reach the socket."""
        return {
            "max_connections": self.max_connections,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.connect_timeout,
            "retry": self.retry(retries),
            "decode_responses": False,
            "client_name": self.client_name,
            **self.security_kwargs(),
        }

    def client(self, *, retries: int | None = None) -> aioredis.Redis:
        """A ``redis.asyncio`` client (hiredis parser when installed) with its own pool.

        The pool blocks for a free connection (up to the operation timeout) instead of
        failing with "Too many connections" when more tasks than ``max_connections`` run.
        """
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, timeout=self.socket_timeout, **self.kwargs(retries=retries)
        )
        return aioredis.Redis.from_pool(pool)

    def hints(self) -> dict[str, Any]:
        """Keyword arguments for ``map_redis_errors`` around a connect: what the client tried."""
        tls = bool(self.tls)
        return {"tls": tls, "client_cert": tls and "ssl_certfile" in self.tls}
