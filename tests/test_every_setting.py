"""Every leaf of the config schema takes effect: a probe per leaf shows behaviour change.

Each probe builds two configs that differ only in one leaf and shows that the resolved
stack behaves differently (or that validation rejects one of them). A leaf without a
probe fails ``test_every_setting_has_a_probe``: no dead settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import fakeredis
import pytest

from cachekit import CacheConfig, CacheConfigBuilder, CacheConfigError, resolve
from cachekit._connection import connection_kwargs, make_client
from cachekit._validation import schema_leaves

Probe = Callable[[], Awaitable[None]]
PROBES: dict[str, Probe] = {}


def probe(*leaves: str) -> Callable[[Probe], Probe]:
    """Register ``fn`` as the proof that each of ``leaves`` takes effect."""

    def register(fn: Probe) -> Probe:
        for leaf in leaves:
            assert leaf not in PROBES, f"two probes for {leaf}"
            PROBES[leaf] = fn
        return fn

    return register


def cfg(preset: str = "simple", **dotted: Any) -> CacheConfig:
    """A config from ``preset`` with dotted overrides (``redis__url`` style keys use ``.``)."""
    overrides = {k.replace("__", "."): v for k, v in dotted.items()}
    return CacheConfigBuilder().with_preset(preset).with_overrides(overrides).build()


def rejected(**dotted: Any) -> bool:
    try:
        cfg(**dotted)
    except CacheConfigError:
        return True
    return False


async def stored(
    config: CacheConfig, key: str = "k", value: Any = "v", ttl: Any = None
) -> dict[bytes, Any]:
    """Write through a resolved stack on fakeredis; return Redis keys → (raw bytes, pttl)."""
    client = fakeredis.FakeAsyncRedis()
    cache = resolve(config, redis_client=client)
    if ttl is None:
        await cache.set(key, value)
    else:
        await cache.set(key, value, ttl=ttl)
    out = {}
    for name in await client.keys("*"):
        out[name] = (await client.get(name), await client.pttl(name))
    return out


def pool_kwargs(config: CacheConfig) -> dict[str, Any]:
    client = make_client(config)
    pool = client.connection_pool
    return {
        "pool_max": pool.max_connections,
        "pool_timeout": getattr(pool, "timeout", None),
        **pool.connection_kwargs,
    }


@probe("preset")
async def _preset() -> None:
    a = await stored(cfg("simple", redis__url="redis://x"))
    b = await stored(cfg("production", redis__url="redis://x"))
    assert [v[1] for v in a.values()] != [v[1] for v in b.values()]


@probe("environment")
async def _environment() -> None:
    a = CacheConfigBuilder().for_environment("staging").with_preset("simple").build()
    b = CacheConfigBuilder().for_environment("qa").with_preset("simple").build()
    assert set(await stored(a)) != set(await stored(b))


@probe("enabled")
async def _enabled() -> None:
    for enabled, expected in ((True, "v"), (False, None)):
        cache = resolve(cfg("development", enabled=enabled))
        await cache.set("k", "v")
        assert await cache.get("k") == expected


@probe("namespace")
async def _namespace() -> None:
    assert set(await stored(cfg(namespace="a"))) != set(await stored(cfg(namespace="b")))


@probe("ttl.default")
async def _ttl_default() -> None:
    a = await stored(cfg(ttl__default=100))
    b = await stored(cfg(ttl__default=200))
    assert next(iter(a.values()))[1] != next(iter(b.values()))[1]


@probe("redis.url")
async def _redis_url() -> None:
    assert await stored(cfg(redis__url="redis://x")) != {}
    assert await stored(cfg(redis__url="")) == {}


@probe("redis.max_connections")
async def _max_connections() -> None:
    assert pool_kwargs(cfg(redis__max_connections=3))["pool_max"] == 3
    assert pool_kwargs(cfg(redis__max_connections=7))["pool_max"] == 7


@probe("redis.socket_timeout")
async def _socket_timeout() -> None:
    kw = pool_kwargs(cfg(redis__socket_timeout=0.3))
    assert kw["socket_timeout"] == 0.3
    assert kw["pool_timeout"] == 0.3


@probe("redis.connect_timeout")
async def _connect_timeout() -> None:
    assert pool_kwargs(cfg(redis__connect_timeout=1.5))["socket_connect_timeout"] == 1.5


@probe("redis.retries")
async def _retries() -> None:
    assert pool_kwargs(cfg(redis__retries=0))["retry"].get_retries() == 0
    assert pool_kwargs(cfg(redis__retries=4))["retry"].get_retries() == 4


@probe("redis.retry_backoff_base", "redis.retry_backoff_cap")
async def _backoff() -> None:
    a = pool_kwargs(cfg(redis__retry_backoff_base=0.01, redis__retry_backoff_cap=0.02))["retry"]
    b = pool_kwargs(cfg(redis__retry_backoff_base=0.05, redis__retry_backoff_cap=0.5))["retry"]
    assert (a._backoff._base, a._backoff._cap) == (0.01, 0.02)
    assert (b._backoff._base, b._backoff._cap) == (0.05, 0.5)


@probe("redis.username", "redis.password")
async def _credentials() -> None:
    kw = connection_kwargs(cfg(redis__username="cache_user", redis__password="pw"))
    assert (kw["username"], kw["password"]) == ("cache_user", "pw")
    assert "password" not in connection_kwargs(cfg())


@probe("memory.enabled")
async def _memory_enabled() -> None:
    for enabled, expected in ((True, "v"), (False, None)):
        client = fakeredis.FakeAsyncRedis()
        cache = resolve(cfg(memory__enabled=enabled, redis__url="redis://x"), redis_client=client)
        await cache.set("k", "v")
        await client.flushall()
        assert await cache.get("k") == expected


@probe("memory.max_entries")
async def _max_entries() -> None:
    for size, expected in ((1, None), (2, 1)):
        cache = resolve(cfg("development", memory__max_entries=size))
        await cache.set("a", 1)
        await cache.set("b", 2)
        assert await cache.get("a") == expected


@probe("memory.max_bytes")
async def _max_bytes() -> None:
    for limit, expected in ((500, None), (100_000, "x" * 1000)):
        cache = resolve(cfg("development", memory__max_bytes=limit))
        await cache.set("a", "x" * 1000)
        assert await cache.get("a") == expected


@probe("compression.algorithm", "compression.level", "compression.threshold")
async def _compression() -> None:
    value = {"text": "lorem ipsum dolor sit amet " * 200}

    async def size(**kw: Any) -> int:
        raw = next(iter((await stored(cfg(**kw), value=value)).values()))[0]
        return len(raw)

    base = {"compression__threshold": 100}
    assert await size(compression__algorithm="none") > await size(
        compression__algorithm="zlib", **base
    )
    assert await size(compression__algorithm="zlib", compression__threshold=10**6) > await size(
        compression__algorithm="zlib", **base
    )
    lz4 = await size(compression__algorithm="lz4", compression__level=0, **base)
    zstd = await size(compression__algorithm="zstd", compression__level=19, **base)
    assert lz4 != zstd
    big = "".join(chr(65 + (i * 7919) % 26) for i in range(20000))
    raw1 = next(iter((await stored(cfg(compression__level=1, **base), value=big)).values()))[0]
    raw9 = next(iter((await stored(cfg(compression__level=9, **base), value=big)).values()))[0]
    assert raw1 != raw9


@probe("security.use_tls")
async def _use_tls() -> None:
    assert not rejected(security__use_tls=False, redis__url="redis://x")
    assert rejected(security__use_tls=True, redis__url="redis://x")


@probe("security.tls_ca_path", "security.tls_cert_path", "security.tls_key_path")
async def _tls_files(tmp_path_factory: Any = None) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp, f"{name}.pem") for name in ("ca", "cert", "key")}
        for path in paths.values():
            path.write_text("-----BEGIN CERTIFICATE-----\n")
        kw = connection_kwargs(
            cfg(
                redis__url="rediss://x",
                security__tls_ca_path=str(paths["ca"]),
                security__tls_cert_path=str(paths["cert"]),
                security__tls_key_path=str(paths["key"]),
            )
        )
        assert (kw["ssl_ca_certs"], kw["ssl_certfile"], kw["ssl_keyfile"]) == tuple(
            str(paths[n]) for n in ("ca", "cert", "key")
        )
        assert "ssl_ca_certs" not in connection_kwargs(cfg(redis__url="rediss://x"))


@probe("security.verify_certificates")
async def _verify() -> None:
    on = connection_kwargs(cfg(redis__url="rediss://x", security__verify_certificates=True))
    off = connection_kwargs(cfg(redis__url="rediss://x", security__verify_certificates=False))
    assert (on["ssl_cert_reqs"], on["ssl_check_hostname"]) == ("required", True)
    assert (off["ssl_cert_reqs"], off["ssl_check_hostname"]) == ("none", False)


@probe("security.min_tls_version")
async def _min_tls() -> None:
    import ssl

    kw = connection_kwargs(cfg(redis__url="rediss://x", security__min_tls_version="TLSv1.3"))
    assert kw["ssl_min_version"] == ssl.TLSVersion.TLSv1_3


@probe("ai.text_hash_threshold", "ai.normalize_whitespace")
async def _key_text() -> None:
    def key(**kw: Any) -> str:
        return resolve(cfg(**kw)).build_key("some  text", "summarize", None)

    assert key(ai__normalize_whitespace=True) == resolve(
        cfg(ai__normalize_whitespace=True)
    ).build_key("some text", "summarize", None)
    assert key(ai__normalize_whitespace=False) != resolve(cfg()).build_key(
        "some text", "summarize", None
    )
    assert key(ai__text_hash_threshold=0) != key(ai__text_hash_threshold=100)


@probe("ai.max_text_length")
async def _max_text() -> None:
    resolve(cfg(ai__max_text_length=100)).build_key("x" * 50, "summarize", None)
    with pytest.raises(ValueError, match="max_text_length"):
        resolve(cfg(ai__max_text_length=10)).build_key("x" * 50, "summarize", None)


@probe("ai.size_tiers.small", "ai.size_tiers.medium", "ai.size_tiers.large")
async def _tiers() -> None:
    a = resolve(cfg(ai__size_tiers={"small": 10, "medium": 20, "large": 30})).key_generator
    b = resolve(cfg(ai__size_tiers={"small": 100, "medium": 200, "large": 300})).key_generator
    assert a is not None and b is not None
    assert [a.text_tier("x" * n) for n in (15, 25, 35)] == ["medium", "large", "xlarge"]
    assert [b.text_tier("x" * n) for n in (150, 250, 350)] == ["medium", "large", "xlarge"]
    assert a.text_tier("x" * 15) != b.text_tier("x" * 15)


def test_every_setting_has_a_probe() -> None:
    """The schema walk covers every leaf: each has a probe, and no probe names a non-leaf."""
    leaves = {name for name, _ in schema_leaves()}
    assert sorted(leaves - set(PROBES)) == []
    assert sorted(set(PROBES) - leaves) == []


@pytest.mark.parametrize("leaf", sorted(PROBES))
async def test_every_setting_takes_effect(leaf: str) -> None:
    """Changing this leaf changes behaviour (or is rejected)."""
    await PROBES[leaf]()
