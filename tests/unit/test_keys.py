"""Tests of AI cache keys: collision-free, bounded, canonical in their options."""

from __future__ import annotations

import datetime
import re
import uuid
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cachekit.config.model import AIConfig, SizeTiers, TokenFields
from cachekit.errors import CacheValueError
from cachekit.keys import NO_OPTIONS, CacheKeyGenerator

KEY_SHAPE = re.compile(r"ai:[A-Za-z0-9_.-]{1,64}:[0-9a-f]{32}:(?:[0-9a-f]{16}|none)")
MAX_KEY_LENGTH = 120


@pytest.fixture
def keys() -> CacheKeyGenerator:
    """A generator with default settings."""
    return CacheKeyGenerator()


def test_keys_separator_characters_do_not_collide(keys: CacheKeyGenerator) -> None:
    """ "a|b", "a:b" and "a_b" give three different keys (they shared one in the original)."""
    generated = {keys.generate_cache_key(text, "summarize") for text in ("a|b", "a:b", "a_b")}
    assert len(generated) == 3


def test_keys_have_fixed_shape_without_user_text(keys: CacheKeyGenerator) -> None:
    """A key is ``ai:{operation}:{32 hex}:{16 hex or none}`` and holds none of the text."""
    key = keys.generate_cache_key("Document to process", "summarize", {"max_length": 100})
    assert KEY_SHAPE.fullmatch(key)
    assert key.startswith("ai:summarize:")
    assert "Document" not in key
    assert keys.generate_cache_key("Document to process", "summarize").endswith(":none")


def test_keys_large_text_gives_short_key(keys: CacheKeyGenerator) -> None:
    """A 1 MB text gives a key shorter than 120 characters."""
    key = keys.generate_cache_key("x" * 1_000_000, "summarize", {"max_length": 100})
    assert len(key) < MAX_KEY_LENGTH
    assert KEY_SHAPE.fullmatch(key)


def test_keys_longest_operation_stays_bounded(keys: CacheKeyGenerator) -> None:
    """Even a 64-character operation name keeps the key under 120 characters."""
    key = keys.generate_cache_key("text", "o" * 64, {"question": "q" * 10_000})
    assert len(key) < MAX_KEY_LENGTH


def test_keys_nested_option_order_does_not_matter(keys: CacheKeyGenerator) -> None:
    """Options equal as data give one key whatever the order of their (nested) keys."""
    first = keys.generate_cache_key("t", "qa", {"a": {"x": 1, "y": 2}, "b": [1, {"p": 0, "q": 1}]})
    second = keys.generate_cache_key("t", "qa", {"b": [1, {"q": 1, "p": 0}], "a": {"y": 2, "x": 1}})
    assert first == second


def test_keys_option_mappings_and_tuples_are_canonical(keys: CacheKeyGenerator) -> None:
    """Any mapping type and tuples give the key of the equal dict and list."""
    plain = keys.generate_cache_key("t", "qa", {"a": [1, 2]})
    assert keys.generate_cache_key("t", "qa", MappingProxyType({"a": (1, 2)})) == plain


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"max_length": 100}, {"max_length": 101}),
        ({"max_length": 100}, {"max_len": 100}),
        ({"flag": True}, {"flag": 1}),
        ({"n": 1}, {"n": 1.0}),
        ({"n": 0.0}, {"n": -0.0}),
        ({"v": None}, {"v": "null"}),
        ({"v": "1"}, {"v": 1}),
        ({"a": {"x": 1}}, {"a": {"x": 2}}),
        ({"a": [1, 2]}, {"a": [2, 1]}),
        ({"a": "b", "c": "d"}, {"a": "b,c", "": "d"}),
    ],
)
def test_keys_different_option_values_differ(
    keys: CacheKeyGenerator, first: dict[str, Any], second: dict[str, Any]
) -> None:
    """Options that differ as JSON data give different keys."""
    assert keys.generate_cache_key("t", "qa", first) != keys.generate_cache_key("t", "qa", second)


def test_keys_no_options_differs_from_any_options(keys: CacheKeyGenerator) -> None:
    """``None`` and empty options share the fixed marker, distinct from every option set."""
    bare = keys.generate_cache_key("t", "qa")
    assert (
        bare == keys.generate_cache_key("t", "qa", {}) == keys.generate_cache_key("t", "qa", None)
    )
    assert bare.endswith(":" + NO_OPTIONS)
    assert bare != keys.generate_cache_key("t", "qa", {"question": None})
    assert bare != keys.generate_cache_key("t", "qa", {"": ""})


def test_keys_question_argument_equals_question_option(keys: CacheKeyGenerator) -> None:
    """A question passed as an argument gives the key of the same question in options."""
    in_options = keys.generate_cache_key("doc", "qa", {"question": "Why?", "k": 3})
    as_argument = keys.generate_cache_key("doc", "qa", {"k": 3}, question="Why?")
    assert in_options == as_argument
    assert keys.generate_cache_key("doc", "qa", question="Why?") == keys.generate_cache_key(
        "doc", "qa", {"question": "Why?"}
    )
    assert as_argument != keys.generate_cache_key("doc", "qa", {"k": 3}, question="How?")


def test_keys_conflicting_questions_raise(keys: CacheKeyGenerator) -> None:
    """Different questions in options and as an argument raise ``CacheValueError``."""
    with pytest.raises(CacheValueError, match="question"):
        keys.generate_cache_key("doc", "qa", {"question": "Why?"}, question="How?")
    same = keys.generate_cache_key("doc", "qa", {"question": "Why?"}, question="Why?")
    assert same == keys.generate_cache_key("doc", "qa", {"question": "Why?"})


def test_keys_operations_differ(keys: CacheKeyGenerator) -> None:
    """The same text and options under two operations give two keys."""
    assert keys.generate_cache_key("t", "summarize") != keys.generate_cache_key("t", "sentiment")


@pytest.mark.parametrize(
    "operation", ["", "a b", "sum:marize", "sum*", "q?", "[x]", "é", "o" * 65, "a\n"]
)
def test_keys_bad_operation_raises(keys: CacheKeyGenerator, operation: str) -> None:
    """An operation name outside ``[A-Za-z0-9_.-]{1,64}`` raises ``CacheValueError``."""
    with pytest.raises(CacheValueError, match="operation name") as info:
        keys.generate_cache_key("t", operation)
    assert len(str(info.value)) < 200
    with pytest.raises(CacheValueError):
        keys.operation_prefix(operation)


def test_keys_non_str_operation_raises(keys: CacheKeyGenerator) -> None:
    """An operation that is not a string raises ``CacheValueError``."""
    with pytest.raises(CacheValueError, match="operation name"):
        keys.generate_cache_key("t", 3)  # type: ignore[arg-type]


def test_keys_operation_prefix_starts_every_key(keys: CacheKeyGenerator) -> None:
    """``operation_prefix`` is the start of every key of that operation and only of it."""
    prefix = keys.operation_prefix("summarize")
    assert prefix == "ai:summarize:"
    assert keys.generate_cache_key("any", "summarize", {"a": 1}).startswith(prefix)
    assert not keys.generate_cache_key("any", "summarize2").startswith(prefix)


def test_keys_text_over_max_length_raises() -> None:
    """Text longer than ``max_text_length`` raises ``CacheValueError`` naming both numbers."""
    keys = CacheKeyGenerator(max_text_length=10)
    assert keys.generate_cache_key("x" * 10, "summarize")
    with pytest.raises(CacheValueError, match=r"11 characters.*limit of 10"):
        keys.generate_cache_key("x" * 11, "summarize")


def test_keys_non_str_text_raises(keys: CacheKeyGenerator) -> None:
    """Text that is not a string raises ``CacheValueError`` naming its type."""
    with pytest.raises(CacheValueError, match="'bytes'"):
        keys.generate_cache_key(b"text", "summarize")  # type: ignore[arg-type]


def test_keys_any_str_hashes_including_lone_surrogates(keys: CacheKeyGenerator) -> None:
    """Strings with lone surrogates hash, and differ from the pair they resemble."""
    lone = keys.generate_cache_key("\ud83d\ude00", "summarize")
    paired = keys.generate_cache_key("\U0001f600", "summarize")
    assert lone != paired


def test_keys_normalize_whitespace_on_and_off() -> None:
    """With normalization, whitespace runs and edges do not change the key; without, they do."""
    normalizing = CacheKeyGenerator(normalize_whitespace=True)
    exact = CacheKeyGenerator()
    texts = ["hello world", "  hello \t\n world  ", "hello\u00a0\u2003world"]
    assert len({normalizing.generate_cache_key(t, "summarize") for t in texts}) == 1
    assert len({exact.generate_cache_key(t, "summarize") for t in texts}) == 3
    assert normalizing.generate_cache_key("helloworld", "summarize") != (
        normalizing.generate_cache_key("hello world", "summarize")
    )


@pytest.mark.parametrize(
    ("length", "tier"),
    [
        (0, "small"),
        (99, "small"),
        (100, "medium"),
        (499, "medium"),
        (500, "large"),
        (999, "large"),
        (1000, "xlarge"),
        (10**6, "xlarge"),
    ],
)
def test_keys_text_tier_boundaries(length: int, tier: str) -> None:
    """Each tier bound is exclusive: a text of exactly that length falls in the next tier."""
    assert CacheKeyGenerator(size_tiers=(100, 500, 1000)).text_tier("x" * length) == tier


def test_keys_default_tiers() -> None:
    """The default tiers are 1000 / 5000 / 25000 characters."""
    keys = CacheKeyGenerator()
    assert [keys.text_tier("x" * n) for n in (999, 1000, 5000, 25000)] == [
        "small",
        "medium",
        "large",
        "xlarge",
    ]


def test_keys_from_config_reads_ai_settings() -> None:
    """``from_config`` takes threshold, tiers, limit and normalization from ``AIConfig``."""
    ai = AIConfig(
        enabled=True,
        text_hash_threshold=500,
        size_tiers=SizeTiers(small=500, medium=2000, large=10000),
        max_text_length=50_000,
        normalize_whitespace=True,
        operation_ttls={"summarize": 1800},
        token_fields=TokenFields(prompt="", completion="", model=""),
        prices={},
    )
    keys = CacheKeyGenerator.from_config(ai)
    assert keys.text_hash_threshold == 500
    assert keys.size_tiers == (500, 2000, 10000)
    assert keys.max_text_length == 50_000
    assert keys.normalize_whitespace is True
    assert keys.text_tier("x" * 500) == "medium"
    with pytest.raises(CacheValueError):
        keys.generate_cache_key("x" * 50_001, "summarize")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hash_algorithm": "md5"},
        {"hash_algorithm": "crc32"},
        {"text_hash_threshold": -1},
        {"max_text_length": 0},
        {"size_tiers": (100, 100, 200)},
        {"size_tiers": (0, 10, 20)},
        {"size_tiers": (300, 200, 100)},
    ],
)
def test_keys_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    """Weak hashes, negative limits and non-increasing tiers raise ``CacheValueError``."""
    with pytest.raises(CacheValueError):
        CacheKeyGenerator(**kwargs)


def test_keys_hash_algorithm_changes_keys() -> None:
    """Another cryptographic hash gives another, equally bounded key."""
    sha = CacheKeyGenerator().generate_cache_key("t", "qa", {"a": 1})
    blake = CacheKeyGenerator(hash_algorithm="blake2b").generate_cache_key("t", "qa", {"a": 1})
    assert sha != blake
    assert KEY_SHAPE.fullmatch(blake)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"when": datetime.date(2025, 1, 1)}, "'date'"),
        ({"id": uuid.uuid4()}, "'UUID'"),
        ({"raw": b"YQ=="}, "'bytes'"),
        ({"s": {1, 2}}, "'set'"),
        ({"nested": {"deep": [object()]}}, "'object'"),
        ({"n": float("nan")}, "nan"),
        ({"n": float("inf")}, "inf"),
        ({"d": {1: "a"}}, "'int'"),
    ],
)
def test_keys_non_json_options_raise(
    keys: CacheKeyGenerator, options: dict[str, Any], name: str
) -> None:
    """Option values that are not plain JSON raise ``CacheValueError`` naming the type."""
    with pytest.raises(CacheValueError, match=name):
        keys.generate_cache_key("t", "qa", options)


def test_keys_non_mapping_options_raise(keys: CacheKeyGenerator) -> None:
    """Options that are not a mapping raise ``CacheValueError``."""
    with pytest.raises(CacheValueError, match="mapping"):
        keys.generate_cache_key("t", "qa", [("a", 1)])  # type: ignore[arg-type]


def test_keys_repr_shows_settings() -> None:
    """The repr names the hash and the limits."""
    assert "sha256" in repr(CacheKeyGenerator(max_text_length=5))


# -- properties ---------------------------------------------------------------------------------

OPERATION = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=10,
)
OPTIONS = st.none() | st.dictionaries(st.text(max_size=6), JSON_VALUE, min_size=1, max_size=4)
TRIPLE = st.tuples(st.text(max_size=30), OPERATION, OPTIONS)


@given(first=TRIPLE, second=TRIPLE)
@settings(max_examples=500, deadline=None)
def test_keys_distinct_inputs_give_distinct_keys(
    first: tuple[str, str, dict[str, Any] | None], second: tuple[str, str, dict[str, Any] | None]
) -> None:
    """Two different (text, operation, options) triples never share a key."""
    assume(first != second)
    keys = CacheKeyGenerator()
    assert keys.generate_cache_key(*first) != keys.generate_cache_key(*second)


@given(triple=TRIPLE)
@settings(max_examples=300, deadline=None)
def test_keys_equal_inputs_give_equal_bounded_keys(
    triple: tuple[str, str, dict[str, Any] | None],
) -> None:
    """A triple always gives the same key, of the fixed shape and under 120 characters."""
    key = CacheKeyGenerator().generate_cache_key(*triple)
    assert key == CacheKeyGenerator().generate_cache_key(*triple)
    assert KEY_SHAPE.fullmatch(key)
    assert len(key) < MAX_KEY_LENGTH


@given(text=st.text(max_size=200), data=st.data())
@settings(max_examples=200, deadline=None)
def test_keys_near_identical_texts_differ(text: str, data: st.DataObject) -> None:
    """Replacing one character of a text changes its key."""
    assume(text)
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c != text[index]))
    changed = text[:index] + replacement + text[index + 1 :]
    keys = CacheKeyGenerator()
    assert keys.generate_cache_key(text, "qa") != keys.generate_cache_key(changed, "qa")
