"""Sentinel and Cluster settings: the URL forms, ``redis.mode`` and its companions, the
errors validation names (key, masked value, source), posture over several hosts, and the
connection options every node gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fakeredis
import pytest
from redis.asyncio.cluster import RedisCluster

from cachekit import CacheConfigBuilder, CacheConfigError, resolve
from cachekit.backends.redis.connection import Endpoint
from cachekit.config.model import CacheConfig
from cachekit.config.posture import evaluate
from cachekit.config.settings import resolve_settings
from cachekit.config.urls import mask_url, parse_redis_url, scheme_mode, url_problem, uses_tls
from cachekit.errors import ConfigProblem

SECRET = "Sentinel-Pw-7c1e"


def cfg(**dotted: Any) -> CacheConfig:
    """A ``simple`` config with dotted overrides (``redis__mode`` → ``redis.mode``)."""
    overrides = {k.replace("__", "."): v for k, v in dotted.items()}
    return CacheConfigBuilder().with_preset("simple").with_overrides(overrides).build()


def problems(**dotted: Any) -> dict[str, ConfigProblem]:
    """The problems validation reports for the overrides, by key."""
    with pytest.raises(CacheConfigError) as info:
        cfg(**dotted)
    return {p.key: p for p in info.value.problems}


@pytest.mark.parametrize(
    ("url", "hosts", "service", "db"),
    [
        ("redis+sentinel://h1,h2:26380/mymaster/2", (("h1", 26379), ("h2", 26380)), "mymaster", 2),
        ("redis+sentinel://h1:5000/mymaster", (("h1", 5000),), "mymaster", 0),
        ("redis+sentinel://h1/3", (("h1", 26379),), None, 3),
        ("redis+cluster://a:7000,b:7001/0", (("a", 7000), ("b", 7001)), None, 0),
        ("redis+cluster://[::1]:7000", (("::1", 7000),), None, 0),
        ("rediss+cluster://a:7000", (("a", 7000),), None, 0),
        ("redis://a:7000,b:7001/0", (("a", 7000), ("b", 7001)), None, 0),
    ],
)
def test_parse_redis_url_lists_hosts_service_and_db(
    url: str, hosts: tuple[tuple[str, int], ...], service: str | None, db: int
) -> None:
    """Several hosts (sentinels default to port 26379), the service and the db are read."""
    parsed = parse_redis_url(url)
    assert (parsed.hosts, parsed.service, parsed.db) == (hosts, service, db)


def test_parse_redis_url_topology_schemes_name_mode_and_tls() -> None:
    """``+sentinel`` / ``+cluster`` name the mode; ``rediss+`` means TLS to every node."""
    assert scheme_mode("redis+sentinel://h/m") == "sentinel"
    assert scheme_mode("REDISS+CLUSTER://h") == "cluster"
    assert scheme_mode("redis://h") is None
    assert uses_tls("rediss+sentinel://h/m") and not uses_tls("redis+sentinel://h/m")
    assert parse_redis_url("rediss+cluster://h:1").tls


def test_parse_redis_url_topology_errors_name_the_form() -> None:
    """A cluster db other than 0 and a bad service name are refused with the right form."""
    assert "database 0 only" in str(url_problem("redis+cluster://h:1/3"))
    assert "sentinel name" in str(url_problem("redis+sentinel://h/my$master/0"))
    assert "redis+sentinel://" in str(url_problem("valkey://h"))


def test_mask_url_masks_password_of_multi_host_url() -> None:
    """A password in a multi-host URL is masked; the hosts stay readable."""
    masked = mask_url(f"redis+sentinel://:{SECRET}@h1:1,h2:2/mymaster/0")
    assert SECRET not in masked and "h1:1,h2:2" in masked


def test_config_mode_from_scheme_or_setting() -> None:
    """``topology`` is the scheme's mode, else ``redis.mode``; the endpoint carries it."""
    assert cfg(redis__url="redis+cluster://a:1,b:2").redis.topology == "cluster"
    config = cfg(redis__url="redis://s1:26379,s2:26379/0", redis__mode="sentinel",
                 redis__sentinel_master="svc")
    endpoint = Endpoint.from_config(config)
    assert (endpoint.mode, endpoint.service, endpoint.hosts) == (
        "sentinel", "svc", (("s1", 26379), ("s2", 26379)))


def test_validation_refuses_mode_contradicting_scheme() -> None:
    """A ``+cluster`` URL with ``mode = 'sentinel'``: ``redis.mode`` is named with its value."""
    found = problems(redis__url="redis+cluster://a:1", redis__mode="sentinel")
    assert "contradicts redis.url" in found["redis.mode"].message
    assert found["redis.mode"].value == "'sentinel'"


def test_validation_refuses_unknown_mode_with_choices() -> None:
    """``redis.mode = 'clustre'`` is refused naming the key."""
    found = problems(redis__mode="clustre")
    assert "redis.mode" in found


def test_validation_refuses_several_hosts_in_standalone() -> None:
    """Several hosts need a sentinel or cluster mode; the fix is named."""
    found = problems(redis__url="redis://a:1,b:2/0")
    assert "redis.mode = 'sentinel' or 'cluster'" in found["redis.url"].message


def test_validation_sentinel_needs_a_service() -> None:
    """Sentinel mode without a service name in the URL or ``redis.sentinel_master`` fails."""
    found = problems(redis__url="redis+sentinel://h:26379/0")
    assert "redis.sentinel_master" in found
    assert cfg(redis__url="redis+sentinel://h:26379/0", redis__sentinel_master="m")


def test_validation_refuses_service_disagreeing_with_url() -> None:
    """Two different service names (URL and setting) are refused."""
    found = problems(redis__url="redis+sentinel://h/a/0", redis__sentinel_master="b")
    assert "contradicts the service 'a'" in found["redis.sentinel_master"].message


def test_validation_read_from_replica_needs_sentinel() -> None:
    """``read_from = 'replica'`` outside sentinel mode is refused naming the mode."""
    found = problems(redis__url="redis+cluster://a:1", redis__read_from="replica")
    assert "redis.mode = 'sentinel'" in found["redis.read_from"].message
    assert cfg(redis__url="redis+sentinel://h/m/0", redis__read_from="replica")


def test_validation_refuses_sentinel_master_in_standalone() -> None:
    """A sentinel service name with a standalone URL is a mistake, named."""
    found = problems(redis__url="redis://h:6379/0", redis__sentinel_master="m")
    assert "mode is standalone" in found["redis.sentinel_master"].message


def test_validation_refuses_unix_socket_for_cluster() -> None:
    """A unix socket cannot reach a cluster."""
    found = problems(redis__url="unix:///tmp/r.sock", redis__mode="cluster")
    assert "unix socket" in found["redis.url"].message


def test_validation_error_names_source_layer_and_masks_secret(tmp_path: Path) -> None:
    """A bad mode set by an env var names the variable; a sentinel password never shows."""
    environ = {
        "CACHEKIT_REDIS__URL": "redis+cluster://a:1",
        "CACHEKIT_REDIS__MODE": "sentinel",
        "CACHEKIT_REDIS__SENTINEL_PASSWORD": SECRET,
    }
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ=environ, root=tmp_path)
    problem = next(p for p in info.value.problems if p.key == "redis.mode")
    assert problem.source is not None and "CACHEKIT_REDIS__MODE" in problem.source
    assert SECRET not in str(info.value)


def test_hash_tag_puts_namespace_in_one_slot() -> None:
    """``hash_tag = 'namespace'`` wraps the prefix in braces: one cluster slot."""
    assert cfg(namespace="app", redis__hash_tag="namespace").key_prefix.startswith("{app:")
    assert cfg(namespace="app").key_prefix.startswith("app:")


def test_posture_applies_to_every_listed_host() -> None:
    """One remote sentinel makes the connection remote; sentinels need their password."""
    data = {
        "environment": "production",
        "redis": {"url": "redis+sentinel://127.0.0.1:1,10.0.0.9:2/m/0", "password": "p"},
        "security": {"posture": "strict"},
    }
    rules = {(f.rule, f.key) for f in evaluate(data)}
    assert ("plaintext-remote", "redis.url") in rules
    assert ("unauthenticated-remote", "redis.sentinel_password") in rules
    local = {**data, "redis": {**data["redis"], "url": "redis+sentinel://127.0.0.1:1/m/0"}}
    assert not [f for f in evaluate(local) if f.severity == "error"]


def test_endpoint_sentinels_get_their_own_credentials_and_timeouts() -> None:
    """The sentinels get ``sentinel_username`` / ``sentinel_password`` and the timeouts;
    the data nodes keep the URL's credentials."""
    config = cfg(
        redis__url="redis+sentinel://u:datapw@h:26379/m/0",
        redis__sentinel_username="sen",
        redis__sentinel_password=SECRET,
        redis__socket_timeout=0.25,
    )
    endpoint = Endpoint.from_config(config)
    sentinel_kwargs = endpoint.sentinels().sentinel_kwargs
    assert (sentinel_kwargs["username"], sentinel_kwargs["password"]) == ("sen", SECRET)
    assert sentinel_kwargs["socket_timeout"] == 0.25
    pool = endpoint.sentinel_pool(endpoint.sentinels())
    assert (pool.connection_kwargs["username"], pool.connection_kwargs["password"]) == (
        "u", "datapw")
    assert SECRET not in repr(config.redis) and SECRET not in repr(endpoint)


def test_endpoint_node_client_carries_tls_and_pool_size() -> None:
    """A cluster node's client gets the same TLS, credentials and pool size."""
    config = cfg(redis__url="rediss+cluster://u:pw@a:7000,b:7001", redis__max_connections=3)
    endpoint = Endpoint.from_config(config)
    client = endpoint.node_client("c", 7002)
    pool = client.connection_pool
    assert pool.max_connections == 3
    assert pool.connection_kwargs["host"] == "c" and pool.connection_kwargs["port"] == 7002
    assert pool.connection_kwargs["password"] == "pw"
    assert "SSL" in pool.connection_class.__name__


def test_resolve_refuses_a_client_passed_in_with_a_topology_mode() -> None:
    """One client reaches one server: with sentinel or cluster mode it is refused, naming
    ``redis.mode``; a ``RedisCluster`` client is refused in standalone mode too."""
    for url in ("redis+cluster://127.0.0.1:7000", "redis+sentinel://127.0.0.1:26379/m/0"):
        with pytest.raises(CacheConfigError) as info:
            resolve(cfg(redis__url=url), redis_client=fakeredis.FakeAsyncRedis())
        assert info.value.problems[0].key == "redis.mode"
    cluster_client = RedisCluster(host="127.0.0.1", port=7000)
    with pytest.raises(CacheConfigError) as info:
        resolve(cfg(redis__url="redis://127.0.0.1:7000/0"), redis_client=cluster_client)
    assert "redis.mode = 'cluster'" in info.value.problems[0].message
