"""redis-py client construction from config: pool size, timeouts, retries, TLS, ACL."""

from __future__ import annotations

import ssl
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from cachekit._config import CacheConfig

_TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def retry_policy(config: CacheConfig, *, retries: int | None = None) -> Retry:
    """redis-py's own Retry with jittered exponential backoff, sized from config."""
    backoff = ExponentialWithJitterBackoff(
        cap=config.redis.retry_backoff_cap, base=config.redis.retry_backoff_base
    )
    return Retry(backoff, config.redis.retries if retries is None else retries)


def connection_kwargs(config: CacheConfig, *, retries: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``redis.asyncio.Redis.from_url``; TLS options reach the socket."""
    redis_cfg, sec = config.redis, config.security
    kwargs: dict[str, Any] = {
        "max_connections": redis_cfg.max_connections,
        "socket_timeout": redis_cfg.socket_timeout,
        "socket_connect_timeout": redis_cfg.connect_timeout,
        "retry": retry_policy(config, retries=retries),
        "decode_responses": False,
        "client_name": f"cachekit-{config.namespace}",
    }
    if redis_cfg.username is not None:
        kwargs["username"] = redis_cfg.username
    if redis_cfg.password is not None:
        kwargs["password"] = redis_cfg.password
    if redis_cfg.url.startswith("rediss://"):
        kwargs["ssl_cert_reqs"] = "required" if sec.verify_certificates else "none"
        kwargs["ssl_check_hostname"] = sec.verify_certificates
        kwargs["ssl_min_version"] = _TLS_VERSIONS[sec.min_tls_version]
        if sec.tls_ca_path:
            kwargs["ssl_ca_certs"] = sec.tls_ca_path
        if sec.tls_cert_path:
            kwargs["ssl_certfile"] = sec.tls_cert_path
        if sec.tls_key_path:
            kwargs["ssl_keyfile"] = sec.tls_key_path
    return kwargs


def make_client(config: CacheConfig, *, retries: int | None = None) -> aioredis.Redis:
    """A ``redis.asyncio`` client (hiredis parser when installed) with its own pool.

    The pool blocks for a free connection (up to the operation timeout) instead of
    failing with "Too many connections" when more tasks than ``max_connections`` run.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        config.redis.url,
        timeout=config.redis.socket_timeout,
        **connection_kwargs(config, retries=retries),
    )
    return aioredis.Redis.from_pool(pool)
