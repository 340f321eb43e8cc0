"""redis-py client construction from config: pool size, timeouts, retries, TLS, ACL."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from cachekit.config.model import CacheConfig
from cachekit.config.security import connection_security_kwargs


def retry_policy(config: CacheConfig, *, retries: int | None = None) -> Retry:
    """redis-py's own Retry with jittered exponential backoff, sized from config."""
    backoff = ExponentialWithJitterBackoff(
        cap=config.redis.retry_backoff_cap, base=config.redis.retry_backoff_base
    )
    return Retry(backoff, config.redis.retries if retries is None else retries)


def connection_kwargs(config: CacheConfig, *, retries: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``redis.asyncio.Redis.from_url``; TLS options reach the socket."""
    redis_cfg = config.redis
    kwargs: dict[str, Any] = {
        "max_connections": redis_cfg.max_connections,
        "socket_timeout": redis_cfg.socket_timeout,
        "socket_connect_timeout": redis_cfg.connect_timeout,
        "retry": retry_policy(config, retries=retries),
        "decode_responses": False,
        "client_name": f"cachekit-{config.namespace}",
    }
    # Credentials (security.* or redis.*, see cachekit.config.security) and TLS options.
    kwargs.update(connection_security_kwargs(config))
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
