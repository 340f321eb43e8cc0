"""Signed and encrypted entries: ``SealedCodec`` wraps the codec for the Redis tier.

Whoever can write to a shared Redis can otherwise plant entries the application trusts.
With ``security.signing_keys`` set, every entry carries an HMAC-SHA256 tag; with
``security.encryption_keys`` set, every entry is sealed with AES-256-GCM (which also
authenticates it). The first key of a list writes; any key of the list reads, so keys
rotate without a flush: put the new key first, keep the old one until old entries expire.

The tag covers the entry's full Redis key, so a valid entry copied to another key is
rejected too. Unsigned, badly signed, undecryptable and foreign entries raise
``IntegrityError`` (a ``CodecError``): the Redis tier turns it into a miss and counts it.

Sealed entry layout (then the codec's own envelope, see ``cachekit.backends.codec``)::

    offset 0-1  b"cS"     magic
    offset 2    1         format version
    offset 3    mode      1 signed, 2 encrypted
    offset 4-7  key id    first 4 bytes of a digest derived from the key (not the key)
    signed:     envelope, then the 32-byte tag of (header, key name, envelope)
    encrypted:  12-byte random nonce, then AES-GCM(envelope) with (header, key name) as
                associated data

Keys are strings from the secrets layer; per-purpose 32-byte keys are derived from each
with HMAC-SHA256, so one secret never serves two algorithms.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from cachekit.backends.codec import Codec
from cachekit.config.model import SecurityConfig
from cachekit.errors import CacheConfigError, ConfigProblem, IntegrityError
from cachekit.extras import AESGCM_MODULE, missing

MAGIC: Final = b"cS"
VERSION: Final = 1
MODE_SIGNED: Final = 1
MODE_ENCRYPTED: Final = 2
HEADER_SIZE: Final = 8
TAG_SIZE: Final = 32
NONCE_SIZE: Final = 12

logger = logging.getLogger("cachekit")


class _AEAD(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


def encryption_unavailable() -> str | None:
    """Why AES-GCM cannot be used here (with how to fix it), or None when it can."""
    return missing(AESGCM_MODULE, "encryption", "AES-GCM entry encryption")


class _Key:
    """Per-purpose material derived from one secret string."""

    __slots__ = ("aead", "ident", "mac")

    def __init__(self, secret: str, *, encrypt: bool) -> None:
        root = hmac.new(b"cachekit entry keys v1", secret.encode(), hashlib.sha256).digest()
        self.ident = hmac.new(root, b"key id", hashlib.sha256).digest()[:4]
        self.mac = hmac.new(root, b"sign", hashlib.sha256).digest()
        self.aead: _AEAD | None = None
        if encrypt:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self.aead = AESGCM(hmac.new(root, b"encrypt", hashlib.sha256).digest())

    def __repr__(self) -> str:
        return f"_Key(id={self.ident.hex()})"


def _decrypt(aead: _AEAD, nonce: bytes, sealed: bytes, aad: bytes) -> bytes | None:
    """The plaintext, or None when the tag does not verify under this key."""
    from cryptography.exceptions import InvalidTag

    try:
        return aead.decrypt(nonce, sealed, aad)
    except (InvalidTag, ValueError):  # ValueError: a truncated nonce or body
        return None


def _bound(header: bytes, name: bytes) -> bytes:
    """Header and key name, length-prefixed so no two (header, name) pairs collide."""
    return header + len(name).to_bytes(4, "big") + name


class SealedCodec:
    """A ``Codec`` whose entries are signed or encrypted and bound to their Redis key.

    ``encode(value, name=...)`` / ``decode(data, type, name=...)``: ``name`` is the full
    Redis key. With encryption keys, entries are encrypted; signed entries made with the
    signing keys are still read (so turning encryption on needs no flush). ``rejected``
    counts entries refused since creation.
    """

    def __init__(
        self,
        inner: Codec,
        *,
        signing_keys: Sequence[str] = (),
        encryption_keys: Sequence[str] = (),
    ) -> None:
        if not signing_keys and not encryption_keys:
            raise ValueError("SealedCodec needs signing_keys or encryption_keys")
        unavailable = encryption_unavailable() if encryption_keys else None
        if unavailable:
            raise CacheConfigError(
                [ConfigProblem(key="security.encryption_keys", message=unavailable)]
            )
        self.inner = inner
        self._signers = [_Key(k, encrypt=False) for k in signing_keys]
        self._sealers = [_Key(k, encrypt=True) for k in encryption_keys]
        self.mode = MODE_ENCRYPTED if self._sealers else MODE_SIGNED
        writer = (self._sealers or self._signers)[0]
        self._header = MAGIC + bytes([VERSION, self.mode]) + writer.ident
        self._writer = writer
        self.rejected = 0

    @classmethod
    def seal(cls, codec: Codec, security: SecurityConfig) -> SealedCodec | None:
        """``codec`` sealed with the keys of ``security``, or None when no key is set."""
        if not security.signing_keys and not security.encryption_keys:
            return None
        return cls(
            codec,
            signing_keys=security.signing_keys,
            encryption_keys=security.encryption_keys,
        )

    def __repr__(self) -> str:
        mode = "encrypted" if self.mode == MODE_ENCRYPTED else "signed"
        return (
            f"SealedCodec(mode={mode!r}, signing_keys=<{len(self._signers)}>, "
            f"encryption_keys=<{len(self._sealers)}>, inner={self.inner!r})"
        )

    def observe_compression(self, callback: Callable[[int, int], None] | None) -> None:
        """Report the compression of the codec inside (see ``Codec.observe_compression``)."""
        self.inner.observe_compression(callback)

    # -- writing ---------------------------------------------------------------------------
    def encode(self, value: Any, *, name: str | bytes) -> bytes:
        """The stored form of ``value`` under the Redis key ``name``."""
        return self.seal_envelope(self.inner.encode(value), name=name)

    def seal_envelope(self, envelope: bytes, *, name: str | bytes) -> bytes:
        """Sign or encrypt an envelope the inner codec made, bound to ``name``."""
        key_name = name.encode() if isinstance(name, str) else name
        aad = _bound(self._header, key_name)
        if self._writer.aead is not None:
            nonce = os.urandom(NONCE_SIZE)
            return self._header + nonce + self._writer.aead.encrypt(nonce, envelope, aad)
        tag = hmac.new(self._writer.mac, aad + envelope, hashlib.sha256).digest()
        return self._header + envelope + tag

    # -- reading ---------------------------------------------------------------------------
    def decode(self, data: bytes, type: Any = None, *, name: str | bytes) -> Any:
        """The value in ``data`` stored under ``name``; ``IntegrityError`` if not sealed by us."""
        envelope = self.open(data, name=name)
        return self.inner.decode(envelope, type)

    def open(self, data: bytes, *, name: str | bytes) -> bytes:
        """The codec envelope inside a sealed entry, after checking its tag."""
        try:
            return self._open(bytes(data), name.encode() if isinstance(name, str) else name)
        except IntegrityError as exc:
            self.rejected += 1
            level = logging.WARNING if self.rejected == 1 else logging.DEBUG
            logger.log(
                level,
                "refused a Redis entry (%s); it reads as a miss (%d refused so far)",
                exc,
                self.rejected,
            )
            raise

    def _open(self, data: bytes, name: bytes) -> bytes:
        header = data[:HEADER_SIZE]
        if len(header) < HEADER_SIZE or header[:2] != MAGIC:
            raise IntegrityError("entry is not signed or encrypted")
        if header[2] != VERSION:
            raise IntegrityError(f"unsupported sealed entry version {header[2]}")
        mode, ident = header[3], header[4:8]
        aad = _bound(header, name)
        if mode == MODE_SIGNED:
            if len(data) < HEADER_SIZE + TAG_SIZE:
                raise IntegrityError("signed entry is truncated")
            body, tag = data[HEADER_SIZE:-TAG_SIZE], data[-TAG_SIZE:]
            for key in self._signers:
                if key.ident == ident:
                    expected = hmac.new(key.mac, aad + body, hashlib.sha256).digest()
                    if hmac.compare_digest(expected, tag):
                        return body
            raise IntegrityError("signature does not verify with any signing key")
        if mode == MODE_ENCRYPTED:
            nonce = data[HEADER_SIZE : HEADER_SIZE + NONCE_SIZE]
            sealed = data[HEADER_SIZE + NONCE_SIZE :]
            for key in self._sealers:
                if key.ident == ident and key.aead is not None:
                    opened = _decrypt(key.aead, nonce, sealed, aad)
                    if opened is not None:
                        return opened
            raise IntegrityError("entry does not decrypt with any encryption key")
        raise IntegrityError(f"unknown sealed entry mode {mode}")
