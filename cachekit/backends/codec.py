"""The value codec: MessagePack inside a small versioned envelope, compressed above a threshold.

The design cachekit grows from pickled its values, so whoever could write to Redis could run
code in the application. MessagePack decoding builds plain data only (or the type the caller
names), so a hostile entry can at worst be unreadable: every problem with stored bytes is one
``CodecError``, which the caller turns into a miss.

Envelope (five bytes, then the payload)::

    offset 0-1  b"ck"   magic: tells cachekit entries from foreign data
    offset 2    1       format version
    offset 3    flags   bit 0: the payload is compressed; other bits must be clear
    offset 4    algo    0 none, 1 zlib, 2 zstd, 3 lz4 (0 exactly when not compressed)

The algorithm used is recorded per entry, so a codec decodes entries written with any
algorithm: changing the configured algorithm does not turn stored entries into misses.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar, overload

import lz4.frame  # type: ignore[import-untyped]
import msgspec
import zstandard

from cachekit.config.model import COMPRESSION_LEVELS, CompressionConfig
from cachekit.errors import CacheValueError, CodecError

__all__ = ["ALGORITHM_IDS", "DEFAULT_MAX_SIZE", "FORMAT_VERSION", "MAGIC", "Codec"]

T = TypeVar("T")

MAGIC: Final = b"ck"
FORMAT_VERSION: Final = 1
HEADER_SIZE: Final = 5
FLAG_COMPRESSED: Final = 0x01
ALGORITHM_IDS: Final[dict[str, int]] = {"none": 0, "zlib": 1, "zstd": 2, "lz4": 3}
# Largest payload decompression may produce: a few hundred bytes of zlib can expand to
# gigabytes, and a hostile entry must not be able to exhaust memory.
DEFAULT_MAX_SIZE: Final = 64 * 1024 * 1024

# Below this size copying the payload out of the envelope is cheaper than making a view.
_VIEW_MIN: Final = 4096
_PREFIX: Final = MAGIC + bytes([FORMAT_VERSION])
_PLAIN_HEADER: Final = _PREFIX + b"\x00\x00"
_ALGORITHM_NAMES: Final = {ident: name for name, ident in ALGORITHM_IDS.items()}


def _refuse(value: Any) -> NoReturn:
    """Encoder hook for types MessagePack cannot carry: fail with the offending type's name."""
    cls = type(value)
    raise TypeError(
        f"cannot encode value of type {cls.__qualname__!r} (module {cls.__module__!r}): "
        "cachekit stores dict, list, tuple, set, str, bytes, int, float, bool, None, "
        "datetime, date, time, timedelta, UUID, Decimal, Enum, dataclasses, attrs classes "
        "and msgspec Structs"
    )


def _byte_view(data: object) -> memoryview:
    """A flat byte view of ``data``, or ``CodecError`` when it is not a bytes-like object."""
    try:
        view = memoryview(data)  # type: ignore[arg-type]
        return view if view.format == "B" and view.ndim == 1 else view.cast("B")
    except TypeError as exc:
        raise CodecError(f"expected bytes, got {data.__class__.__name__!r}") from exc


def _refuse_ext(code: int, data: memoryview) -> NoReturn:
    """Decoder hook for MessagePack extension types, which cachekit never writes."""
    raise CodecError(f"unexpected MessagePack extension type {code}")


class Codec:
    """Turns values into stored bytes and back.

    Encoders, decoders and compression contexts are built once per instance. An instance
    may be shared between threads: the reusable zstd contexts are guarded by a lock, the
    other compressors keep no state between calls.
    """

    def __init__(
        self,
        algorithm: str = "zlib",
        level: int = 6,
        threshold: int = 1000,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        if algorithm not in ALGORITHM_IDS:
            raise CacheValueError(
                f"unknown compression algorithm {algorithm!r}; expected one of "
                f"{', '.join(sorted(ALGORITHM_IDS))}"
            )
        low, high = COMPRESSION_LEVELS[algorithm]
        if algorithm != "none" and not low <= level <= high:
            raise CacheValueError(
                f"compression level {level!r} is out of range for {algorithm} ({low}..{high})"
            )
        if threshold < 0:
            raise CacheValueError(f"compression threshold must be >= 0, got {threshold!r}")
        if max_size < 1:
            raise CacheValueError(f"max_size must be >= 1, got {max_size!r}")
        self.algorithm = algorithm
        self.level = level
        self.threshold = threshold
        self.max_size = max_size
        self._encoder = msgspec.msgpack.Encoder(enc_hook=_refuse)
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(ext_hook=_refuse_ext)
        self._typed: dict[Any, msgspec.msgpack.Decoder[Any]] = {}
        self._zstd_lock = threading.Lock()
        self._zstd_c = zstandard.ZstdCompressor(level=level if algorithm == "zstd" else 3)
        self._zstd_d = zstandard.ZstdDecompressor()
        self._compress = self._compressor(algorithm, level)
        self._compressed_header = _PREFIX + bytes([FLAG_COMPRESSED, ALGORITHM_IDS[algorithm]])
        self._on_compress: Callable[[int, int], None] | None = None

    @classmethod
    def from_config(cls, cfg: CompressionConfig, *, max_size: int | None = None) -> Codec:
        """Build the codec a resolved ``CompressionConfig`` describes; its ``max_size`` is
        ``compression.max_value_bytes`` unless ``max_size`` says otherwise."""
        limit = cfg.max_value_bytes if max_size is None else max_size
        return cls(cfg.algorithm, cfg.level, cfg.threshold, max_size=limit)

    def __repr__(self) -> str:
        return (
            f"Codec(algorithm={self.algorithm!r}, level={self.level}, "
            f"threshold={self.threshold}, max_size={self.max_size})"
        )

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, value: Any, *, name: str | bytes | None = None) -> bytes:
        """Return the stored form of ``value`` (``name``, the entry's key, is not used: it
        binds sealed entries, see ``SealedCodec``).

        ``TypeError`` names an unsupported type, ``OverflowError`` reports an integer outside
        the 64-bit range, and ``CacheValueError`` a value whose encoding exceeds ``max_size``.
        """
        return self._pack(self._encoder.encode(value))

    def payload(self, value: Any) -> bytes:
        """The MessagePack encoding of ``value`` (the first half of ``encode``)."""
        return self._encoder.encode(value)

    def pack(self, payload: bytes, *, report: bool = True) -> bytes:
        """The second half of ``encode``: the envelope around ``payload``, compressed above
        the threshold. ``report`` False: leave the compression report to the caller
        (``report_compression``), for a caller that packs in a worker thread."""
        return self._pack(payload, report=report)

    def report_compression(self, payload_size: int, stored_size: int) -> None:
        """Report the compression of a value packed with ``report=False``."""
        callback = self._on_compress
        if callback is not None and self._compress is not None and payload_size > self.threshold:
            callback(payload_size, stored_size - HEADER_SIZE)

    def encode_with_info(self, value: Any) -> tuple[bytes, int, int]:
        """Like ``encode``, also returning the encoded and the stored length (for telemetry)."""
        payload = self._encoder.encode(value)
        stored = self._pack(payload)
        return stored, len(payload), len(stored)

    def observe_compression(self, callback: Callable[[int, int], None] | None) -> None:
        """Call ``callback(encoded_bytes, payload_bytes)`` for every value over the threshold
        (the stored payload may be the encoded bytes when compressing did not shrink them)."""
        self._on_compress = callback

    def _pack(self, payload: bytes, *, report: bool = True) -> bytes:
        """Wrap an encoded payload in the envelope, compressed when that makes it smaller."""
        size = len(payload)
        if size > self.max_size:
            self._refuse_size(size)
        if self._compress is None or size <= self.threshold:
            return _PLAIN_HEADER + payload
        packed = self._compress(payload)
        stored = self._compressed_header + packed if len(packed) < size else _PLAIN_HEADER + payload
        if report and self._on_compress is not None:
            self._on_compress(size, len(stored) - HEADER_SIZE)
        return stored

    def _refuse_size(self, size: int) -> NoReturn:
        # A reader with the same max_size could not decompress it: refuse it now, loudly,
        # rather than store an entry that is a miss forever.
        raise CacheValueError(
            f"value encodes to {size} bytes, over the codec's max_size ({self.max_size} bytes)"
        )

    def _compressor(self, algorithm: str, level: int) -> Callable[[bytes], bytes] | None:
        """The one-argument compression function for ``algorithm``, or None for "none"."""
        if algorithm == "zlib":
            return lambda data: zlib.compress(data, level)
        if algorithm == "zstd":
            return self._zstd_compress
        if algorithm == "lz4":
            return lambda data: lz4.frame.compress(data, compression_level=level)
        return None

    def _zstd_compress(self, data: bytes) -> bytes:
        with self._zstd_lock:
            return self._zstd_c.compress(data)

    # -- decoding ---------------------------------------------------------------------------

    @overload
    def decode(
        self, data: bytes | bytearray | memoryview, type: None = None, *, name: Any = None
    ) -> Any: ...
    @overload
    def decode(
        self, data: bytes | bytearray | memoryview, type: type[T], *, name: Any = None
    ) -> T: ...
    @overload
    def decode(
        self, data: bytes | bytearray | memoryview, type: Any, *, name: Any = None
    ) -> Any: ...

    def decode(
        self, data: bytes | bytearray | memoryview, type: Any = None, *, name: Any = None
    ) -> Any:
        """Return the value stored in ``data``, validated as ``type`` when one is given.

        Raises ``CodecError`` and nothing else for any problem with the bytes. ``type`` may
        be anything msgspec decodes into (Structs, dataclasses, TypedDicts, ``list[int]``...).
        """
        # Fast path: an uncompressed entry, the common case for small values.
        if isinstance(data, bytes) and data[:HEADER_SIZE] == _PLAIN_HEADER:
            payload: bytes | memoryview = (
                memoryview(data)[HEADER_SIZE:] if len(data) > _VIEW_MIN else data[HEADER_SIZE:]
            )
        else:
            payload = self._unwrap(data)
        decoder = self._decoder if type is None else self._typed_decoder(type)
        try:
            return decoder.decode(payload)
        # Typed decoding runs user code (``__post_init__``, validators) that may raise
        # anything; whatever it raises, the entry cannot be used.
        except Exception as exc:
            raise CodecError(f"stored payload does not decode: {exc}") from exc

    def _unwrap(self, data: object) -> bytes | memoryview:
        """The msgpack payload inside an envelope: header checked, body decompressed."""
        view = _byte_view(data)
        if view[:3] != _PREFIX or len(view) < HEADER_SIZE:
            self._reject_header(view)
        flags, algorithm = view[3], view[4]
        if flags == FLAG_COMPRESSED and algorithm:
            return self._decompress(algorithm, view[HEADER_SIZE:])
        if flags or algorithm:
            raise CodecError(f"invalid envelope flags {flags:#04x} with algorithm id {algorithm}")
        return view[HEADER_SIZE:]

    def _typed_decoder(self, type_: Any) -> msgspec.msgpack.Decoder[Any]:
        """The cached decoder for ``type_``, built on first use."""
        decoder = self._typed.get(type_)
        if decoder is None:
            decoder = msgspec.msgpack.Decoder(type_, ext_hook=_refuse_ext)
            self._typed[type_] = decoder
        return decoder

    @staticmethod
    def _reject_header(view: memoryview) -> NoReturn:
        """Raise the ``CodecError`` that best says why ``view`` is not a cachekit entry."""
        if view[:2].tobytes() != MAGIC:
            raise CodecError(f"not a cachekit entry ({len(view)} bytes without the magic)")
        if len(view) < 3:
            raise CodecError("truncated entry header")
        if view[2] != FORMAT_VERSION:
            raise CodecError(f"unsupported entry format version {view[2]}")
        raise CodecError("truncated entry header")

    def _decompress(self, algorithm: int, body: memoryview) -> bytes:
        """Decompress ``body`` with the algorithm whose id the envelope names, within max_size."""
        try:
            if algorithm == 1:
                return self._inflate_zlib(body)
            if algorithm == 2:
                return self._inflate_zstd(body)
            if algorithm == 3:
                return self._inflate_lz4(body)
        except CodecError:
            raise
        except (zlib.error, zstandard.ZstdError, RuntimeError, ValueError, MemoryError) as exc:
            name = _ALGORITHM_NAMES[algorithm]
            raise CodecError(f"{name} decompression failed: {exc}") from exc
        raise CodecError(f"unknown compression algorithm id {algorithm}")

    def _inflate_zlib(self, body: memoryview) -> bytes:
        inflater = zlib.decompressobj()
        out = inflater.decompress(body, self.max_size + 1)
        if len(out) > self.max_size:
            self._too_large()
        if not inflater.eof:
            raise CodecError("zlib stream is truncated")
        if inflater.unused_data:
            raise CodecError("trailing bytes after the zlib stream")
        return out

    def _inflate_zstd(self, body: memoryview) -> bytes:
        # With a declared size zstd allocates that much up front, ignoring max_output_size.
        declared = zstandard.frame_content_size(body)
        if declared > self.max_size:
            self._too_large()
        with self._zstd_lock:
            if declared < 0:
                return self._zstd_d.decompress(
                    body, max_output_size=self.max_size, allow_extra_data=False
                )
            out = self._zstd_d.decompress(body, allow_extra_data=False)
        if len(out) != declared:
            raise CodecError("zstd frame size does not match its header")
        return out

    def _inflate_lz4(self, body: memoryview) -> bytes:
        declared = lz4.frame.get_frame_info(body)["content_size"]
        if declared > self.max_size:
            self._too_large()
        # Streaming with a cap holds even when the declared size lies; 0 means undeclared.
        inflater = lz4.frame.LZ4FrameDecompressor()
        out: bytes = inflater.decompress(body, max_length=(declared or self.max_size) + 1)
        if len(out) > self.max_size:
            self._too_large()
        if declared and len(out) != declared:
            raise CodecError("lz4 frame size does not match its header")
        if not inflater.eof:
            raise CodecError("lz4 frame is truncated")
        if inflater.unused_data:
            raise CodecError("trailing bytes after the lz4 frame")
        return out

    def _too_large(self) -> NoReturn:
        raise CodecError(f"entry decompresses to more than max_size ({self.max_size} bytes)")
