"""Every leaf of the config schema takes effect: a probe per leaf shows behaviour change.

Each probe builds two configs that differ only in one leaf and shows that the resolved
stack behaves differently (or that validation rejects one of them). A leaf without a
probe fails ``test_every_setting_has_a_probe``: no dead settings.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import fakeredis
import pytest

from cachekit import CacheConfig, CacheConfigBuilder, CacheConfigError, CacheValueError, resolve
from cachekit.backends.redis.connection import Endpoint
from cachekit.config.validation import schema_leaves

Probe = Callable[[], Awaitable[None]]
PROBES: dict[str, Probe] = {}


def _kwargs(config: CacheConfig) -> dict[str, Any]:
    """The redis-py keyword arguments the stack's connection gets from ``config``."""
    return Endpoint.from_config(config).kwargs()


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
    client = Endpoint.from_config(config).client()
    pool = client.connection_pool
    return {
        "pool_max": pool.max_connections,
        "pool_timeout": getattr(pool, "timeout", None),
        **pool.connection_kwargs,
    }


@probe("preset")
async def _preset() -> None:
    a = await stored(cfg("simple", redis__url="redis://localhost"))
    b = await stored(cfg("production", redis__url="redis://localhost"))
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
    kw = _kwargs(cfg(redis__username="cache_user", redis__password="pw"))
    assert (kw["username"], kw["password"]) == ("cache_user", "pw")
    assert "password" not in _kwargs(cfg())


_SENTINELS = "redis+sentinel://127.0.0.1:26379/svc/0"


@probe("redis.mode")
async def _mode() -> None:
    two_hosts = "redis://127.0.0.1:7000,127.0.0.1:7001/0"
    assert rejected(redis__url=two_hosts)  # several hosts: not one server
    assert Endpoint.from_config(cfg(redis__url=two_hosts, redis__mode="cluster")).mode == "cluster"


@probe("redis.sentinel_master")
async def _sentinel_master() -> None:
    url = "redis+sentinel://127.0.0.1:26379/0"
    assert rejected(redis__url=url)
    assert Endpoint.from_config(cfg(redis__url=url, redis__sentinel_master="m")).service == "m"


@probe("redis.read_from")
async def _read_from() -> None:
    assert rejected(redis__url="redis://127.0.0.1:6379/0", redis__read_from="replica")
    for read_from in ("master", "replica"):
        config = cfg(redis__url=_SENTINELS, redis__read_from=read_from)
        assert Endpoint.from_config(config).read_from == read_from


@probe("redis.hash_tag")
async def _hash_tag() -> None:
    keys = set(await stored(cfg(redis__hash_tag="namespace")))
    assert all(k.startswith(b"{") for k in keys)
    assert not any(k.startswith(b"{") for k in await stored(cfg(redis__hash_tag="none")))


@probe("redis.sentinel_username", "redis.sentinel_password")
async def _sentinel_credentials() -> None:
    config = cfg(redis__url=_SENTINELS, redis__sentinel_username="s", redis__sentinel_password="p")
    kwargs = Endpoint.from_config(config).sentinels().sentinel_kwargs
    assert (kwargs["username"], kwargs["password"]) == ("s", "p")
    plain = Endpoint.from_config(cfg(redis__url=_SENTINELS)).sentinels()
    assert "password" not in plain.sentinel_kwargs


@probe("redis.auto_pipeline")
async def _auto_pipeline() -> None:
    for enabled, connections in ((True, 1), (False, 20)):
        client = fakeredis.FakeAsyncRedis()
        config = cfg(memory__enabled=False, redis__auto_pipeline=enabled)
        cache = resolve(config, redis_client=client)
        await cache.set("k", "v")
        assert await asyncio.gather(*(cache.get("k") for _ in range(20))) == ["v"] * 20
        # Batched, twenty concurrent gets share one connection; unbatched each takes one.
        assert len(client.connection_pool._available_connections) == connections
        await cache.aclose()


@probe("memory.enabled")
async def _memory_enabled() -> None:
    for enabled, expected in ((True, "v"), (False, None)):
        client = fakeredis.FakeAsyncRedis()
        config = cfg(memory__enabled=enabled, memory__coherence="local", redis__url="redis://x")
        cache = resolve(config, redis_client=client)
        await cache.set("k", "v")
        await client.flushall()
        assert await cache.get("k") == expected


async def _promoted_ttl(config: CacheConfig) -> float | None:
    """The TTL, in the memory tier, of a value read through ``config``'s stack from a
    fakeredis that holds it for an hour (fakeredis cannot track: tracking falls back)."""
    from cachekit.layers.wrapper import memory_tier

    client = fakeredis.FakeAsyncRedis()
    cache = resolve(config, redis_client=client)
    async with cache:
        await cache.set("k", "v", ttl=3600)
        memory = memory_tier(cache)
        assert memory is not None
        await memory.delete("k")
        assert await cache.get("k") == "v"  # read from Redis, promoted
        return await memory.get_ttl("k")


@probe("memory.coherence")
async def _coherence() -> None:
    local = await _promoted_ttl(cfg(redis__url="redis://x", memory__coherence="local"))
    bounded = await _promoted_ttl(
        cfg(redis__url="redis://x", memory__coherence="bounded", memory__max_stale_seconds=2)
    )
    # fakeredis has no CLIENT TRACKING: "tracking" says so and falls back to bounded
    tracking = await _promoted_ttl(
        cfg(redis__url="redis://x", memory__coherence="tracking", memory__max_stale_seconds=2)
    )
    assert local is not None and local > 3000
    assert bounded is not None and bounded <= 2
    assert tracking is not None and tracking <= 2
    assert rejected(memory__coherence="eventual")


@probe("memory.max_stale_seconds")
async def _max_stale() -> None:
    short = await _promoted_ttl(
        cfg(redis__url="redis://x", memory__coherence="bounded", memory__max_stale_seconds=1)
    )
    long = await _promoted_ttl(
        cfg(redis__url="redis://x", memory__coherence="bounded", memory__max_stale_seconds=30)
    )
    assert short is not None and short <= 1
    assert long is not None and 20 < long <= 30
    assert rejected(memory__max_stale_seconds=0)


@probe("memory.copies")
async def _memory_copies() -> None:
    for copies, same in (("private", False), ("shared", True)):
        cache = resolve(cfg(redis__url="", memory__copies=copies))
        async with cache:
            value = {"rows": [{"n": 1}]}
            await cache.set("k", value)
            assert ((await cache.get("k")) is value) is same
    assert rejected(memory__copies="deep")


@probe("redis.lease_seconds")
async def _lease_seconds() -> None:
    import asyncio

    for seconds, held in ((5.0, 1), (0.0, 0)):
        client = fakeredis.FakeAsyncRedis()
        config = cfg(
            redis__url="redis://x", memory__coherence="local", redis__lease_seconds=seconds
        )
        cache = resolve(config, redis_client=client)
        loading = asyncio.Event()
        release = asyncio.Event()

        async def loader(loading: asyncio.Event = loading, release: asyncio.Event = release) -> str:
            loading.set()
            await release.wait()
            return "v"

        task = asyncio.create_task(cache.get_or_set("k", loader))
        await loading.wait()
        lease = config.key_prefix + "__cachekit_lease__:k"
        assert await client.exists(lease) == held  # the loading process holds the lease
        release.set()
        assert await task == "v"
        await cache.aclose()
    assert rejected(redis__lease_seconds=-1)


def _refresh_stack(**dotted: Any) -> tuple[Any, fakeredis.FakeAsyncRedis, CacheConfig]:
    client = fakeredis.FakeAsyncRedis()
    # fakeredis has no Lua: a lease would never be released, so leases are off here
    config = cfg(
        redis__url="redis://x", memory__coherence="local", redis__lease_seconds=0, **dotted
    )
    return resolve(config, redis_client=client), client, config


async def _loaded_pttl(**dotted: Any) -> int:
    """Milliseconds Redis keeps an entry get_or_set stored for 10 s under ``dotted``."""
    cache, client, config = _refresh_stack(**dotted)
    assert await cache.get_or_set("k", lambda: "v", ttl=10) == "v"
    pttl: int = await client.pttl(config.key_prefix + "k")
    await cache.aclose()
    return pttl


@probe("refresh.stale_seconds")
async def _stale_seconds() -> None:
    assert await _loaded_pttl() <= 10_000
    assert 60_000 < await _loaded_pttl(refresh__stale_seconds=60) <= 70_000
    assert rejected(refresh__stale_seconds=-1)


@probe("refresh.early_beta")
async def _early_beta() -> None:
    from cachekit.layers.resilience.cache import ResilientCache
    from cachekit.layers.wrapper import stack_layers

    for beta, early in ((1e15, 1), (0.0, 0)):  # 1e15: a microsecond loader reloads at once
        cache, _, _ = _refresh_stack(refresh__early_beta=beta, refresh__stale_seconds=1)
        loads: list[int] = []

        def load(loads: list[int] = loads) -> str:
            loads.append(1)
            return "v"

        assert await cache.get_or_set("k", load, ttl=3600) == "v"
        assert await cache.get_or_set("k", load, ttl=3600) == "v"
        (resilient,) = [x for x in stack_layers(cache) if isinstance(x, ResilientCache)]
        assert resilient.refresher is not None
        for _ in range(500):  # the early reload runs in the background
            if resilient.refresher.early_refreshes >= early and len(loads) >= 1 + early:
                break
            await asyncio.sleep(0.01)
        assert resilient.refresher.early_refreshes == early
        assert len(loads) == 1 + early
        await cache.aclose()
    assert rejected(refresh__early_beta=-0.5)


@probe("refresh.operations")
async def _refresh_operations() -> None:
    cache, client, config = _refresh_stack(
        refresh__operations={"summarize": {"stale_seconds": 60.0, "early_beta": 0.0}}
    )
    summary = cache.build_key("some text", "summarize")
    answer = cache.build_key("some text", "qa")
    for key in (summary, answer):
        assert await cache.get_or_set(key, lambda: "v", ttl=10) == "v"
    assert await client.pttl(config.key_prefix + summary) > 60_000
    assert await client.pttl(config.key_prefix + answer) <= 10_000
    await cache.aclose()
    assert rejected(refresh__operations={"summarize": {"stale_seconds": -1, "early_beta": 0}})


@probe("memory.max_entries")
async def _max_entries() -> None:
    for size, expected in ((1, None), (2, 1)):
        cache = resolve(cfg("development", memory__max_entries=size))
        await cache.set("a", 1)
        await cache.set("b", 2)
        assert await cache.get("a") == expected


@probe("memory.max_bytes")
async def _max_bytes() -> None:
    small = resolve(cfg("development", memory__max_bytes=500))
    with pytest.raises(CacheValueError, match=r"memory\.max_bytes"):
        await small.set("a", "x" * 1000)
    # Within the limit, the oldest entries go to make room.
    cache = resolve(cfg("development", memory__max_bytes=4000, memory__max_entries=100))
    for key in "abc":
        await cache.set(key, "x" * 1000)
    assert await cache.get("a") is None and await cache.get("c") == "x" * 1000


@probe("compression.max_value_bytes")
async def _max_value_bytes() -> None:
    value = {"blob": "x" * 5000}
    stack = {"memory__enabled": False, "compression__max_value_bytes": 4000}
    with pytest.raises(CacheValueError, match="4000 bytes"):
        await stored(cfg(**stack), value=value)
    assert await stored(cfg(**{**stack, "compression__max_value_bytes": 6000}), value=value)


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
    words = random.Random(7).choices(["alpha", "beta", "gamma", "delta", "omega", "kappa"], k=4000)
    big = " ".join(words)
    for algorithm, top in (("zlib", 9), ("zstd", 19)):
        low = cfg(compression__algorithm=algorithm, compression__level=1, **base)
        high = cfg(compression__algorithm=algorithm, compression__level=top, **base)
        raw1 = next(iter((await stored(low, value=big)).values()))[0]
        raw9 = next(iter((await stored(high, value=big)).values()))[0]
        assert raw1 != raw9, algorithm


@probe("security.use_tls")
async def _use_tls() -> None:
    assert not rejected(security__use_tls=False, redis__url="redis://x")
    assert rejected(security__use_tls=True, redis__url="redis://x")


@probe("security.tls_ca_path", "security.tls_cert_path", "security.tls_key_path")
async def _tls_files(tmp_path_factory: Any = None) -> None:
    import tempfile
    from pathlib import Path

    from tests.certs import write_pki

    with tempfile.TemporaryDirectory() as tmp:
        pki = write_pki(Path(tmp))
        paths = {"ca": pki.ca, "cert": pki.client_cert, "key": pki.client_key}
        kw = _kwargs(
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
        assert "ssl_ca_certs" not in _kwargs(cfg(redis__url="rediss://x"))


@probe("security.username", "security.password")
async def _security_credentials() -> None:
    kw = _kwargs(cfg(security__username="acl_user", security__password="pw-1"))
    assert (kw["username"], kw["password"]) == ("acl_user", "pw-1")
    assert "username" not in _kwargs(cfg())
    assert rejected(security__password="pw-1", redis__password="pw-2")


@probe("security.posture")
async def _posture() -> None:
    remote = {"redis__url": "redis://cache.internal:6379/0"}
    assert not rejected(security__posture="relaxed", **remote)
    assert rejected(security__posture="strict", **remote)


@probe("security.allow_insecure")
async def _allow_insecure() -> None:
    strict = {"redis__url": "redis://cache.internal:6379/0", "security__posture": "strict"}
    assert rejected(security__allow_insecure=False, **strict)
    assert not rejected(security__allow_insecure=True, **strict)


async def _sealed_stack(**dotted: Any) -> tuple[Any, Any]:
    """A Redis-only stack on fakeredis holding "secret-value" under "k"; (cache, raw entry)."""
    client = fakeredis.FakeAsyncRedis()
    config = cfg(redis__url="redis://x", memory__enabled=False, **dotted)
    cache = resolve(config, redis_client=client)
    await cache.set("k", "secret-value")
    (name,) = await client.keys("*")
    return cache, (client, name)


@probe("security.signing_keys")
async def _signing_keys() -> None:
    from cachekit import Codec

    for keys, tampered in (([], "forged"), (["signing-key-0123456789"], None)):
        cache, (client, name) = await _sealed_stack(security__signing_keys=keys)
        await client.set(name, Codec().encode("forged"))
        assert await cache.get("k") == tampered


@probe("security.encryption_keys")
async def _encryption_keys() -> None:
    for keys, visible in (([], True), (["encryption-key-0123456789"], False)):
        cache, (client, name) = await _sealed_stack(security__encryption_keys=keys)
        assert (b"secret-value" in await client.get(name)) is visible
        assert await cache.get("k") == "secret-value"


@probe("security.verify_certificates")
async def _verify() -> None:
    on = _kwargs(cfg(redis__url="rediss://x", security__verify_certificates=True))
    off = _kwargs(cfg(redis__url="rediss://x", security__verify_certificates=False))
    assert (on["ssl_cert_reqs"], on["ssl_check_hostname"]) == ("required", True)
    assert (off["ssl_cert_reqs"], off["ssl_check_hostname"]) == ("none", False)


@probe("security.min_tls_version")
async def _min_tls() -> None:
    import ssl

    kw = _kwargs(cfg(redis__url="rediss://x", security__min_tls_version="TLSv1.3"))
    assert kw["ssl_min_version"] == ssl.TLSVersion.TLSv1_3


@probe("ai.normalize_whitespace")
async def _key_text() -> None:
    def key(**kw: Any) -> str:
        return resolve(cfg(**kw)).build_key("some  text", "summarize", None)

    assert key(ai__normalize_whitespace=True) == resolve(
        cfg(ai__normalize_whitespace=True)
    ).build_key("some text", "summarize", None)
    assert key(ai__normalize_whitespace=False) != resolve(cfg()).build_key(
        "some text", "summarize", None
    )


@probe("ai.text_hash_threshold")
async def _hash_threshold() -> None:
    def key(threshold: int) -> str:
        return resolve(cfg(ai__text_hash_threshold=threshold)).build_key("x" * 10, "qa", None)

    # 10 characters: hashed whole (BLAKE2b-128) at a threshold >= 10, streamed (sha256)
    # below it; thresholds on the same side of the text's length give the same key.
    assert key(10) == key(500)
    assert key(9) == key(0)
    assert key(10) != key(9)


def _ai_cache(**dotted: Any) -> Any:
    """A memory-only stack with the AI layer on (the development preset)."""
    return resolve(cfg("development", ai__enabled=True, **dotted))


RESPONSE = {"text": "ok", "model": "m1", "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}


@probe("ai.enabled")
async def _ai_enabled() -> None:
    from cachekit import AIResponseCache

    assert isinstance(resolve(cfg("development", ai__enabled=True)), AIResponseCache)
    assert not isinstance(resolve(cfg("development", ai__enabled=False)), AIResponseCache)


@probe("ai.operation_ttls")
async def _operation_ttls() -> None:
    async def pttl(table: dict[str, int]) -> int:
        client = fakeredis.FakeAsyncRedis()
        config = cfg("ai-production", redis__url="redis://127.0.0.1:1/0", ai__operation_ttls=table)
        cache = resolve(config, redis_client=client)
        await cache.set(cache.build_key("t", "summarize"), "v")
        (name,) = await client.keys("*")
        result: int = await client.pttl(name)
        return result

    assert 299_000 < await pttl({"summarize": 300}) <= 300_000
    assert 599_000 < await pttl({"summarize": 600}) <= 600_000


async def _saved(**dotted: Any) -> dict[str, Any]:
    """Stats after one hit on ``RESPONSE`` through an AI cache configured by ``dotted``."""
    cache = _ai_cache(**dotted)
    key = cache.build_key("t", "summarize")
    await cache.set(key, RESPONSE)
    await cache.get(key)
    stats: dict[str, Any] = await cache.get_cache_stats()
    return stats


@probe("ai.token_fields.prompt", "ai.token_fields.completion")
async def _token_fields() -> None:
    default = await _saved()
    assert (default["prompt_tokens_saved"], default["completion_tokens_saved"]) == (1000, 500)
    moved = await _saved(ai__token_fields={"prompt": "", "completion": "usage.prompt_tokens"})
    assert (moved["prompt_tokens_saved"], moved["completion_tokens_saved"]) == (0, 1000)


@probe("ai.token_fields.model", "ai.prices")
async def _prices() -> None:
    prices = {
        "m1": {"prompt": 1.0, "completion": 2.0},
        "default": {"prompt": 0.5, "completion": 0.5},
    }
    assert (await _saved())["cost_saved"] == 0.0
    assert (await _saved(ai__prices=prices))["cost_saved"] == 2.0
    unnamed = await _saved(ai__prices=prices, ai__token_fields={"model": ""})
    assert unnamed["cost_saved"] == 0.75


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


def _down_stack(**dotted: Any) -> Any:
    """A resolved Redis stack (fast probes) on a fakeredis server that is down."""
    server = fakeredis.FakeServer()
    server.connected = False
    fast = {"resilience__probe_backoff_base": 0.01, "resilience__probe_backoff_cap": 0.02}
    dotted = {**fast, **dotted}
    client = fakeredis.FakeAsyncRedis(server=server)
    cache = resolve(cfg(redis__url="redis://x", **dotted), redis_client=client)
    cache.fake_server = server
    return cache


def _resilient(cache: Any) -> Any:
    """The resilience layer of a resolved stack (telemetry may wrap it)."""
    from cachekit import ResilientCache

    while not isinstance(cache, ResilientCache):
        cache = cache.inner
    return cache


@probe("redis.fail_on_connection_error")
async def _fail_on_connection_error() -> None:
    from cachekit import CacheUnavailableError

    lenient = _down_stack(redis__fail_on_connection_error=False)
    assert await lenient.get("k") is None
    strict = _down_stack(redis__fail_on_connection_error=True)
    with pytest.raises(CacheUnavailableError):
        await strict.get("k")
    await lenient.aclose()
    await strict.aclose()


@probe("resilience.failure_threshold")
async def _failure_threshold() -> None:
    for threshold in (1, 3):
        cache = _down_stack(resilience__failure_threshold=threshold)
        for _ in range(threshold - 1):
            await cache.get("k")
        assert _resilient(cache).state == "ok"
        await cache.get("k")
        assert _resilient(cache).state == "degraded"
        await cache.aclose()


@probe("resilience.probe_backoff_base", "resilience.probe_backoff_cap")
async def _probe_backoff() -> None:
    for base, cap in ((10.0, 15.0), (100.0, 150.0)):
        cache = _down_stack(resilience__probe_backoff_base=base, resilience__probe_backoff_cap=cap)
        breaker = _resilient(cache).breaker
        breaker.trip("down")
        assert base / 2 <= breaker.seconds_until_probe() <= base
        assert cap / 2 <= breaker.backoff.compute(10) <= cap
        await cache.aclose()


@probe("resilience.recovery")
async def _recovery() -> None:
    import asyncio

    for policy, expected in (("drop", None), ("write_back", "from outage")):
        cache = _down_stack(
            resilience__recovery=policy, resilience__failure_threshold=1, memory__enabled=False
        )
        layer = _resilient(cache)
        await cache.set("k", "from outage")
        cache.fake_server.connected = True
        for _ in range(300):
            if layer.state == "ok" and not layer.journal.pending:
                break
            await asyncio.sleep(0.01)
        assert await cache.get("k") == expected
        await cache.aclose()


@probe("resilience.bulk_timeout")
async def _bulk_timeout() -> None:
    import asyncio

    from cachekit import InMemoryCache, ResilientCache
    from cachekit.backends.redis.backend import RedisBackend

    class SlowClear(RedisBackend):
        async def delete_matching(self, pattern: str) -> int:
            await asyncio.sleep(0.3)
            return 0

    for limit, failures in ((0.05, 1), (5.0, 0)):
        config = cfg(redis__url="redis://x", resilience__bulk_timeout=limit)
        remote = SlowClear.from_config(config, client=fakeredis.FakeAsyncRedis())
        cache = ResilientCache(
            remote, config.resilience, config.budget, standby=InMemoryCache()
        )
        await cache.clear()
        assert cache.breaker.failures == failures
        await cache.aclose()


# -- monitoring -------------------------------------------------------------------------
def _monitor(clock: list[float] | None = None, **dotted: Any) -> Any:
    """The monitor a stack of this config gets, on a hand-moved clock (``clock[0]``)."""
    from cachekit import CachePerformanceMonitor

    now = clock if clock is not None else [1000.0]
    settings = cfg(**{f"monitoring__{k}": v for k, v in dotted.items()}).monitoring
    return CachePerformanceMonitor(settings, clock=lambda: now[0])


def _rules_fired(monitor: Any) -> list[tuple[str, str]]:
    return [(a.rule, a.level) for a in monitor.recent_alerts]


@probe("monitoring.enabled")
async def _monitoring_enabled() -> None:
    assert resolve(cfg(monitoring__enabled=True)).monitor is not None
    assert resolve(cfg(monitoring__enabled=False)).monitor is None


@probe("monitoring.providers")
async def _monitoring_providers() -> None:
    from cachekit.telemetry.otel import OtelEnv, build_telemetry

    env = OtelEnv({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    sources = {}
    for mode in ("app", "auto", "own"):
        telemetry = build_telemetry(cfg(monitoring__providers=mode).monitoring, env)
        sources[mode] = telemetry.sources["metrics"]
        telemetry.shutdown()
    assert sources == {"app": "global", "auto": "own", "own": "own"}
    quiet = build_telemetry(cfg(monitoring__providers="auto").monitoring, OtelEnv({}))
    assert quiet.sources["metrics"] == "global" and quiet.owned == ()


@probe("monitoring.otlp_protocol")
async def _otlp_protocol() -> None:
    from cachekit.telemetry.otel import OtelEnv
    from cachekit.telemetry.otlp import _exporter

    for protocol, module in (("grpc", ".grpc."), ("http/protobuf", ".http.")):
        settings = cfg(monitoring__otlp_protocol=protocol).monitoring
        exporter = _exporter("traces", settings, OtelEnv())
        assert module in type(exporter).__module__
        exporter.shutdown()


@probe("monitoring.export_interval_seconds")
async def _export_interval() -> None:
    from cachekit.telemetry.otel import OtelEnv, build_telemetry

    env = OtelEnv({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:9/v1/metrics"})
    for seconds in (2.5, 30.0):
        settings = cfg(monitoring__providers="own", monitoring__export_interval_seconds=seconds)
        telemetry = build_telemetry(settings.monitoring, env)
        (reader,) = telemetry.meter_provider._metric_readers
        assert reader._export_interval_millis == seconds * 1000
        telemetry.shutdown()


@probe("monitoring.duration_sample_every")
async def _duration_sample_every() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from cachekit.telemetry.attach import instrument_around
    from cachekit.telemetry.otel import Telemetry

    recorded = {}
    for every in (1, 1000):
        reader = InMemoryMetricReader()
        telemetry = Telemetry.noop()
        telemetry.meter_provider = MeterProvider(metric_readers=[reader])
        stack = resolve(cfg("development", monitoring__duration_sample_every=every))
        cache = instrument_around(stack.inner, telemetry, settings=stack.config.monitoring)
        for _ in range(10):
            await cache.set("k", "v")
        points = [
            p.count
            for rm in reader.get_metrics_data().resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == "cachekit.operation.duration"
            for p in m.data.data_points
        ]
        recorded[every] = sum(points)
    assert recorded == {1: 10, 1000: 1}


@probe("monitoring.slow_operation_seconds")
async def _slow_operation() -> None:
    for limit, fired in ((0.005, True), (5.0, False)):
        cache = resolve(cfg("development", monitoring__slow_operation_seconds=limit))
        assert cache.monitor is not None

        async def slow() -> str:
            await asyncio.sleep(0.02)
            return "v"

        await cache.get_or_set("k", slow)
        assert (("slow_operation", "warning") in _rules_fired(cache.monitor)) is fired


@probe("monitoring.slow_key_generation_seconds")
async def _slow_key_generation() -> None:
    for limit, fired in ((0.01, True), (1.0, False)):
        monitor = _monitor(slow_key_generation_seconds=limit)
        monitor.record_key_generation_time(0.05)
        assert (("slow_key_generation", "warning") in _rules_fired(monitor)) is fired


@probe("monitoring.memory_warning_bytes", "monitoring.memory_critical_bytes")
async def _memory_thresholds() -> None:
    levels = []
    for warning, critical in ((100, 200), (1_000, 200_000), (100_000, 200_000)):
        cache = resolve(
            cfg(
                "development",
                monitoring__memory_warning_bytes=warning,
                monitoring__memory_critical_bytes=critical,
            )
        )
        await cache.set("k", "x" * 5000)
        assert cache.monitor is not None
        cache.monitor.evaluate()
        levels.append(cache.monitor.engine.level("memory"))
    assert levels == ["critical", "warning", None]


@probe("monitoring.invalidation_warning_per_hour", "monitoring.invalidation_critical_per_hour")
async def _invalidation_rate() -> None:
    levels = []
    for warning, critical in ((2, 4), (2, 100), (50, 100)):
        monitor = _monitor(
            invalidation_warning_per_hour=warning, invalidation_critical_per_hour=critical
        )
        for n in range(5):
            monitor.record_invalidation("operation", "summarize", f"operation:op{n}", 1)
        levels.append(monitor.engine.level("invalidation_rate"))
    assert levels == ["critical", "warning", None]


@probe("monitoring.invalidation_pattern_share", "monitoring.invalidation_pattern_min_events")
async def _invalidation_pattern() -> None:
    fired = []
    for share, minimum in ((0.5, 5), (0.9, 5), (0.5, 50)):
        monitor = _monitor(
            invalidation_pattern_share=share, invalidation_pattern_min_events=minimum
        )
        for n in range(10):
            label = "operation:summarize" if n < 7 else f"operation:other{n}"
            monitor.record_invalidation("operation", "summarize", label, 1)
        fired.append(monitor.engine.level("invalidation_pattern"))
    assert fired == ["warning", None, None]


@probe(
    "monitoring.hit_ratio_floor",
    "monitoring.hit_ratio_window_seconds",
    "monitoring.hit_ratio_min_lookups",
)
async def _hit_ratio() -> None:
    def verdict(floor: float, window: float, minimum: int) -> str | None:
        clock = [1000.0]
        monitor = _monitor(
            clock,
            hit_ratio_floor=floor,
            hit_ratio_window_seconds=window,
            hit_ratio_min_lookups=minimum,
        )
        for _ in range(50):  # early lookups: all hits
            monitor.record_cache_operation_time("get", 0.0001, True)
        monitor.evaluate()
        clock[0] += 100
        for _ in range(50):  # recent lookups: all misses
            monitor.record_cache_operation_time("get", 0.0001, False)
        monitor.evaluate()
        level: str | None = monitor.engine.level("hit_ratio")
        return level

    assert verdict(0.3, 60, 20) == "warning"  # the window holds only the misses
    assert verdict(0.3, 600, 20) is None  # the window holds all: 50%
    assert verdict(0.6, 600, 20) == "warning"
    assert verdict(0.3, 60, 80) is None  # too few lookups in the window


@probe("monitoring.degraded_alert_seconds")
async def _degraded_after() -> None:
    for seconds, level in ((10.0, "critical"), (120.0, None)):
        clock = [1000.0]
        monitor = _monitor(clock, degraded_alert_seconds=seconds)
        monitor.set_degraded(True)
        clock[0] += 30
        monitor.evaluate()
        assert monitor.engine.level("degraded") == level


@probe("monitoring.alert_eval_seconds")
async def _alert_eval() -> None:
    for interval, fired in ((0.02, True), (60.0, False)):
        settings = cfg(
            "development",
            monitoring__memory_warning_bytes=100,
            monitoring__memory_critical_bytes=10**9,
            monitoring__alert_eval_seconds=interval,
        )
        cache = resolve(settings)
        await cache.connect()
        await cache.set("k", "x" * 5000)
        await asyncio.sleep(0.2)
        assert cache.monitor is not None
        assert (cache.monitor.engine.level("memory") == "warning") is fired
        await cache.aclose()


@probe("monitoring.alert_window_seconds")
async def _alert_window() -> None:
    for window, level in ((10.0, None), (120.0, "warning")):
        clock = [1000.0]
        monitor = _monitor(clock, alert_window_seconds=window)
        monitor.slow_operation(0, 0, 1.0)
        clock[0] += 60
        monitor.evaluate()
        assert monitor.engine.level("slow_operation", "get") == level


@probe("monitoring.alert_cooldown_seconds")
async def _alert_cooldown() -> None:
    for cooldown, firings in ((0.0, 2), (3600.0, 1)):
        clock = [1000.0]
        monitor = _monitor(clock, alert_cooldown_seconds=cooldown, alert_window_seconds=10.0)
        monitor.slow_operation(0, 0, 1.0)
        clock[0] += 60
        monitor.evaluate()  # clears
        monitor.slow_operation(0, 0, 1.0)
        assert _rules_fired(monitor).count(("slow_operation", "warning")) == firings


@probe("monitoring.alert_clear_ratio")
async def _alert_clear_ratio() -> None:
    for ratio, level in ((0.8, "warning"), (0.99, None)):
        clock = [1000.0]
        monitor = _monitor(
            clock,
            invalidation_warning_per_hour=10,
            invalidation_critical_per_hour=1000,
            alert_clear_ratio=ratio,
        )
        for _ in range(11):  # 11 > 10: fires
            monitor.record_invalidation("pattern", "none", "pattern", 1)
            clock[0] += 1
        clock[0] += 3600 - 11 + 1.5  # two events leave the hour: 9 remain, 90% of 10
        monitor.evaluate()
        assert monitor.engine.level("invalidation_rate") == level


# -- server (``cachekit serve`` and the ops router) -------------------------------------


def server_cfg(environment: str = "testing", **dotted: Any) -> CacheConfig:
    """A config of ``environment`` (its own preset) with dotted overrides."""
    overrides = {k.replace("__", "."): v for k, v in dotted.items()}
    builder = CacheConfigBuilder().for_environment(environment).with_preset(environment)
    return builder.with_overrides(overrides).build()


async def status_of(
    config: CacheConfig, method: str, path: str, cache: Any = None, **kw: Any
) -> int:
    """The HTTP status ``cachekit serve``'s app on ``config`` answers (lifespan running)."""
    from cachekit.testing import running_app
    from cachekit.web.server import create_app

    async with running_app(create_app(config=config, cache=cache)) as client:
        return (await client.request(method, path, **kw)).status_code


@probe("server.host")
async def _server_host() -> None:
    loopback = server_cfg("development", server__host="127.0.0.1")
    assert await status_of(loopback, "GET", "/livez") == 200
    with pytest.raises(CacheConfigError, match=r"server\.token"):
        await status_of(server_cfg("development", server__host="0.0.0.0"), "GET", "/livez")


@probe("server.port")
async def _server_port() -> None:
    from cachekit.config.settings import ResolvedSettings
    from cachekit.web.server import uvicorn_config

    for port in (8001, 9002):
        resolved = ResolvedSettings(config=server_cfg(server__port=port), sources={}, root=".")
        assert uvicorn_config(resolved).port == port


@probe("server.token")
async def _server_token() -> None:
    put = ("PUT", "/v1/cache/n/k")
    assert await status_of(server_cfg(), *put, json=1) == 204
    assert await status_of(server_cfg(server__token="t0ken"), *put, json=1) == 401
    ok = {"Authorization": "Bearer t0ken"}
    assert await status_of(server_cfg(server__token="t0ken"), *put, json=1, headers=ok) == 204


@probe("server.max_body_bytes")
async def _server_max_body() -> None:
    put = ("PUT", "/v1/cache/n/k")
    assert await status_of(server_cfg(server__max_body_bytes=4096), *put, json="x" * 2000) == 204
    assert await status_of(server_cfg(server__max_body_bytes=1024), *put, json="x" * 2000) == 413


@probe("server.require_redis")
async def _server_require_redis() -> None:
    from cachekit.testing import FakeCache

    for required, expected in ((False, 200), (True, 503)):
        degraded = FakeCache()
        degraded.set_health("degraded", "redis: connection refused")
        config = server_cfg(redis__url="redis://127.0.0.1:1/0", server__require_redis=required)
        assert await status_of(config, "GET", "/readyz", cache=degraded) == expected
    assert rejected(redis__url="", server__require_redis=True)


@probe("server.auth")
async def _server_auth() -> None:
    get = ("GET", "/v1/cache/n/k")
    assert await status_of(server_cfg(server__token="t0ken", server__auth="writes"), *get) == 404
    assert await status_of(server_cfg(server__token="t0ken", server__auth="all"), *get) == 401


@probe("server.tokens")
async def _server_tokens() -> None:
    grant = {"reader": {"token": "r" * 32, "namespaces": ["a"], "scopes": ["read"]}}
    config = server_cfg(server__tokens=grant, server__auth="all")
    reader = {"Authorization": "Bearer " + "r" * 32}
    assert await status_of(config, "GET", "/v1/cache/a/k", headers=reader) == 404
    assert await status_of(config, "GET", "/v1/cache/b/k", headers=reader) == 403
    assert await status_of(config, "PUT", "/v1/cache/a/k", json=1, headers=reader) == 403


@probe("server.readiness_interval")
async def _server_readiness_interval() -> None:
    from cachekit.testing import FakeCache
    from cachekit.web.runtime import CacheRuntime

    class Counting(FakeCache):
        probes = 0

        async def health(self) -> Any:
            self.probes += 1
            return await super().health()

    for interval, probes in ((60.0, 1), (0.001, 5)):
        now = [1000.0]
        cache = Counting()
        runtime = CacheRuntime(
            cache,
            config=server_cfg(server__readiness_interval=interval),
            clock=lambda now=now: now[0],
        )
        for _ in range(5):
            await runtime.readiness()
            now[0] += 0.01
        assert cache.probes == probes


@probe("server.header_timeout", "server.body_timeout")
async def _server_read_timeouts() -> None:
    from cachekit.config.settings import ResolvedSettings
    from cachekit.web.server import uvicorn_config

    for header, body in ((1.5, 7.0), (3.0, 9.0)):
        config = server_cfg(server__header_timeout=header, server__body_timeout=body)
        protocol = uvicorn_config(ResolvedSettings(config=config, sources={}, root=".")).http
        assert (protocol.header_timeout, protocol.body_timeout) == (header, body)


@probe("server.keep_alive_timeout", "server.max_connections")
async def _server_connection_limits() -> None:
    from cachekit.config.settings import ResolvedSettings
    from cachekit.web.server import uvicorn_config

    for keep_alive, connections in ((2.0, 10), (20.0, 500)):
        config = server_cfg(
            server__keep_alive_timeout=keep_alive, server__max_connections=connections
        )
        uv = uvicorn_config(ResolvedSettings(config=config, sources={}, root="."))
        assert (uv.timeout_keep_alive, uv.limit_concurrency) == (keep_alive, connections)


def test_every_setting_has_a_probe() -> None:
    """The schema walk covers every leaf: each has a probe, and no probe names a non-leaf."""
    leaves = {name for name, _ in schema_leaves()}
    assert sorted(leaves - set(PROBES)) == []
    assert sorted(set(PROBES) - leaves) == []


@pytest.mark.parametrize("leaf", sorted(PROBES))
async def test_every_setting_takes_effect(leaf: str) -> None:
    """Changing this leaf changes behaviour (or is rejected)."""
    await PROBES[leaf]()
