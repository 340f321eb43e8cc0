"""Tests of the AI response cache layer on memory-only and fakeredis stacks."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import fakeredis
import msgspec
import pytest

from cachekit import (
    AIResponseCache,
    CacheConfig,
    CacheConfigBuilder,
    CacheConfigError,
    CacheFactory,
    CacheInterface,
    CacheValueError,
    InMemoryCache,
    NullCache,
    Uncacheable,
    resolve,
)
from cachekit.backends.glob import glob_matcher, key_bytes
from cachekit.layers.ai.cache import operation_of
from cachekit.telemetry.monitor import CachePerformanceMonitor
from examples.text_processor import StandInLLM, TextProcessorService, TextProcessorSettings
from tests.conftest import FakeClock

RESPONSE = {
    "result": "short summary",
    "model": "m1",
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300},
}


def ai_config(preset: str = "development", **dotted: Any) -> CacheConfig:
    """A config from ``preset`` with the AI layer on and dotted overrides."""
    return (
        CacheConfigBuilder()
        .with_preset(preset)
        .with_ai_features()
        .with_overrides({k.replace("__", "."): v for k, v in dotted.items()})
        .build()
    )


def memory_ai(clock: FakeClock, **dotted: Any) -> tuple[AIResponseCache, InMemoryCache]:
    """An AI layer over a memory tier driven by ``clock`` (ai-development TTL table)."""
    config = ai_config(**dotted)
    memory = InMemoryCache(default_ttl=config.ttl.default, clock=clock)
    return AIResponseCache(inner=memory, config=config, clock=clock), memory


async def redis_keys(client: Any) -> list[str]:
    """Every key on a fake Redis, decoded and sorted (SCAN, like the code under test)."""
    return sorted([k.decode() async for k in client.scan_iter("*")])


# -- keys and text handling -------------------------------------------------------------
def test_ai_build_key_question_argument_equals_option(clock: FakeClock) -> None:
    """``question=`` and ``options["question"]`` give one key; another question another."""
    cache, _ = memory_ai(clock)
    by_arg = cache.build_key("doc", "qa", {"k": 1}, question="why?")
    assert by_arg == cache.build_key("doc", "qa", {"k": 1, "question": "why?"})
    assert by_arg != cache.build_key("doc", "qa", {"k": 1}, question="how?")
    assert operation_of(by_arg) == "qa"


def test_ai_build_key_over_max_text_length_is_clear_error(clock: FakeClock) -> None:
    """Text over ``ai.max_text_length`` raises CacheValueError naming the limit and length."""
    cache, _ = memory_ai(clock, ai__max_text_length=100)
    cache.build_key("x" * 100, "summarize")
    with pytest.raises(CacheValueError, match=r"101 characters long, over the limit of 100"):
        cache.build_key("x" * 101, "summarize")


def test_ai_build_key_whitespace_normalisation_is_off_by_default(clock: FakeClock) -> None:
    """By default spacing changes the key; with ``normalize_whitespace`` it does not."""
    plain, _ = memory_ai(clock)
    normal, _ = memory_ai(clock, ai__normalize_whitespace=True)
    assert plain.build_key("a  b\n", "qa") != plain.build_key("a b", "qa")
    assert normal.build_key("a  b\n", "qa") == normal.build_key("a b", "qa")


def test_ai_text_hash_threshold_picks_the_hash(clock: FakeClock) -> None:
    """At or below the threshold the text field is BLAKE2b-128; above, sha256 (streamed)."""
    cache, _ = memory_ai(clock, ai__text_hash_threshold=5)
    short, long = "abcde", "abcdef"
    assert cache.build_key(short, "qa").split(":")[2] == (
        hashlib.blake2b(short.encode(), digest_size=16).hexdigest()
    )
    assert (
        cache.build_key(long, "qa").split(":")[2] == hashlib.sha256(long.encode()).hexdigest()[:32]
    )


def test_ai_text_hash_streaming_equals_one_shot(clock: FakeClock) -> None:
    """A text longer than one slice (with astral characters and lone surrogates) hashes
    exactly like the one-shot digest of its whole encoding."""
    cache, _ = memory_ai(clock, ai__text_hash_threshold=0, ai__max_text_length=100_000)
    text = ("é😀\ud800x" * 20_000)[:70_001]
    expected = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    assert cache.build_key(text, "summarize").split(":")[2] == expected


async def test_ai_text_tiers_counted_in_stats(clock: FakeClock) -> None:
    """Keys built, hits and misses are reported per small / medium / large / xlarge tier."""
    cache, _ = memory_ai(clock, ai__size_tiers={"small": 10, "medium": 20, "large": 30})
    keys = {n: cache.build_key("x" * n, "summarize") for n in (5, 15, 25, 35)}
    await cache.set(keys[15], RESPONSE)
    for key in keys.values():
        await cache.get(key)
    tiers = (await cache.get_cache_stats())["text_tiers"]
    assert [tiers[t]["keys_built"] for t in ("small", "medium", "large", "xlarge")] == [1, 1, 1, 1]
    assert (tiers["medium"]["hits"], tiers["medium"]["tokens_saved"]) == (1, 1500)
    assert [tiers[t]["misses"] for t in ("small", "large", "xlarge")] == [1, 1, 1]


# -- TTLs ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("operation", "ttl"),
    [
        ("summarize", 1800),
        ("sentiment", 900),
        ("key_points", 1200),
        ("questions", 1500),
        ("qa", 900),
    ],
)
async def test_ai_set_uses_operation_ttl(clock: FakeClock, operation: str, ttl: int) -> None:
    """Without ``ttl`` an entry lives its operation's TTL from ``ai.operation_ttls``."""
    cache, memory = memory_ai(clock)
    key = cache.build_key("doc", operation, question="q?" if operation == "qa" else None)
    await cache.set(key, RESPONSE)
    assert await memory.get_ttl(key) == ttl
    clock.advance(ttl - 1)
    assert await cache.get(key) == RESPONSE
    clock.advance(1)
    assert await cache.get(key) is None


async def test_ai_set_ttl_fallbacks_and_explicit_ttl(clock: FakeClock) -> None:
    """Unknown operations and foreign keys get the default TTL; an explicit ttl wins."""
    cache, memory = memory_ai(clock)
    unknown = cache.build_key("doc", "translate")
    await cache.set(unknown, "x")
    await cache.set("user:1", "y")
    explicit = cache.build_key("doc", "summarize")
    await cache.set(explicit, "z", ttl=42)
    assert (cache.operation_ttl("summarize"), cache.operation_ttl("translate")) == (1800, 600)
    assert await memory.get_ttl(unknown) == 600
    assert await memory.get_ttl("user:1") == 600
    assert await memory.get_ttl(explicit) == 42
    with pytest.raises(CacheValueError):
        await cache.set(explicit, "z", ttl=0)


async def test_ai_set_many_groups_by_operation_ttl(clock: FakeClock) -> None:
    """``set_many`` without ttl gives each entry its own operation's TTL."""
    cache, memory = memory_ai(clock)
    a, b = cache.build_key("d", "summarize"), cache.build_key("d", "sentiment")
    await cache.set_many({a: 1, b: 2, "plain": 3})
    assert [await memory.get_ttl(k) for k in (a, b, "plain")] == [1800, 900, 600]
    assert await cache.get_many([a, b, "nope"]) == {a: 1, b: 2}
    stats = await cache.get_cache_stats()
    assert (stats["hits"], stats["misses"], stats["sets"]) == (2, 1, 3)


async def test_ai_operation_ttls_reach_fakeredis() -> None:
    """On a Redis stack (fakeredis) each ai-production operation's PTTL is its table TTL."""
    client = fakeredis.FakeAsyncRedis()
    cache = resolve(
        ai_config("ai-production", redis__url="redis://127.0.0.1:6390/0"), redis_client=client
    )
    assert isinstance(cache, AIResponseCache)
    for operation, ttl in cache.operation_ttls.items():
        key = cache.build_key("doc", operation)
        await cache.set(key, RESPONSE)
        pttl = await client.pttl(cache.config.key_prefix + key)  # type: ignore[union-attr]
        assert ttl * 1000 - 2000 < pttl <= ttl * 1000


# -- no caching of failures --------------------------------------------------------------
async def test_ai_set_not_cacheable_stores_nothing(clock: FakeClock) -> None:
    """``cacheable=False`` and ``Uncacheable`` values are counted but never stored."""
    cache, memory = memory_ai(clock)
    key = cache.build_key("doc", "summarize")
    await cache.set(key, {"result": "fallback"}, cacheable=False)
    await cache.set(key, Uncacheable({"result": "fallback"}))
    await cache.set_many({key: Uncacheable("x")})
    assert memory.size() == 0
    assert (await cache.get_cache_stats())["operations"]["summarize"]["uncacheable"] == 3


async def test_ai_get_or_set_uncacheable_loader_result(clock: FakeClock) -> None:
    """A loader's ``Uncacheable`` answer is returned, not stored; the next call loads again."""
    cache, _ = memory_ai(clock)
    key = cache.build_key("doc", "sentiment")
    calls = []

    async def failing() -> Any:
        calls.append(1)
        return Uncacheable({"result": "neutral", "degraded": True})

    assert await cache.get_or_set(key, failing) == {"result": "neutral", "degraded": True}
    assert await cache.get_or_set(key, lambda: RESPONSE) == RESPONSE
    assert await cache.get_or_set(key, failing) == RESPONSE
    assert len(calls) == 1


# -- savings ---------------------------------------------------------------------------
async def test_ai_hits_count_tokens_and_cost(clock: FakeClock) -> None:
    """Each hit adds the response's usage to tokens saved and prices it by its model."""
    prices = {
        "m1": {"prompt": 0.5, "completion": 1.0},
        "default": {"prompt": 0.1, "completion": 0.1},
    }
    cache, _ = memory_ai(clock, ai__prices=prices)
    key = cache.build_key("doc", "summarize")
    other = cache.build_key("doc", "qa", question="q")
    await cache.set(key, RESPONSE)
    await cache.set(other, {**RESPONSE, "model": "unlisted"})
    for _ in range(2):
        await cache.get(key)
    await cache.get(other)
    stats = await cache.get_cache_stats()
    assert stats["prompt_tokens_saved"] == 3600
    assert stats["completion_tokens_saved"] == 900
    assert stats["tokens_saved"] == 4500
    assert stats["operations"]["summarize"]["cost_saved"] == pytest.approx(2 * 0.9)
    assert stats["operations"]["qa"]["cost_saved"] == pytest.approx(0.15)


async def test_ai_savings_ignore_responses_without_usage(clock: FakeClock) -> None:
    """Hits on values without (valid) usage count as hits that saved no tokens."""
    cache, _ = memory_ai(clock, ai__prices={"default": {"prompt": 1.0, "completion": 1.0}})
    values = ["text", {"usage": {"prompt_tokens": "12", "completion_tokens": True}}, [1, 2]]
    for i, value in enumerate(values):
        key = cache.build_key(str(i), "summarize")
        await cache.set(key, value)
        assert await cache.get(key) == value
    stats = await cache.get_cache_stats()
    assert (stats["hits"], stats["tokens_saved"], stats["cost_saved"]) == (3, 0, 0.0)


class Usage(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int


class Answer(msgspec.Struct):
    result: str
    model: str
    usage: Usage


async def test_ai_savings_read_typed_values(clock: FakeClock) -> None:
    """A typed read (msgspec Struct) is searched by attribute along the same paths."""
    cache, _ = memory_ai(clock, ai__prices={"m1": {"prompt": 1.0, "completion": 0.0}})
    key = cache.build_key("doc", "summarize")
    await cache.set(key, Answer("s", "m1", Usage(1000, 10)))
    assert await cache.get(key, type=Answer) == Answer("s", "m1", Usage(1000, 10))
    stats = await cache.get_cache_stats()
    assert (stats["tokens_saved"], stats["cost_saved"]) == (1010, 1.0)


async def test_ai_get_or_set_estimates_time_saved(clock: FakeClock) -> None:
    """Hits after a timed load add the operation's mean load time to ``seconds_saved``."""
    cache, _ = memory_ai(clock)
    key = cache.build_key("doc", "summarize")

    async def slow() -> dict[str, Any]:
        clock.advance(2.5)
        return RESPONSE

    await cache.get_or_set(key, slow)
    await cache.get_or_set(key, slow)
    await cache.get(key)
    stats = await cache.get_cache_stats()
    assert stats["operations"]["summarize"]["loads"] == 1
    assert stats["seconds_saved"] == pytest.approx(5.0)
    cache.reset_stats()
    assert (await cache.get_cache_stats())["hits"] == 0


# -- invalidation ----------------------------------------------------------------------
async def fill(cache: AIResponseCache) -> dict[str, list[str]]:
    """Three entries for each of three operations plus one foreign key; keys by operation."""
    keys: dict[str, list[str]] = {}
    for operation in ("summarize", "sentiment", "qa"):
        keys[operation] = [cache.build_key(f"doc {i}", operation) for i in range(3)]
        for key in keys[operation]:
            await cache.set(key, RESPONSE)
    await cache.set("user:1", "kept")
    return keys


async def test_ai_invalidate_by_operation_memory_only(clock: FakeClock) -> None:
    """On a memory-only stack only the operation's entries go; the rest stay."""
    cache, _ = memory_ai(clock)
    keys = await fill(cache)
    assert await cache.invalidate_by_operation("sentiment") == 3
    assert [await cache.get(k) for k in keys["sentiment"]] == [None] * 3
    for key in keys["summarize"] + keys["qa"]:
        assert await cache.get(key) == RESPONSE
    assert await cache.get("user:1") == "kept"
    stats = (await cache.get_cache_stats())["invalidations"]
    assert (stats["operation"], stats["keys_removed"]) == (1, 3)


async def test_ai_invalidate_by_operation_rejects_glob_names(clock: FakeClock) -> None:
    """An operation name holding glob characters is refused, not used as a pattern."""
    cache, _ = memory_ai(clock)
    await fill(cache)
    for name in ("*", "sum*", "s?mmarize", "[s]ummarize", ""):
        with pytest.raises(CacheValueError, match="operation name"):
            await cache.invalidate_by_operation(name)
    assert (await cache.get_cache_stats())["memory"]["entries"] == 10


@pytest.mark.parametrize("kind", ["memory", "tiered"])
async def test_ai_invalidate_pattern_is_literal(kind: str, clock: FakeClock) -> None:
    """``*``, ``?``, ``[`` and ``\\`` in the pattern match only themselves."""
    if kind == "memory":
        cache, _ = memory_ai(clock)
    else:
        config = ai_config(redis__url="redis://127.0.0.1:6390/0", memory__enabled=True)
        stack = resolve(config, redis_client=fakeredis.FakeAsyncRedis())
        assert isinstance(stack, AIResponseCache)
        cache = stack
    literal = ["ai:op:a*b:none", "ai:op:a?b:none", "ai:op:a[b]c:none", "ai:op:a\\b:none"]
    decoys = ["ai:op:aXXb:none", "ai:op:aXb:none", "ai:op:abc:none", "ai:op:ab:none"]
    for key in literal + decoys:
        await cache.set(key, "v")
    await fill(cache)
    for pattern, key in zip(["a*b", "a?b", "a[b]c", "a\\b"], literal, strict=True):
        assert await cache.invalidate_pattern(pattern) == 1
        assert await cache.get(key) is None
    for pattern in ("*", "?", "[a-f]*", "[", "]"):
        assert await cache.invalidate_pattern(pattern) == 0
    for key in decoys:
        assert await cache.get(key) == "v"
    assert await cache.get("user:1") == "kept"


async def test_ai_invalidate_pattern_substring_and_all(clock: FakeClock) -> None:
    """A plain pattern removes AI keys containing it; ``invalidate_all`` every AI key only."""
    cache, _ = memory_ai(clock)
    keys = await fill(cache)
    assert await cache.invalidate_pattern("qa:") == 3
    with pytest.raises(CacheValueError, match="invalidate_all"):
        await cache.invalidate_pattern("")
    assert await cache.invalidate_all() == 6
    assert await cache.get(keys["summarize"][0]) is None
    assert await cache.get("user:1") == "kept"
    await cache.clear()
    assert await cache.get("user:1") is None


async def test_ai_tiered_invalidation_keeps_other_memory_entries() -> None:
    """On memory-in-front-of-Redis, invalidation drops only the matching memory copies."""
    client = fakeredis.FakeAsyncRedis()
    config = ai_config(redis__url="redis://127.0.0.1:6390/0", memory__coherence="local")
    cache = resolve(config, redis_client=client)
    assert isinstance(cache, AIResponseCache)
    keys = await fill(cache)
    await cache.invalidate_by_operation("qa")
    await client.flushall()  # what is left can only come from the memory tier
    assert await cache.get(keys["summarize"][0]) == RESPONSE
    assert await cache.get(keys["qa"][0]) is None


async def test_ai_delete_matching_on_other_layers() -> None:
    """NullCache removes nothing; a backend without pattern support says so."""

    class Bare(NullCache):
        delete_matching = CacheInterface.delete_matching

    assert await NullCache().delete_matching("*") == 0
    with pytest.raises(NotImplementedError, match="Bare"):
        await AIResponseCache(inner=Bare()).invalidate_all()


async def test_ai_invalidations_and_key_timing_reach_the_monitor() -> None:
    """The stack's monitor sees each invalidation (user patterns only as a digest) and
    counts every key generation."""
    cache = resolve(ai_config())
    assert isinstance(cache, AIResponseCache) and cache.monitor is not None
    keys = await fill(cache)
    await cache.invalidate_by_operation("qa")
    await cache.invalidate_pattern("customer-42")
    await cache.invalidate_all()
    stats = cache.monitor.get_invalidation_frequency_stats()
    assert stats["patterns"]["by_kind"] == {"operation": 1, "pattern": 1, "all": 1}
    assert stats["efficiency"]["total_keys_invalidated"] == 9
    labels = [p["pattern"] for p in stats["patterns"]["most_common"]]
    assert "operation:qa" in labels and "all" in labels
    assert "customer-42" not in repr(stats)
    timing = cache.monitor.get_performance_stats()["key_generation"]
    assert timing["count"] == sum(len(v) for v in keys.values())
    own = CachePerformanceMonitor()
    direct = AIResponseCache(inner=InMemoryCache(), performance_monitor=own)
    direct.build_key("t", "qa")
    assert own.get_performance_stats()["key_generation"]["count"] == 1


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("a*", ["a", "abc", "a\nb"], ["b", "ba"]),
        ("a?c", ["abc", "a-c"], ["ac", "abbc"]),
        ("[ab]x", ["ax", "bx"], ["cx", "abx"]),
        ("[^ab]x", ["cx"], ["ax", "x"]),
        ("[c-a]", ["a", "b", "c"], ["d"]),
        ("a\\*", ["a*"], ["ab"]),
        ("[\\]]", ["]"], ["\\"]),
        ("[]", [], ["", "a"]),
        ("x[ab", ["xa", "xb"], ["x", "xab"]),
        ("A*", ["Ab"], ["ab"]),
        ("??", ["é", "ab"], ["a", "abc"]),
    ],
)
def test_glob_matcher_follows_redis_rules(
    pattern: str, matches: list[str], misses: list[str]
) -> None:
    """The memory tier's glob matcher agrees with Redis's documented matching rules."""
    match = glob_matcher(pattern)
    assert [match(key_bytes(s)) for s in matches] == [True] * len(matches)
    assert [match(key_bytes(s)) for s in misses] == [False] * len(misses)


# -- construction and wiring -----------------------------------------------------------
def test_ai_resolve_puts_ai_layer_outermost() -> None:
    """``resolve`` returns an AIResponseCache when ``ai.enabled``, and only then."""
    ai = resolve(ai_config())
    assert isinstance(ai, AIResponseCache)
    assert not isinstance(ai.inner, AIResponseCache)
    assert not isinstance(
        resolve(CacheConfigBuilder().with_preset("development").build()), AIResponseCache
    )


def test_ai_factory_for_ai_app_returns_ai_cache() -> None:
    """``CacheFactory.for_ai_app`` gives an AI cache with its operation TTLs applied."""
    cache = CacheFactory.for_ai_app(redis_url="redis://127.0.0.1:6390", operation_ttls={"qa": 60})
    assert isinstance(cache, AIResponseCache)
    assert cache.operation_ttls["qa"] == 60
    assert cache.operation_ttls["summarize"] == 14400


def test_ai_flat_parameters_override_the_preset() -> None:
    """The original's parameters land in the config; the rest comes from the preset."""
    cache = AIResponseCache(
        "redis://127.0.0.1:6390/2",
        default_ttl=99,
        text_hash_threshold=7,
        text_size_tiers={"small": 1, "medium": 2, "large": 3},
        memory_cache_size=11,
        operation_ttls={"summarize": 5},
        hash_algorithm=hashlib.sha512,
    )
    config = cache.config
    assert config is not None
    assert (config.redis.url, config.ttl.default, config.memory.max_entries) == (
        "redis://127.0.0.1:6390/2",
        99,
        11,
    )
    assert (cache.text_hash_threshold, cache.text_size_tiers["large"]) == (7, 3)
    # A name-keyed table merges leaf-wise: the other operations keep the preset's TTLs.
    assert cache.operation_ttls == {
        "summarize": 5,
        "sentiment": 7200,
        "key_points": 10800,
        "questions": 9600,
        "qa": 7200,
    }
    assert cache.key_generator is not None and cache.key_generator.hash_algorithm == "sha512"
    assert config.preset == "ai-production"


def test_ai_constructor_rejects_bad_input() -> None:
    """Mixed construction modes, weak hashes and invalid values fail clearly."""
    with pytest.raises(TypeError, match="either inner=/config="):
        AIResponseCache(inner=InMemoryCache(), default_ttl=5)
    with pytest.raises(CacheValueError, match="md5"):
        AIResponseCache(hash_algorithm=hashlib.md5, preset="testing")
    with pytest.raises(CacheConfigError, match=r"memory\.max_entries"):
        AIResponseCache(memory_cache_size=-1)
    with pytest.raises(CacheConfigError, match="unknown key"):
        AIResponseCache(operation_ttl={"qa": 1})


async def test_ai_wrapping_a_plain_cache_uses_preset_ai_settings() -> None:
    """An AI layer over a cache without config takes ai-production's AI section."""
    cache = AIResponseCache(inner=InMemoryCache(default_ttl=30))
    assert cache.config is None
    assert cache.operation_ttls["summarize"] == 14400
    key = cache.build_key("d", "summarize")
    await cache.set(key, "v")
    assert await cache.get(key) == "v"
    assert repr(cache) == "AIResponseCache(preset=None, inner=InMemoryCache)"
    assert (await cache.get_cache_stats())["backend"] == "AIResponseCache > InMemoryCache"


# -- the example service -----------------------------------------------------------------
async def test_ai_example_service_caches_and_saves() -> None:
    """Five operations miss then hit; the model is called once per distinct request."""
    llm = StandInLLM(latency=0)
    service = TextProcessorService(settings=TextProcessorSettings(), llm=llm)
    text = "Caching is good. Outages are bad. Tokens cost money."
    calls = [
        service.summarize(text),
        service.sentiment(text),
        service.key_points(text),
        service.questions(text),
        service.qa(text, "What costs money?"),
    ]
    first = [await c for c in calls]
    second = [
        await service.summarize(text),
        await service.sentiment(text),
        await service.key_points(text),
        await service.questions(text),
        await service.qa(text, "What costs money?"),
    ]
    assert [r.cache_hit for r in first + second] == [False] * 5 + [True] * 5
    assert [r.result for r in first] == [r.result for r in second]
    assert first[1].result["sentiment"] == "neutral"
    assert first[4].result == "Tokens cost money."
    assert llm.calls == 5
    stats = await service.cache.get_cache_stats()
    assert stats["tokens_saved"] == sum(sum(r.usage.values()) for r in first) > 0


async def test_ai_example_service_single_flight_and_validation() -> None:
    """Concurrent identical requests share one model call; bad requests are refused."""
    llm = StandInLLM(latency=0.05)
    service = TextProcessorService(cache=InMemoryCache(), llm=llm)
    results = await asyncio.gather(*[service.summarize("same text") for _ in range(5)])
    assert llm.calls == 1
    assert sum(not r.cache_hit for r in results) == 1
    assert isinstance(service.cache, AIResponseCache)
    with pytest.raises(ValueError, match="unknown operation"):
        await service.process_text("t", "translate")
    with pytest.raises(ValueError, match="question"):
        await service.process_text("t", "qa")


async def test_ai_example_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo shows misses, hits, savings, invalidation and an uncached fallback."""
    from examples.text_processor.demo import main

    result = await main(latency=0)
    out = capsys.readouterr().out
    assert "MISS" in out and "HIT" in out and "FALLBACK" in out
    assert [r.cache_hit for r in result["second"]] == [True] * 5
    assert result["stats"]["hits"] == 5
    assert result["stats"]["tokens_saved"] > 0 and result["stats"]["cost_saved"] > 0
    assert result["removed"] == 1
    assert result["after_invalidation"].cache_hit is False
    down, back = result["outage"]
    assert (down.degraded, back.degraded, back.cache_hit) == (True, False, False)
    assert result["model_calls"] == 8
