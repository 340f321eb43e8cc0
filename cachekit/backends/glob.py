"""Redis glob patterns for tiers that are not Redis (``InMemoryCache.delete_matching``).

The memory tier must remove exactly the keys that ``SCAN MATCH`` finds in Redis, so patterns
follow Redis's own rules (``stringmatchlen`` in ``util.c``): ``*`` any run, ``?`` one byte,
``[abc]`` / ``[^abc]`` / ``[a-z]`` classes (a reversed range is swapped, an unterminated class
ends at the pattern's end, ``[]`` matches nothing and ``[^]`` any byte), and ``\\x`` the
literal ``x``, inside classes too. Redis compares bytes, so pattern and keys are matched as
UTF-8 bytes (``?`` matches one byte of ``é``); matching is case-sensitive, and range bounds
compare as C ``char``, which is signed on x86-64 (``[a-é]`` runs from ``é``'s lead byte,
taken as negative, up to ``a``). Two quirks of Redis 7 are kept: a pattern of exactly ``*``
matches every key, the empty one too (``SCAN`` skips matching), while otherwise the empty
key matches only the empty pattern; and past 1,000 ``*`` runs Redis stops recursing, so a
pattern with a ``*`` run after the 1,000th that is followed by anything matches nothing.

Matching never backtracks, unlike a translation to ``re`` (``*a*a*a*a*ab`` over a long key
of ``a`` took ``re`` minutes). A pattern is cut at its ``*`` runs into fixed-length
segments; the first must match at the start of the key, the last at its end, and each one
between is found at its leftmost place after the one before and before the last (the
leftmost place leaves the most room, so it is never wrong). Each segment is one search in
C (``bytes.find`` or a fixed-length ``re`` without repetition), so a key costs at most one
search per segment (``GlobMatcher.steps`` counts them) and at most
``len(key) * len(pattern)`` byte comparisons.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from cachekit.errors import CacheValueError

__all__ = [
    "MAX_PATTERN_LENGTH",
    "GlobMatcher",
    "check_pattern",
    "escape_glob",
    "glob_matcher",
    "key_bytes",
]

MAX_PATTERN_LENGTH: Final = 1024
"""Longest pattern, in characters, that pattern invalidation accepts (``check_pattern``)."""

_REDIS_MAX_NESTING: Final = 1000
"""``*`` runs Redis follows before it gives up on a match (``stringmatchlen_impl``)."""

_STAR, _QUESTION, _OPEN, _CLOSE, _BACKSLASH, _CARET, _DASH = b"*?[]\\^-"
_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})

# A segment: its length, and the bytes it matches literally or a fixed-length regex.
_Segment = tuple[int, bytes | None, re.Pattern[bytes] | None]


def escape_glob(text: str) -> str:
    """``text`` with Redis glob metacharacters escaped, so it matches only literally."""
    return text.translate(_GLOB_SPECIAL)


def key_bytes(key: str) -> bytes:
    """The bytes Redis would hold for ``key`` (lone surrogates kept, never an error)."""
    return key.encode("utf-8", "surrogatepass")


def check_pattern(pattern: object) -> str:
    """``pattern`` when it is a usable invalidation pattern, else ``CacheValueError``.

    Patterns are limited to ``MAX_PATTERN_LENGTH`` characters: the work of matching grows
    with the pattern, in Redis (``SCAN MATCH``) as here.
    """
    if not isinstance(pattern, str):
        raise CacheValueError(f"a pattern must be a str, got {type(pattern).__name__!r}")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise CacheValueError(
            f"pattern of {len(pattern)} characters exceeds the limit of "
            f"{MAX_PATTERN_LENGTH} characters"
        )
    return pattern


def _signed(byte: int) -> int:
    """``byte`` as a C ``char`` on x86-64, where Redis compares range bounds."""
    return byte - 256 if byte >= 128 else byte


def _class_at(p: bytes, i: int) -> tuple[frozenset[int], int]:
    """The bytes a class starting after its ``[`` at ``p[i]`` matches, and where it ends."""
    n = len(p)
    negate = i < n and p[i] == _CARET
    i += negate
    members: set[int] = set()
    while i < n and p[i] != _CLOSE:
        if p[i] == _BACKSLASH and i + 1 < n:
            members.add(p[i + 1])
            i += 2
        elif i + 2 < n and p[i + 1] == _DASH:
            low, high = sorted((_signed(p[i]), _signed(p[i + 2])))
            members.update(b for b in range(256) if low <= _signed(b) <= high)
            i += 3
        else:
            members.add(p[i])
            i += 1
    chosen = frozenset(range(256)) - members if negate else frozenset(members)
    return chosen, i + 1  # past the "]" (or past the end of an unterminated class)


def _tokens(p: bytes) -> list[frozenset[int] | int | None]:
    """The pattern as tokens: a byte (literal), a set of bytes (``?``, classes), or None
    for a run of ``*``."""
    out: list[frozenset[int] | int | None] = []
    i, n = 0, len(p)
    any_byte = frozenset(range(256))
    while i < n:
        c = p[i]
        i += 1
        if c == _STAR:
            if not out or out[-1] is not None:
                out.append(None)
        elif c == _QUESTION:
            out.append(any_byte)
        elif c == _OPEN:
            chosen, i = _class_at(p, i)
            out.append(chosen)
        elif c == _BACKSLASH and i < n:
            out.append(p[i])
            i += 1
        else:
            out.append(c)
    return out


def _byte_class(members: frozenset[int]) -> bytes:
    """A regex class for ``members`` as ``\\xHH`` ranges (no escaping pitfalls)."""
    if len(members) == 256:
        return b"."
    if not members:
        return b"(?!)"
    parts: list[bytes] = []
    ordered = sorted(members)
    start = prev = ordered[0]
    for byte in [*ordered[1:], -1]:
        if byte == prev + 1:
            prev = byte
            continue
        parts.append(b"\\x%02x" % start + (b"-\\x%02x" % prev if prev != start else b""))
        start = prev = byte
    return b"[" + b"".join(parts) + b"]"


def _segment(tokens: list[frozenset[int] | int | None]) -> _Segment:
    if all(isinstance(t, int) for t in tokens):
        return len(tokens), bytes(t for t in tokens if isinstance(t, int)), None
    source = b"".join(
        re.escape(bytes((t,))) if isinstance(t, int) else _byte_class(t)
        for t in tokens
        if t is not None
    )
    return len(tokens), None, re.compile(source, re.DOTALL)


class GlobMatcher:
    """One compiled Redis glob pattern: ``matcher(key_bytes)`` says whether it matches.

    ``prefixed`` matches as Redis does under the stack's key prefix (``prefix + pattern``
    against ``prefix + key``), where the empty key is matched by any pattern made only of
    ``*``; without it, as ``SCAN MATCH`` on unprefixed keys. ``steps`` counts the segment
    searches made so far: at most one per segment per key, whatever the pattern.
    """

    __slots__ = (
        "_dead",
        "_first",
        "_last",
        "_middle",
        "_min_length",
        "_only_stars",
        "_stars",
        "pattern",
        "prefixed",
        "steps",
    )

    def __init__(self, pattern: bytes, *, prefixed: bool = False) -> None:
        self.pattern = pattern
        self.prefixed = prefixed
        self.steps = 0
        tokens = _tokens(pattern)
        segments: list[list[frozenset[int] | int | None]] = [[]]
        for token in tokens:
            if token is None:
                segments.append([])
            else:
                segments[-1].append(token)
        self._stars = len(segments) - 1
        # Past Redis's nesting limit, a "*" run that is not the pattern's end never matches.
        self._dead = self._stars > _REDIS_MAX_NESTING and (
            self._stars > _REDIS_MAX_NESTING + 1 or bool(segments[-1])
        )
        self._only_stars = pattern.strip(b"*") == b""
        compiled = [_segment(s) for s in segments]
        self._first = compiled[0]
        self._last = compiled[-1]
        self._middle = compiled[1:-1]
        self._min_length = sum(s[0] for s in compiled)

    def __call__(self, key: bytes) -> bool:
        if not key:
            if self.prefixed:
                return self._only_stars
            return self.pattern in (b"", b"*")
        if self.pattern == b"*":
            return True
        n = len(key)
        if self._dead or n < self._min_length:
            return False
        self.steps += 1
        first, last = self._first, self._last
        if self._stars == 0:
            return n == first[0] and _at(key, 0, first)
        # The anchored ends first: they are the cheapest way to say no.
        end = n - last[0]
        if not (_at(key, 0, first) and _at(key, end, last)):
            return False
        position = first[0]
        for length, literal, regex in self._middle:
            self.steps += 1
            if literal is not None:
                found = key.find(literal, position, end)
            else:
                assert regex is not None
                match = regex.search(key, position, end)
                found = -1 if match is None else match.start()
            if found < 0:
                return False
            position = found + length
        return True


def _at(key: bytes, start: int, segment: _Segment) -> bool:
    """Whether ``segment`` matches ``key`` at ``start`` (its length is fixed)."""
    length, literal, regex = segment
    if literal is not None:
        return key.startswith(literal, start)
    assert regex is not None
    return regex.match(key, start, start + length) is not None


@functools.lru_cache(maxsize=128)
def glob_matcher(pattern: str, *, prefixed: bool = False) -> GlobMatcher:
    """The matcher of the Redis glob ``pattern`` (compiled once per pattern)."""
    return GlobMatcher(key_bytes(pattern), prefixed=prefixed)
