"""A line-by-line port of Redis 7's ``stringmatchlen`` (``util.c``), the oracle of the glob
tests that run without a server, and the byte alphabets both glob test modules draw from."""

from __future__ import annotations

PATTERN_BYTES = [bytes((b,)) for b in b"ab*?[]^-\\z"] + [b"\xc3", b"\xa9", b"\x7f", b"\x80"]
"""Pattern pieces: metacharacters, plain bytes, and bytes around the signed-char boundary."""
KEY_BYTES = [bytes((b,)) for b in b"ab[]-\\*^z?"] + [b"\xc3", b"\xa9", b"\x7f", b"\x80"]


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def stringmatchlen(p: bytes, s: bytes) -> bool:
    """Redis's ``stringmatchlen(p, s, nocase=0)``, with its recursion and both guards."""
    skip_longer = [False]

    def impl(pi: int, si: int, nesting: int) -> bool:
        if nesting > 1000:
            return False
        plen, slen = len(p) - pi, len(s) - si
        while plen and slen:
            c = p[pi]
            if c == ord("*"):
                while plen and pi + 1 < len(p) and p[pi + 1] == ord("*"):
                    pi, plen = pi + 1, plen - 1
                if plen == 1:
                    return True
                while slen:
                    if impl(pi + 1, si, nesting + 1):
                        return True
                    if skip_longer[0]:
                        return False
                    si, slen = si + 1, slen - 1
                skip_longer[0] = True
                return False
            if c == ord("?"):
                si, slen = si + 1, slen - 1
            elif c == ord("["):
                pi, plen = pi + 1, plen - 1
                negate = plen > 0 and p[pi] == ord("^")
                if negate:
                    pi, plen = pi + 1, plen - 1
                match = False
                while True:
                    current = p[pi] if plen > 0 else 0  # the C string's terminating NUL
                    if current == ord("\\") and plen >= 2:
                        pi, plen = pi + 1, plen - 1
                        match = match or p[pi] == s[si]
                    elif current == ord("]"):
                        break
                    elif plen == 0:
                        pi, plen = pi - 1, plen + 1
                        break
                    elif plen >= 3 and p[pi + 1] == ord("-"):
                        low, high = sorted((_signed(p[pi]), _signed(p[pi + 2])))
                        pi, plen = pi + 2, plen - 2
                        match = match or low <= _signed(s[si]) <= high
                    else:
                        match = match or p[pi] == s[si]
                    pi, plen = pi + 1, plen - 1
                if negate:
                    match = not match
                if not match:
                    return False
                si, slen = si + 1, slen - 1
            else:
                if c == ord("\\") and plen >= 2:
                    pi, plen = pi + 1, plen - 1
                if p[pi] != s[si]:
                    return False
                si, slen = si + 1, slen - 1
            pi, plen = pi + 1, plen - 1
            if slen == 0:
                while pi < len(p) and p[pi] == ord("*"):
                    pi, plen = pi + 1, plen - 1
                break
        return plen == 0 and slen == 0

    return impl(0, 0, 0)
