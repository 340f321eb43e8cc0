"""Cache keys for AI operations: bounded, collision-free, never holding user text.

The design cachekit grows from put raw user text in keys with ``|`` and ``:`` replaced by
``_`` (so ``"a|b"``, ``"a:b"`` and ``"a_b"`` shared one entry) and stringified option values
(so the order of a nested dict changed the key). Here every variable part is hashed from an
unambiguous byte form, and the key has a fixed shape::

    ai:{operation}:{text_hash: 32 hex}:{options_hash: 16 hex, or "none"}

The operation name is restricted to ``[A-Za-z0-9_.-]``, which holds none of the Redis glob
characters, so ``operation_prefix(op) + "*"`` is a safe SCAN pattern.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

from cachekit.errors import CacheValueError

if TYPE_CHECKING:
    from cachekit.config.model import AIConfig

__all__ = ["KEY_PREFIX", "NO_OPTIONS", "CacheKeyGenerator", "operation_of"]

KEY_PREFIX: Final = "ai"
# Stands for "no options" in the options field; it cannot equal a 16-hex-digit hash.
NO_OPTIONS: Final = "none"
TEXT_HASH_HEX: Final = 32
OPTIONS_HASH_HEX: Final = 16
TEXT_CHUNK: Final = 16384
"""Characters hashed per slice of a text above the threshold (at most 64 KiB encoded)."""

_OPERATION = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Cryptographic hashes only: a key names whatever text hashes to it, so collisions must be
# infeasible to construct, not merely unlikely by chance.
_HASHES: Final[dict[str, Callable[..., Any]]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
    "blake2b": hashlib.blake2b,
    "blake2s": hashlib.blake2s,
    "sha3_256": hashlib.sha3_256,
    "sha3_512": hashlib.sha3_512,
}
_OPTIONS_ENCODER = msgspec.json.Encoder(order="sorted")


def _short_repr(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about user input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _canonical(value: Any, path: str) -> Any:
    """``value`` as plain JSON data, or ``CacheValueError`` naming what is not JSON.

    Only values with one JSON spelling are accepted: msgspec would also encode bytes, UUIDs,
    dates, non-str keys and NaN, but as strings or ``null`` that equal other option values.
    Tuples become lists: they are the same JSON value.
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CacheValueError(f"option {path} is {value!r}, which JSON cannot represent")
        return value
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CacheValueError(
                    f"option {path} has a key of type {type(key).__name__!r}; "
                    "option keys must be str"
                )
            result[key] = _canonical(item, f"{path}.{key}")
        return result
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise CacheValueError(
        f"option {path} has type {type(value).__name__!r}, which is not JSON "
        "(use str, int, float, bool, None, lists and dicts with str keys)"
    )


def operation_of(key: str) -> str | None:
    """The operation of a key made by ``build_key`` (``ai:{operation}:...``), else None."""
    parts = key.split(":")
    if len(parts) == 4 and parts[0] == KEY_PREFIX and parts[1]:
        return parts[1]
    return None


class CacheKeyGenerator:
    """Builds the Redis key of an AI operation's result from its text, operation and options.

    Text is always hashed; ``text_hash_threshold`` (characters) picks how. A text up to
    the threshold is hashed in one call with BLAKE2b-128, whose native 128-bit digest
    fills the key's text field; a longer text is fed to ``hash_algorithm`` in slices of
    ``TEXT_CHUNK`` characters, so a large document is never encoded into one big bytes
    copy. The two hashes differ, so moving the threshold changes the keys of the texts
    it moves across (a config change that starts those entries afresh); collisions stay
    as infeasible as for one hash. ``size_tiers`` are the exclusive upper bounds, in
    characters, of the small / medium / large tiers reported by ``text_tier``.
    """

    def __init__(
        self,
        text_hash_threshold: int = 1000,
        hash_algorithm: str = "sha256",
        *,
        normalize_whitespace: bool = False,
        max_text_length: int | None = None,
        size_tiers: tuple[int, int, int] = (1000, 5000, 25000),
    ) -> None:
        if hash_algorithm not in _HASHES:
            raise CacheValueError(
                f"hash algorithm {hash_algorithm!r} is not supported; "
                f"use one of {', '.join(sorted(_HASHES))}"
            )
        if text_hash_threshold < 0:
            raise CacheValueError(f"text_hash_threshold must be >= 0, got {text_hash_threshold}")
        if max_text_length is not None and max_text_length < 1:
            raise CacheValueError(f"max_text_length must be >= 1, got {max_text_length}")
        small, medium, large = size_tiers
        if not 0 < small < medium < large:
            raise CacheValueError(
                f"size tiers must increase: 0 < small < medium < large, got {size_tiers}"
            )
        self.text_hash_threshold = text_hash_threshold
        self.hash_algorithm = hash_algorithm
        self.normalize_whitespace = normalize_whitespace
        self.max_text_length = max_text_length
        self.size_tiers = size_tiers
        self._hash = _HASHES[hash_algorithm]

    @classmethod
    def from_config(cls, ai: AIConfig, *, hash_algorithm: str = "sha256") -> CacheKeyGenerator:
        """Build the generator a resolved ``AIConfig`` describes."""
        tiers = ai.size_tiers
        return cls(
            ai.text_hash_threshold,
            hash_algorithm,
            normalize_whitespace=ai.normalize_whitespace,
            max_text_length=ai.max_text_length,
            size_tiers=(tiers.small, tiers.medium, tiers.large),
        )

    def __repr__(self) -> str:
        return (
            f"CacheKeyGenerator(hash_algorithm={self.hash_algorithm!r}, "
            f"normalize_whitespace={self.normalize_whitespace}, "
            f"max_text_length={self.max_text_length}, size_tiers={self.size_tiers})"
        )

    def generate_cache_key(
        self,
        text: str,
        operation: str,
        options: Mapping[str, Any] | None = None,
        *,
        question: str | None = None,
    ) -> str:
        """The key of ``operation`` applied to ``text`` with ``options``.

        ``question`` is the same as ``options["question"]``; giving both with different
        values is an error. ``CacheValueError`` reports a bad operation name, text over
        ``max_text_length``, or options that are not JSON.
        """
        prefix = self.operation_prefix(operation)
        return f"{prefix}{self._text_hash(text)}:{self._options_hash(options, question)}"

    def operation_prefix(self, operation: str) -> str:
        """The prefix shared by every key of ``operation`` (``ai:summarize:``)."""
        if not isinstance(operation, str) or not _OPERATION.fullmatch(operation):
            raise CacheValueError(
                f"operation name {_short_repr(operation)} is invalid: "
                "use 1 to 64 characters from A-Z a-z 0-9 _ . -"
            )
        return f"{KEY_PREFIX}:{operation}:"

    def text_tier(self, text: str) -> str:
        """``"small"``, ``"medium"``, ``"large"`` or ``"xlarge"`` by length in characters."""
        length = len(text)
        small, medium, large = self.size_tiers
        if length < small:
            return "small"
        if length < medium:
            return "medium"
        if length < large:
            return "large"
        return "xlarge"

    def _text_hash(self, text: str) -> str:
        """Hex digest of the text; "surrogatepass" gives every str one unambiguous byte form."""
        if not isinstance(text, str):
            raise CacheValueError(f"text must be str, got {type(text).__name__!r}")
        if self.max_text_length is not None and len(text) > self.max_text_length:
            raise CacheValueError(
                f"text is {len(text)} characters long, over the limit of "
                f"{self.max_text_length} (max_text_length)"
            )
        if self.normalize_whitespace:
            text = " ".join(text.split())
        if len(text) <= self.text_hash_threshold:
            short = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16)
            return short.hexdigest()
        # Slicing never splits an encoded character: each str index is one code point and
        # "surrogatepass" encodes a lone surrogate on its own, so the digest equals the
        # one-shot digest of the whole text.
        hasher = self._hash()
        for start in range(0, len(text), TEXT_CHUNK):
            hasher.update(text[start : start + TEXT_CHUNK].encode("utf-8", "surrogatepass"))
        digest: str = hasher.hexdigest()
        return digest[:TEXT_HASH_HEX]

    def _options_hash(self, options: Mapping[str, Any] | None, question: str | None) -> str:
        """Hex digest of the options as sorted-key JSON, or ``NO_OPTIONS`` when there are none."""
        if question is not None:
            if options and "question" in options and options["question"] != question:
                raise CacheValueError(
                    "question given both as an argument and in options, with different values"
                )
            options = {**(options or {}), "question": question}
        if not options:
            return NO_OPTIONS
        if not isinstance(options, Mapping):
            raise CacheValueError(f"options must be a mapping, got {type(options).__name__!r}")
        encoded = _OPTIONS_ENCODER.encode(_canonical(options, "options"))
        digest: str = self._hash(encoded).hexdigest()
        return digest[:OPTIONS_HASH_HEX]
