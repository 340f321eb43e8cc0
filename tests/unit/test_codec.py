"""Tests of the value codec: round trips, compression, envelope checks, hostile input."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import datetime
import decimal
import enum
import pickle
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypedDict

import lz4.frame  # type: ignore[import-untyped]
import msgspec
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from cachekit.backends.codec import ALGORITHM_IDS, DEFAULT_MAX_SIZE, Codec, CodecError
from cachekit.config.model import CompressionConfig
from cachekit.errors import CacheError, CacheValueError

ALGORITHMS = ["zlib", "zstd", "lz4"]
LEVELS = {"zlib": (0, 1, 6, 9), "zstd": (1, 3, 9, 22), "lz4": (0, 3, 16)}
PACKAGE = Path(__file__).resolve().parents[2] / "cachekit"
# Compressible text well above any threshold used below.
TEXT = "the cache stores the model response for the prompt and answers it later. " * 200


class Point(msgspec.Struct, frozen=True):
    x: int
    y: int


class Event(msgspec.Struct):
    id: uuid.UUID
    at: datetime.datetime
    day: datetime.date
    price: decimal.Decimal
    tags: set[str]
    where: tuple[int, int]


@dataclasses.dataclass
class Reply:
    text: str
    tokens: int


@dataclasses.dataclass
class Positive:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise KeyError("negative")


class Summary(TypedDict):
    summary: str
    score: float


class Colour(enum.Enum):
    RED = "red"


class Opaque:
    """A class MessagePack cannot carry."""


def header(data: bytes) -> tuple[bytes, int, int, int]:
    """Split an entry's envelope into magic, version, flags and algorithm id."""
    return data[:2], data[2], data[3], data[4]


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -1,
        2**63 - 1,
        -(2**63),
        2**64 - 1,
        1.5,
        -0.0,
        "",
        "héllo ✓ \U0001f600",
        b"",
        b"\x00\xff" * 10,
        [],
        [1, "two", 3.0, None],
        {},
        {"a": 1, "b": [1, 2, {"c": None}], "d": {"e": {"f": b"x"}}},
        {"summary": TEXT, "key_points": [TEXT[:100]] * 20},
        datetime.datetime(2025, 9, 1, 12, 30, tzinfo=datetime.UTC),
    ],
)
def test_codec_round_trips_plain_values(value: Any) -> None:
    """Plain values come back equal, uncompressed and compressed alike."""
    for codec in (Codec("none"), Codec("zlib", threshold=0), Codec("zstd", 3, 0)):
        assert codec.decode(codec.encode(value)) == value


def test_codec_untyped_decode_returns_builtin_forms() -> None:
    """Without a type, tuples and sets come back as lists and UUIDs as strings."""
    codec = Codec()
    ident = uuid.uuid4()
    assert codec.decode(codec.encode((1, 2))) == [1, 2]
    assert codec.decode(codec.encode({"s": {3}})) == {"s": [3]}
    assert codec.decode(codec.encode(ident)) == str(ident)
    assert codec.decode(codec.encode(Colour.RED)) == "red"
    assert codec.decode(codec.encode(Point(1, 2))) == {"x": 1, "y": 2}


def test_codec_typed_decode_restores_types() -> None:
    """A typed decode restores Structs, UUIDs, datetimes, dates, Decimals, sets and tuples."""
    codec = Codec(threshold=0)
    event = Event(
        id=uuid.uuid4(),
        at=datetime.datetime(2025, 9, 1, 12, 0, tzinfo=datetime.UTC),
        day=datetime.date(2025, 9, 1),
        price=decimal.Decimal("12.50"),
        tags={"a", "b"},
        where=(1, 2),
    )
    assert codec.decode(codec.encode(event), type=Event) == event
    assert codec.decode(codec.encode(uuid.UUID(int=7)), type=uuid.UUID) == uuid.UUID(int=7)
    assert codec.decode(codec.encode([Point(1, 2)]), type=list[Point]) == [Point(1, 2)]


def test_codec_typed_decode_supports_dataclasses_and_typeddicts() -> None:
    """Dataclasses and TypedDicts decode to their declared shapes."""
    codec = Codec()
    assert codec.decode(codec.encode(Reply("hi", 3)), type=Reply) == Reply("hi", 3)
    summary: Summary = {"summary": "s", "score": 0.5}
    assert codec.decode(codec.encode(summary), type=Summary) == summary


def test_codec_typed_decoder_built_once_per_type() -> None:
    """Decoding twice with one type builds its decoder once."""
    codec = Codec()
    data = codec.encode(Point(1, 2))
    codec.decode(data, type=Point)
    first = codec._typed[Point]
    codec.decode(data, type=Point)
    assert codec._typed[Point] is first
    assert len(codec._typed) == 1


def test_codec_decode_accepts_bytearray_and_memoryview() -> None:
    """Entries given as bytearray or memoryview decode like bytes."""
    for codec in (Codec("none"), Codec("zstd", 3, 0)):
        data = codec.encode({"summary": TEXT})
        assert codec.decode(bytearray(data)) == {"summary": TEXT}
        assert codec.decode(memoryview(data)) == {"summary": TEXT}
        assert codec.decode(memoryview(b"xx" + data)[2:]) == {"summary": TEXT}


def test_codec_decode_reads_entries_of_any_algorithm() -> None:
    """An entry decodes whatever algorithm the reading codec is configured with."""
    readers = [Codec(name) for name in ("none", *ALGORITHMS)]
    for name in ALGORITHMS:
        data = Codec(name, LEVELS[name][1], 0).encode(TEXT)
        for reader in readers:
            assert reader.decode(data) == TEXT


# -- the envelope and compression ---------------------------------------------------------------


def test_codec_encode_writes_versioned_envelope() -> None:
    """Every entry starts with the magic, format version 1, flags and algorithm id."""
    data = Codec().encode({"a": 1})
    assert header(data) == (b"ck", 1, 0, 0)
    assert data[5:] == msgspec.msgpack.encode({"a": 1})


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_codec_compresses_only_above_threshold(algorithm: str) -> None:
    """Payloads longer than the threshold are compressed; ones at the threshold are not."""
    value = "a" * 200
    size = len(msgspec.msgpack.encode(value))
    at = Codec(algorithm, LEVELS[algorithm][1], threshold=size).encode(value)
    below = Codec(algorithm, LEVELS[algorithm][1], threshold=size - 1).encode(value)
    assert header(at) == (b"ck", 1, 0, 0)
    assert header(below) == (b"ck", 1, 1, ALGORITHM_IDS[algorithm])
    assert len(below) < len(at)


@pytest.mark.parametrize(
    ("algorithm", "level"), [(name, level) for name in ALGORITHMS for level in LEVELS[name]]
)
def test_codec_each_level_round_trips(algorithm: str, level: int) -> None:
    """Every algorithm round-trips at each level, compressing unless the level only stores."""
    codec = Codec(algorithm, level, threshold=100)
    value = {"summary": TEXT, "n": level}
    data = codec.encode(value)
    if (algorithm, level) == ("zlib", 0):  # zlib level 0 stores: larger, so kept plain
        assert header(data)[2:] == (0, 0)
    else:
        assert header(data)[2:] == (1, ALGORITHM_IDS[algorithm])
        assert len(data) < len(TEXT) / 4
    assert codec.decode(data) == value


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_codec_keeps_incompressible_payload_plain(algorithm: str) -> None:
    """A payload that compression would not shrink is stored uncompressed."""
    noise = random.Random(1).randbytes(4096)
    codec = Codec(algorithm, LEVELS[algorithm][1], threshold=0)
    data = codec.encode(noise)
    assert header(data)[2:] == (0, 0)
    assert data[5:] == msgspec.msgpack.encode(noise)
    assert codec.decode(data) == noise


def test_codec_none_never_compresses() -> None:
    """The "none" algorithm stores every payload plain, whatever its size and level."""
    codec = Codec("none", level=6, threshold=0)
    data = codec.encode(TEXT)
    assert header(data)[2:] == (0, 0)
    assert codec.decode(data) == TEXT


def test_codec_encode_with_info_reports_lengths() -> None:
    """``encode_with_info`` returns what ``encode`` does plus encoded and stored lengths."""
    codec = Codec("zstd", 3, 100)
    value = {"summary": TEXT}
    data, raw, stored = codec.encode_with_info(value)
    assert data == codec.encode(value)
    assert raw == len(msgspec.msgpack.encode(value))
    assert stored == len(data) < raw


def test_codec_from_config_uses_compression_settings() -> None:
    """``from_config`` takes algorithm, level, threshold and the size cap from a
    ``CompressionConfig``; ``max_size`` overrides the cap."""
    config = CompressionConfig(algorithm="lz4", level=3, threshold=10, max_value_bytes=2**20)
    codec = Codec.from_config(config)
    assert (codec.algorithm, codec.level, codec.threshold) == ("lz4", 3, 10)
    assert codec.max_size == 2**20
    assert Codec.from_config(config, max_size=DEFAULT_MAX_SIZE).max_size == DEFAULT_MAX_SIZE
    assert header(codec.encode(TEXT))[3] == ALGORITHM_IDS["lz4"]
    assert "lz4" in repr(codec)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "brotli"}, "brotli"),
        ({"algorithm": "zlib", "level": 10}, "10"),
        ({"algorithm": "zstd", "level": 0}, "0"),
        ({"algorithm": "lz4", "level": 17}, "17"),
        ({"threshold": -1}, "-1"),
        ({"max_size": 0}, "max_size"),
    ],
)
def test_codec_rejects_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    """Unknown algorithms, out-of-range levels and negative sizes raise ``CacheValueError``."""
    with pytest.raises(CacheValueError, match=message):
        Codec(**kwargs)


def test_codec_encode_names_unsupported_type() -> None:
    """An unsupported value fails at encode with a ``TypeError`` naming its type."""
    codec = Codec()
    with pytest.raises(TypeError, match="cannot encode value of type 'Opaque'"):
        codec.encode(Opaque())
    with pytest.raises(TypeError, match="cannot encode value of type 'Opaque'"):
        codec.encode({"nested": [1, Opaque()]})
    with pytest.raises(TypeError, match="cannot encode value of type 'function'"):
        codec.encode(lambda: None)


def test_codec_encode_refuses_value_over_max_size() -> None:
    """A value whose encoding exceeds ``max_size`` is refused instead of stored unreadable."""
    codec = Codec("zstd", 3, 0, max_size=1000)
    with pytest.raises(CacheValueError, match="max_size"):
        codec.encode(TEXT)
    with pytest.raises(CacheValueError, match="max_size"):
        codec.encode_with_info(TEXT)


# -- hostile and broken entries -----------------------------------------------------------------


def _compressed_entry(algorithm: str, value: Any = TEXT) -> bytes:
    """A valid compressed entry of ``value``."""
    data = Codec(algorithm, LEVELS[algorithm][1], 0).encode(value)
    assert data[3] == 1
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "magic"),
        (b"c", "magic"),
        (b"GET /", "magic"),
        (b'{"summary": "json"}', "magic"),
        (pickle.dumps({"a": 1}), "magic"),
        (pickle.dumps({"a": 1}, protocol=0), "magic"),
        (msgspec.msgpack.encode({"a": 1}), "magic"),
        (b"ck", "truncated"),
        (b"ck\x01\x00", "truncated"),
        (b"ck\x02\x00\x00\xc0", "version 2"),
        (b"ck\x00\x00\x00\xc0", "version 0"),
        (b"ck\x01\x01\x07abc", "algorithm id 7"),
        (b"ck\x01\x00\x01\xc0", "flags"),
        (b"ck\x01\x01\x00\xc0", "flags"),
        (b"ck\x01\x02\x00\xc0", "flags"),
        (b"ck\x01\x03\x01\xc0", "flags"),
        (b"ck\x01\x00\x00", "payload"),
        (b"ck\x01\x00\x00\xc1", "payload"),
        (b"ck\x01\x00\x00\xc0\xc0", "payload"),
        (b"ck\x01\x00\x00" + pickle.dumps({"a": 1}), "payload"),
        (b"ck\x01\x00\x00" + b"\x91" * 100_000 + b"\xc0", "payload"),
        (b"ck\x01\x00\x00" + msgspec.msgpack.encode(msgspec.msgpack.Ext(5, b"x")), "extension"),
        (b"ck\x01\x01\x01not zlib", "zlib"),
        (b"ck\x01\x01\x02not zstd", "zstd"),
        (b"ck\x01\x01\x03not lz4", "lz4"),
    ],
)
def test_codec_decode_rejects_bad_entries(data: bytes, message: str) -> None:
    """Foreign, truncated, unversioned or corrupt bytes raise ``CodecError`` saying why."""
    with pytest.raises(CodecError, match=message) as info:
        Codec().decode(data)
    assert isinstance(info.value, CacheError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("data", ["ck\x01\x00\x00", None, 12, ["ck"]])
def test_codec_decode_rejects_non_bytes(data: Any) -> None:
    """Anything that is not bytes-like raises ``CodecError``, not ``TypeError``."""
    with pytest.raises(CodecError):
        Codec().decode(data)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_codec_decode_rejects_truncated_and_padded_bodies(algorithm: str) -> None:
    """A compressed body cut short, or followed by extra bytes, raises ``CodecError``."""
    codec = Codec()
    data = _compressed_entry(algorithm)
    for cut in (6, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(CodecError):
            codec.decode(data[:cut])
    with pytest.raises(CodecError, match=r"trailing|unused"):
        codec.decode(data + b"junk")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    with pytest.raises(CodecError):
        codec.decode(bytes(flipped))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_codec_decode_caps_decompressed_size(algorithm: str) -> None:
    """An entry that would decompress beyond ``max_size`` raises ``CodecError``."""
    bomb = _compressed_entry(algorithm, b"\x00" * 2_000_000)
    assert len(bomb) < 20_000
    with pytest.raises(CodecError, match="max_size"):
        Codec(max_size=1_000_000).decode(bomb)
    assert Codec(max_size=2_000_100).decode(bomb) == b"\x00" * 2_000_000


def test_codec_decode_caps_frames_without_declared_size() -> None:
    """zstd and lz4 frames that do not declare their size are capped while streaming."""
    payload = msgspec.msgpack.encode(b"\x00" * 2_000_000)
    zstd_body = zstandard.ZstdCompressor(write_content_size=False).compress(payload)
    lz4_body = lz4.frame.compress(payload, store_size=False)
    for algorithm_id, body in ((2, zstd_body), (3, lz4_body)):
        entry = b"ck\x01\x01" + bytes([algorithm_id]) + body
        with pytest.raises(CodecError):
            Codec(max_size=1_000_000).decode(entry)
        assert Codec().decode(entry) == b"\x00" * 2_000_000


def test_codec_decode_caps_lz4_frame_that_understates_its_size() -> None:
    """An lz4 frame declaring fewer bytes than it holds stops at the declared size."""
    payload = msgspec.msgpack.encode(b"\x00" * 2_000_000)
    compressor = lz4.frame.LZ4FrameCompressor()
    end_mark = b"\x00\x00\x00\x00"
    frame = compressor.begin(source_size=1000) + compressor.compress(payload) + end_mark
    with pytest.raises(CodecError, match="does not match"):
        Codec().decode(b"ck\x01\x01\x03" + frame)


def test_codec_typed_decode_failure_is_codec_error() -> None:
    """A payload that does not validate as the requested type raises ``CodecError``."""
    codec = Codec()
    with pytest.raises(CodecError, match="Expected"):
        codec.decode(codec.encode({"x": "not an int", "y": 2}), type=Point)
    with pytest.raises(CodecError, match="negative"):
        codec.decode(codec.encode({"value": -1}), type=Positive)


def test_codec_zstd_recovers_after_failure() -> None:
    """A failed zstd decode leaves the shared context usable for the next entry."""
    codec = Codec("zstd", 3, 0)
    good = codec.encode(TEXT)
    with pytest.raises(CodecError):
        codec.decode(good[: len(good) // 2])
    assert codec.decode(good) == TEXT
    assert codec.decode(codec.encode(TEXT + "!")) == TEXT + "!"


def test_codec_shared_between_threads() -> None:
    """One zstd codec encodes and decodes correctly from several threads at once."""
    codec = Codec("zstd", 3, 0)
    barrier = threading.Barrier(4)

    def work(n: int) -> bool:
        barrier.wait()
        values = [{"n": n, "i": i, "text": TEXT} for i in range(50)]
        return all(codec.decode(codec.encode(v)) == v for v in values)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(4)))


# -- properties ---------------------------------------------------------------------------------

JSON_LIKE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=64),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(), children),
    max_leaves=30,
)
ANY_CODEC = st.sampled_from(
    [Codec("none"), Codec("zlib", 6, 0), Codec("zstd", 3, 0), Codec("lz4", 0, 8)]
)


@given(value=JSON_LIKE, codec=ANY_CODEC)
@settings(max_examples=300, deadline=None)
def test_codec_round_trips_json_like_values(value: Any, codec: Codec) -> None:
    """Any JSON-like value decodes back equal, with every algorithm."""
    assert codec.decode(codec.encode(value)) == value


@given(data=st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_codec_decode_arbitrary_bytes_raises_only_codec_error(data: bytes) -> None:
    """Arbitrary bytes decode to a value or raise ``CodecError``, never anything else."""
    with contextlib.suppress(CodecError):
        Codec().decode(data)


@given(
    flags=st.integers(0, 3),
    algorithm=st.integers(0, 4),
    body=st.binary(max_size=300),
)
@settings(max_examples=500, deadline=None)
def test_codec_decode_arbitrary_bodies_raises_only_codec_error(
    flags: int, algorithm: int, body: bytes
) -> None:
    """Arbitrary bodies behind a valid magic and version only ever raise ``CodecError``."""
    with contextlib.suppress(CodecError):
        Codec().decode(b"ck\x01" + bytes([flags, algorithm]) + body)


@given(
    algorithm=st.sampled_from(ALGORITHMS),
    position=st.integers(min_value=0),
    xor=st.integers(1, 255),
    cut=st.integers(min_value=0),
)
@settings(max_examples=300, deadline=None)
def test_codec_decode_damaged_entries_raises_only_codec_error(
    algorithm: str, position: int, xor: int, cut: int
) -> None:
    """A valid compressed entry with a flipped byte or cut short only raises ``CodecError``."""
    entry = bytearray(_compressed_entry(algorithm, {"summary": TEXT[:2000], "n": 1}))
    entry[position % len(entry)] ^= xor
    for data in (bytes(entry), bytes(entry[: cut % len(entry)])):
        with contextlib.suppress(CodecError):
            Codec().decode(data)


# -- the package never unpickles ----------------------------------------------------------------

FORBIDDEN_MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "marshal", "shelve"}


def _imported_modules(tree: ast.AST) -> set[str]:
    """Top-level names of modules a syntax tree imports, statically or via import helpers."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in {"__import__", "import_module"} and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value.split(".")[0])
    return found


def test_codec_package_never_imports_pickle() -> None:
    """No module of the package imports pickle, marshal, shelve or a pickle variant."""
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 5
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            _imported_modules(ast.parse(path.read_text())) & FORBIDDEN_MODULES
        )
        for path in sources
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_codec_import_scan_detects_pickle() -> None:
    """The import scan itself finds every spelling of a pickle import."""
    tree = ast.parse(
        "import pickle\nfrom marshal import loads\nimport shelve as s\n"
        "__import__('dill')\nimportlib.import_module('cloudpickle')\n"
    )
    assert _imported_modules(tree) >= {"pickle", "marshal", "shelve", "dill", "cloudpickle"}
