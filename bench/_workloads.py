"""The workloads: each builds its contenders, measures them with ``compare``, returns rows."""

from __future__ import annotations

import asyncio
import hashlib
import json
import pickle
import sys
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import cachekit
from bench import _peers as peers
from bench import _stacks as stacks
from bench._measure import Contender, Result, Settings, compare
from bench._values import ai_response, json_size, nested_dict, prose, record_dict, short_str
from cachekit import Codec
from cachekit.backends.redis.backend import RedisBackend


def _keys(prefix: str, settings: Settings) -> list[str]:
    return [f"{prefix}:{i}" for i in range(settings.keys)]


def _one(keys: list[str]) -> list[tuple[Any, ...]]:
    return [(k,) for k in keys]


async def memory(settings: Settings) -> list[Result]:
    """Get-hits and sets on the memory tier alone (no Redis configured)."""
    results: list[Result] = []
    keys = _keys("user", settings)
    values = {
        "dict ~1 KB": record_dict(),
        "nested dict ~1 KB": nested_dict(),
        "str 100 B": short_str(),
        "str 600 B": short_str(600),
    }
    for label, value in values.items():
        ck = stacks.stack("", redis=False, max_entries=2 * settings.keys)
        raw = stacks.layer(ck, cachekit.InMemoryCache)
        tc = peers.cachetools_cache(2 * settings.keys)
        cw = peers.cashews_memory(2 * settings.keys)
        ac = peers.aiocache_memory()
        for k in keys:
            await ck.set(k, value)
            tc[k] = value
            await cw.set(k, value, expire=peers.TTL)
            await ac.set(k, value, ttl=peers.TTL)
        assert await ck.get(keys[0]) == value
        contenders = [Contender("cachekit", ck.get, subject=True, note=stacks.describe(ck))]
        if raw is not ck:
            contenders.append(Contender("cachekit InMemoryCache alone", raw.get, note="no layers"))
        contenders += [
            Contender(
                "cachetools.TTLCache",
                tc.__getitem__,
                is_async=False,
                note="sync cache[key]; shares the object",
            ),
            Contender("cashews mem://", cw.get),
            Contender("aiocache SimpleMemoryCache", ac.get, note="shares the object"),
        ]
        results += await compare(f"memory get-hit, {label}", contenders, _one(keys), settings)
        if label == "nested dict ~1 KB":  # the opt-out: no copy per hit
            shared = stacks.stack(
                "", redis=False, max_entries=2 * settings.keys, memory__copies="shared"
            )
            for k in keys:
                await shared.set(k, value)
            note = f"{stacks.describe(shared)}, memory.copies = shared"
            contenders = [
                Contender("cachekit", shared.get, subject=True, note=note),
                Contender(
                    "cachetools.TTLCache",
                    tc.__getitem__,
                    is_async=False,
                    note="sync cache[key]; shares the object",
                ),
            ]
            results += await compare(
                f"memory get-hit, {label}, shared", contenders, _one(keys), settings
            )
            await shared.aclose()
        if label == "dict ~1 KB":
            set_args = [(k, value) for k in keys]

            def tc_set(k: str, v: Any, tc: Any = tc) -> None:
                tc[k] = v

            contenders = [
                Contender("cachekit", ck.set, subject=True, note=stacks.describe(ck)),
                Contender("cachetools.TTLCache", tc_set, is_async=False),
                Contender("cashews mem://", partial(cw.set, expire=peers.TTL)),
                Contender("aiocache SimpleMemoryCache", partial(ac.set, ttl=peers.TTL)),
            ]
            results += await compare(f"memory set, {label}", contenders, set_args, settings)
        await ck.aclose()
        await cw.close()
        await ac.close()
    return results


async def redis(settings: Settings, url: str, port: int, pool: int) -> list[Result]:
    """The Redis tier alone (memory tier off): sequential and concurrent gets and sets."""
    results: list[Result] = []
    value = record_dict()
    ck = stacks.stack(url, memory=False, pool=pool)
    ck_plain = stacks.stack(url, memory=False, pool=pool, namespace="plain", **_no_pipeline())
    ck_quiet = stacks.stack(url, memory=False, pool=pool, monitoring=False)
    generic = cachekit.GenericRedisCache(url, enable_l1_cache=False, max_connections=pool)
    web_app = cachekit.CacheFactory.for_web_app(url, enable_l1_cache=False, max_connections=pool)
    raw = peers.RawRedisJson(url, pool)
    cw = peers.cashews_redis(url, pool)
    ac = peers.aiocache_redis(port, pool)
    keys = _keys("user", settings)
    for k in keys:
        await ck.set(k, value)
        await ck_plain.set(k, value)
        await generic.set(k, value)
        await raw.set("raw:" + k, value)
        await cw.set("cw:" + k, value, expire=peers.TTL)
        await ac.set(k, value, ttl=peers.TTL)
    assert await ck.get(keys[0]) == value
    assert await raw.get("raw:" + keys[0]) == value
    pipelined = _pipeline_note(ck)
    cw_get = cw.get
    for tasks in (1, settings.concurrency):
        mode = "sequential" if tasks == 1 else f"{tasks} concurrent tasks"
        gets = [
            Contender("cachekit", ck.get, subject=True, note=f"{stacks.describe(ck)}{pipelined}"),
        ]
        gets.append(Contender("cachekit, telemetry off", ck_quiet.get, note="stripped"))
        gets.append(Contender("cachekit GenericRedisCache", generic.get, note="public API"))
        gets.append(
            Contender("cachekit CacheFactory.for_web_app", web_app.get, note="public API")
        )
        if pipelined:
            gets.append(Contender("cachekit, auto_pipeline off", ck_plain.get))
        backend = stacks.layer(ck, RedisBackend)
        if backend is not ck:
            gets.append(Contender("cachekit RedisBackend alone", backend.get, note="no layers"))
        gets += [
            Contender("redis-py + json", lambda k: raw.get("raw:" + k), note=f"pool {pool}"),
            Contender("cashews redis://", lambda k: cw_get("cw:" + k), note="pickle"),
            Contender("aiocache RedisCache", ac.get, note="json"),
        ]
        results += await compare(f"redis get-hit, {mode}", gets, _one(keys), settings, tasks=tasks)
        set_args = [(k, value) for k in keys]
        sets = [
            Contender("cachekit", ck.set, subject=True),
            Contender("redis-py + json", lambda k, v: raw.set("raw:" + k, v)),
            Contender("cashews redis://", lambda k, v: cw.set("cw:" + k, v, expire=peers.TTL)),
            Contender("aiocache RedisCache", lambda k, v: ac.set(k, v, ttl=peers.TTL)),
        ]
        results += await compare(f"redis set, {mode}", sets, set_args, settings, tasks=tasks)

    # get_many: one call for 100 keys against 100 sequential gets.
    batches = [tuple(keys[i : i + 100]) for i in range(0, settings.keys, 100)]

    async def sequential_gets(*batch: str) -> None:
        for k in batch:
            await ck.get(k)

    async def ck_many(*batch: str) -> None:
        await ck.get_many(batch)

    async def raw_many(*batch: str) -> None:
        await raw.get_many(["raw:" + k for k in batch])

    async def cw_many(*batch: str) -> None:
        await cw.get_many(*("cw:" + k for k in batch))

    async def ac_many(*batch: str) -> None:
        await ac.multi_get(list(batch))

    contenders = [
        Contender("cachekit get_many", ck_many, subject=True),
        Contender("cachekit, 100 sequential gets", sequential_gets),
        Contender("redis-py mget + json", raw_many),
        Contender("cashews get_many", cw_many),
        Contender("aiocache multi_get", ac_many),
    ]
    results += await compare(
        "redis get_many, 100 keys per call", contenders, batches, settings, unit="calls/s"
    )
    for cache in (ck, ck_plain):
        await cache.clear()
        await cache.aclose()
    for cache in (ck_quiet, generic, web_app):
        await cache.aclose()
    await raw.aclose()
    await cw.close()
    await ac.close()
    return results


def _no_pipeline() -> dict[str, Any]:
    """Overrides that switch auto-pipelining off, when this cachekit has the setting."""
    fields = getattr(cachekit.RedisConfig, "__struct_fields__", ())
    return {"redis__auto_pipeline": False} if "auto_pipeline" in fields else {}


def _pipeline_note(cache: Any) -> str:
    cfg = cache.config
    return ", auto-pipelined" if getattr(cfg.redis, "auto_pipeline", False) else ""


async def tiered(settings: Settings, url: str, pool: int) -> list[Result]:
    """The memory tier in front of Redis: get-hits served by memory."""
    value = record_dict()
    keys = _keys("user", settings)
    ck = stacks.stack(url, pool=pool, max_entries=2 * settings.keys)
    memory_only = stacks.stack("", redis=False, max_entries=2 * settings.keys)
    raw = peers.RawRedisJson(url, pool)
    for k in keys:
        await ck.set(k, value)
        await memory_only.set(k, value)
        await raw.set("raw:" + k, value)
    tiered_layer = stacks.layer(ck, cachekit.TieredCache)
    contenders = [
        Contender("cachekit, memory + redis", ck.get, subject=True, note=stacks.describe(ck)),
    ]
    if tiered_layer is not ck:
        contenders.append(
            Contender("cachekit TieredCache alone", tiered_layer.get, note="no layers")
        )
    contenders += [
        Contender("cachekit, memory only", memory_only.get),
        Contender("redis-py + json", lambda k: raw.get("raw:" + k), note="no memory tier"),
    ]
    results = await compare("memory in front of redis, get-hit", contenders, _one(keys), settings)
    await ck.clear()
    await ck.aclose()
    await raw.aclose()
    return results


async def coherence(settings: Settings, url: str, pool: int) -> list[Result]:
    """A coherent memory tier: its get-hits against ``coherence = local``, and how long a
    write in one process takes to reach another process's memory tier (tracking)."""
    value = record_dict()
    keys = _keys("coh", settings)
    tracking = stacks.stack(url, pool=pool, max_entries=2 * settings.keys)
    local = stacks.stack(url, pool=pool, max_entries=2 * settings.keys, memory__coherence="local")
    for cache in (tracking, local):
        await cache.connect()
        for k in keys:
            await cache.set(k, value)
    await asyncio.sleep(0.1)  # the reports of these writes have dropped tracking's copies
    for k in keys:
        await tracking.get(k)  # read back into memory
    contenders = [
        Contender("cachekit, coherence tracking", tracking.get, subject=True,
                  note=stacks.describe(tracking)),
        Contender("cachekit, coherence local", local.get, note="one process only"),
    ]  # fmt: skip
    results = await compare("coherence, memory get-hit", contenders, _one(keys), settings)
    results.append(await _lag(url, 20 if settings.smoke else 1000))
    for cache in (tracking, local):
        await cache.clear()
        await cache.aclose()
    return results


async def _lag(url: str, writes: int) -> Result:
    """Write ``writes`` keys, 1 ms apart; another process notes when each report arrives."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench._lag_worker", url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parent.parent),
    )  # fmt: skip
    assert worker.stdout is not None and worker.stdin is not None
    assert (await worker.stdout.readline()).strip() == b"ready"
    writer = stacks.stack(url, memory__coherence="tracking")
    sent: dict[str, int] = {}
    async with writer:
        for i in range(writes):
            key = f"lag:{i}"
            sent[key] = time.monotonic_ns()
            await writer.set(key, i)
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.2)
        worker.stdin.close()
        seen = json.loads(await worker.stdout.readline())
        await worker.wait()
        await writer.clear()
    lags = sorted((seen[k] - t) / 1e6 for k, t in sent.items() if k in seen)
    p50 = lags[len(lags) // 2]
    p99 = lags[min(len(lags) - 1, len(lags) * 99 // 100)]
    return Result(
        "coherence, invalidation lag between two processes",
        "cachekit, tracking",
        p50,
        unit="ms p50",
        p50_us=p50 * 1000,
        p99_us=p99 * 1000,
        subject=True,
        note=f"{len(lags)} of {writes} writes reported; from the write's start",
        extra={"p99_ms": p99, "reported": len(lags), "writes": writes},
    )


async def build_key(settings: Settings) -> list[Result]:
    """``build_key`` of a 1 MB text, in MB/s."""
    text = (prose(50_000, seed=5) * 20)[:1_000_000]
    size_mb = len(text.encode()) / 1e6
    cache = stacks.stack("", redis=False, ai__max_text_length=2_000_000)
    args = [(text,)] * settings.key_ops
    options = {"max_length": 200}
    contenders = [
        Contender(
            "cachekit build_key",
            lambda t: cache.build_key(t, "summarize", options),
            is_async=False,
            subject=True,
            note="sha256 of the text, sorted-JSON options",
        ),
        Contender(
            "hashlib.sha256 alone", lambda t: hashlib.sha256(t.encode()).hexdigest(), is_async=False
        ),
    ]
    return await compare(
        "build_key, 1 MB text", contenders, args, settings, unit="MB/s", scale=size_mb
    )


async def codec(settings: Settings) -> list[Result]:
    """Encode + compress + decompress + decode of a ~12 KB AI response."""
    value = ai_response()
    base = json_size(value)
    preset_cfg = stacks.config("", redis=False, **_preset_compression())
    bench_cfg = stacks.config("", redis=False)
    ck = Codec.from_config(bench_cfg.compression)
    shipped = Codec.from_config(preset_cfg.compression)
    level = preset_cfg.compression.level

    def original(v: Any) -> Any:
        return pickle.loads(zlib.decompress(zlib.compress(pickle.dumps(v), 6)))

    def sizes(encode: Callable[[Any], bytes]) -> str:
        stored = len(encode(value))
        return f"{stored:,} B stored, JSON/stored {base / stored:.2f}"

    contenders = [
        Contender(
            f"cachekit {ck.algorithm}-{ck.level}",
            lambda v: ck.decode(ck.encode(v)),
            is_async=False,
            subject=True,
            note=sizes(ck.encode),
        ),
        Contender(
            f"cachekit {shipped.algorithm}-{level} (preset {stacks.PRESET})",
            lambda v: shipped.decode(shipped.encode(v)),
            is_async=False,
            note=sizes(shipped.encode),
        ),
        Contender(
            "original: pickle + zlib-6",
            original,
            is_async=False,
            note=sizes(lambda v: zlib.compress(pickle.dumps(v), 6)),
        ),
    ]
    assert ck.decode(ck.encode(value)) == value
    results = await compare(
        f"codec round trip, AI response {base / 1000:.1f} KB",
        contenders,
        [(value,)] * settings.codec_ops,
        settings,
        unit="round trips/s",
    )
    for r, encode in zip(
        results,
        (ck.encode, shipped.encode, lambda v: zlib.compress(pickle.dumps(v), 6)),
        strict=True,
    ):
        r.extra["stored_bytes"] = len(encode(value))
        r.extra["json_bytes"] = base
    return results


def _preset_compression() -> dict[str, Any]:
    """Overrides that put the preset's own codec back (undoing the benchmark's zstd)."""
    cfg = cachekit.CacheConfigBuilder().with_preset(stacks.PRESET).build()
    return {
        "compression__algorithm": cfg.compression.algorithm,
        "compression__level": cfg.compression.level,
    }


async def telemetry(settings: Settings, url: str, pool: int) -> list[Result]:
    """Telemetry on vs off on the memory path and the Redis path (get-hits)."""
    results: list[Result] = []
    value = record_dict()
    keys = _keys("user", settings)
    for label, kwargs in (
        ("memory", {"redis": False}),
        ("redis", {"memory": False, "pool": pool}),
    ):
        on = stacks.stack(url, monitoring=True, namespace="tel_on", **kwargs)
        off = stacks.stack(url, monitoring=False, namespace="tel_off", **kwargs)
        for k in keys:
            await on.set(k, value)
            await off.set(k, value)
        contenders = [
            Contender("cachekit, monitoring on", on.get, subject=True, note=stacks.describe(on)),
            Contender("cachekit, monitoring off", off.get, note=stacks.describe(off)),
        ]
        results += await compare(f"telemetry, {label} get-hit", contenders, _one(keys), settings)
        for cache in (on, off):
            await cache.clear()
            await cache.aclose()
    return results


async def _traced(fill: Callable[[], Awaitable[Any]]) -> tuple[int, Any]:
    """(bytes still allocated after ``fill``, what it returned), by tracemalloc."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = await fill()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, kept


async def bytes_per_entry(settings: Settings) -> list[Result]:
    """Memory held per entry for ``settings.entries`` entries (tracemalloc)."""
    n = settings.entries
    results: list[Result] = []
    for label, make in (
        ("small dict", lambda i: {"user_id": i, "name": f"user-{i}", "active": True}),
        ("str 100 B", lambda i: f"{i:>10}" + "x" * 90),
    ):

        async def fill_cachekit(make: Callable[[int], Any] = make) -> Any:
            cache = stacks.stack("", redis=False, max_entries=n)
            for i in range(n):
                await cache.set(f"session:{i}", make(i))
            return cache

        async def fill_cachetools(make: Callable[[int], Any] = make) -> Any:
            cache = peers.cachetools_cache(n)
            for i in range(n):
                cache[f"session:{i}"] = make(i)
            return cache

        rows = []
        for name, fill, subject in (
            ("cachekit", fill_cachekit, True),
            ("cachetools.TTLCache", fill_cachetools, False),
        ):
            started = time.perf_counter()
            held, cache = await _traced(fill)
            assert len(cache) if hasattr(cache, "__len__") else True
            rows.append(
                Result(
                    workload=f"memory held per entry, {n:,} entries, {label}",
                    contender=name,
                    value=held / n,
                    unit="B/entry",
                    subject=subject,
                    extra={"seconds": time.perf_counter() - started},
                )
            )
            del cache
        results += rows
    return results


def shipped_compression() -> str:
    """The codec each shipped preset uses, e.g. ``simple: zlib-6 above 1000 B``."""
    from cachekit.config.presets import preset_names

    parts = []
    for name in preset_names():
        cfg = cachekit.CacheConfigBuilder().with_preset(name).build()
        c = cfg.compression
        parts.append(f"{name}: {c.algorithm}-{c.level} above {c.threshold} B")
    return "; ".join(parts)
