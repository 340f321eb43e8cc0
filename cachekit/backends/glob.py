"""Redis glob patterns for tiers that are not Redis (``InMemoryCache.delete_matching``).

The memory tier must remove exactly the keys that ``SCAN MATCH`` finds in Redis, so it
compiles patterns with Redis's own rules (``stringmatchlen`` in ``util.c``): ``*`` any
run, ``?`` one byte, ``[abc]`` / ``[^abc]`` / ``[a-z]`` classes (a reversed range is
swapped, an unterminated class ends at the pattern's end), and ``\\x`` the literal ``x``,
inside classes too. Redis compares bytes, so pattern and keys are matched as UTF-8 bytes
(``?`` matches one byte of ``é``, as in Redis); matching is case-sensitive.
"""

from __future__ import annotations

import functools
import re

__all__ = ["escape_glob", "glob_regex", "key_bytes"]

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def escape_glob(text: str) -> str:
    """``text`` with Redis glob metacharacters escaped, so it matches only literally."""
    return text.translate(_GLOB_SPECIAL)


def key_bytes(key: str) -> bytes:
    """The bytes Redis would hold for ``key`` (lone surrogates kept, never an error)."""
    return key.encode("utf-8", "surrogatepass")


def _lit(byte: int) -> bytes:
    return re.escape(bytes((byte,)))


@functools.lru_cache(maxsize=128)
def glob_regex(pattern: str) -> re.Pattern[bytes]:
    """The compiled regex that full-matches the key bytes the Redis glob ``pattern`` matches."""
    p = key_bytes(pattern)
    out: list[bytes] = []
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        i += 1
        if c == ord("*"):
            out.append(b".*")
        elif c == ord("?"):
            out.append(b".")
        elif c == ord("\\") and i < n:
            out.append(_lit(p[i]))
            i += 1
        elif c == ord("["):
            negate = i < n and p[i] == ord("^")
            i += negate
            items: list[bytes] = []
            while i < n and p[i] != ord("]"):
                if p[i] == ord("\\") and i + 1 < n:
                    items.append(_lit(p[i + 1]))
                    i += 2
                elif i + 2 < n and p[i + 1] == ord("-"):
                    low, high = sorted((p[i], p[i + 2]))
                    items.append(_lit(low) + b"-" + _lit(high))
                    i += 3
                else:
                    items.append(_lit(p[i]))
                    i += 1
            i += 1  # the closing "]" (or past the end of an unterminated class)
            if items:
                out.append(b"[" + (b"^" if negate else b"") + b"".join(items) + b"]")
            else:
                out.append(b"." if negate else b"(?!)")
        else:
            out.append(_lit(c))
    return re.compile(b"".join(out), re.DOTALL)
