"""``Endpoint``: everything redis-py needs to reach Redis, derived once from the settings.

Pool size, timeouts, retries with backoff (redis-py's own ``Retry``), credentials and TLS
options all become redis-py keyword arguments here, so they reach the socket; nothing
else in cachekit builds a redis-py client. The same options reach every connection of a
topology: each cluster node (``node_client``), the sentinels (``sentinels``, with their
own credentials) and the master or replica they name (``sentinel_pool``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialWithJitterBackoff

from cachekit.config.credentials import TLS_VERSIONS, credentials, sentinel_credentials
from cachekit.config.masking import mask_url
from cachekit.config.model import CacheConfig
from cachekit.config.urls import node_where, parse_redis_url


class SentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """redis-py's pool of connections to the master the sentinels name (each new
    connection asks them; a READONLY reply drops it), blocking for a free connection
    like every other pool of cachekit instead of failing with "Too many connections"."""


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
    mode: str = "standalone"
    """``standalone``, ``sentinel`` or ``cluster`` (``RedisConfig.topology``)."""
    hosts: tuple[tuple[str, int], ...] = ()
    """The hosts the URL lists: the server, the sentinels, or the cluster's seed nodes."""
    db: int = 0
    service: str | None = None
    """The master's service name (sentinel mode)."""
    read_from: str = "master"
    sentinel_username: str | None = None
    sentinel_password: str | None = None

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
        sentinel_user, sentinel_password = sentinel_credentials(config)
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
            mode=redis_cfg.topology,
            hosts=target.hosts,
            db=target.db,
            service=target.service or redis_cfg.sentinel_master or None,
            read_from=redis_cfg.read_from,
            sentinel_username=sentinel_user,
            sentinel_password=sentinel_password,
        )

    def __repr__(self) -> str:
        return (
            f"Endpoint(url={mask_url(self.url)!r}, username={self.username!r}, "
            f"password={'None' if self.password is None else repr('***')}, "
            f"tls={bool(self.tls)}, max_connections={self.max_connections}, mode={self.mode!r})"
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

    @property
    def where(self) -> str:
        """``host:port`` (comma-separated when several) or ``unix:<path>``, for messages."""
        return self.url.partition("://")[2].rsplit("/", 1)[0]

    def node_url(self, host: str, port: int) -> str:
        """The credential-free URL of one node (a cluster node, a master or a replica)."""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{node_where(host, port)}/{self.db}"

    def node_client(
        self, host: str, port: int, *, retries: int | None = None, max_connections: int = 0
    ) -> aioredis.Redis:
        """A client of one node with this endpoint's options (``max_connections`` 0: the
        configured pool size)."""
        kwargs = self.kwargs(retries=retries)
        if max_connections:
            kwargs["max_connections"] = max_connections
        pool = aioredis.BlockingConnectionPool.from_url(
            self.node_url(host, port), timeout=self.socket_timeout, **kwargs
        )
        return aioredis.Redis.from_pool(pool)

    def sentinels(self) -> Sentinel:
        """redis-py's ``Sentinel`` over the hosts listed: the sentinels get the timeouts and
        TLS options, and their own credentials (``redis.sentinel_username`` / ``_password``);
        their queries are not retried (the next sentinel is asked instead)."""
        sentinel_kwargs: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.connect_timeout,
            "retry": self.retry(0),
            "client_name": self.client_name,
            **self.tls,
        }
        if self.tls:
            sentinel_kwargs["ssl"] = True
        if self.sentinel_username is not None:
            sentinel_kwargs["username"] = self.sentinel_username
        if self.sentinel_password is not None:
            sentinel_kwargs["password"] = self.sentinel_password
        return Sentinel(list(self.hosts), sentinel_kwargs=sentinel_kwargs)

    def sentinel_pool(
        self, sentinels: Sentinel, *, retries: int | None = None, max_connections: int = 0
    ) -> SentinelPool:
        """A blocking pool of connections to the master ``sentinels`` name."""
        kwargs = self.kwargs(retries=retries)
        if max_connections:
            kwargs["max_connections"] = max_connections
        if self.tls:
            kwargs["ssl"] = True
        return SentinelPool(  # type: ignore[no-untyped-call]
            self.service,
            sentinels,
            timeout=self.socket_timeout,
            db=self.db,
            **kwargs,
        )

    def hints(self) -> dict[str, Any]:
        """Keyword arguments for ``map_redis_errors`` around a connect: what the client tried."""
        tls = bool(self.tls)
        return {"tls": tls, "client_cert": tls and "ssl_certfile" in self.tls}
