"""Remote backends by URL scheme: the one table that maps ``redis.url`` to the tier serving it.

``cachekit.resolve`` asks ``remote_backend(config)`` for the shared tier; everything above
it is written against the ``RemoteTier`` protocol, so adding a backend (Sentinel, Cluster,
Valkey) is one ``register_backend`` call, not edits across the stack::

    register_backend("valkey", lambda config, client: ValkeyBackend.from_config(config))

The schemes validation accepts are listed in ``cachekit.config.urls.REDIS_SCHEMES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cachekit.backends.redis.backend import RedisBackend
from cachekit.backends.redis.cluster import ClusterBackend
from cachekit.backends.redis.sentinel import SentinelBackend
from cachekit.backends.redis.topology import passed_client_error
from cachekit.config.model import CacheConfig
from cachekit.config.urls import REDIS_SCHEMES
from cachekit.protocol import RemoteTier

RemoteFactory = Callable[[CacheConfig, Any], RemoteTier]
"""Builds the remote tier of a config; the second argument is a client passed in, or None."""


def _redis(config: CacheConfig, client: Any) -> RemoteTier:
    """One server, the master the sentinels name, or a cluster: as ``redis.mode`` (or the
    URL's ``+sentinel`` / ``+cluster`` scheme) says."""
    topology = config.redis.topology
    if client is not None and topology != "standalone":
        raise passed_client_error(topology)
    if topology == "sentinel":
        return SentinelBackend.from_config(config, client=client)
    if topology == "cluster":
        return ClusterBackend.from_config(config, client=client)
    return RedisBackend.from_config(config, client=client)


# Global state, confined here: the built-in schemes, plus those registered at run time.
_BACKENDS: dict[str, RemoteFactory] = dict.fromkeys(REDIS_SCHEMES, _redis)


def register_backend(scheme: str, factory: RemoteFactory) -> None:
    """Serve URLs of ``scheme`` with the tier ``factory(config, client)`` builds."""
    _BACKENDS[scheme.lower()] = factory


def remote_backend(config: CacheConfig, *, client: Any = None) -> RemoteTier | None:
    """The remote tier of ``config``, or None for a memory-only config (``redis.url = ""``).

    Raises ``KeyError`` for a scheme nothing serves (validation refuses those first).
    """
    url = config.redis.url
    if not url:
        return None
    return _BACKENDS[urlsplit(url).scheme.lower()](config, client)
