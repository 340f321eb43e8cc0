"""Tests of signed and encrypted entries (``backends.integrity``) as the Redis tier uses them
(on fakeredis; the real-Redis acceptance tests are in tests/integration)."""

from __future__ import annotations

import sys
from pathlib import Path

import fakeredis
import pytest

from cachekit import CacheConfigError, Codec, resolve
from cachekit.backends.integrity import IntegrityError
from cachekit.config.settings import load_config
from tests.helpers_integrity import ENC_A, ENC_B, KEY_A, KEY_B, backend, build, sealed

# -- the codec ----------------------------------------------------------------------------------


def test_integrity_signed_round_trip_is_bound_to_key() -> None:
    """A signed entry decodes under its own key only."""
    codec = sealed(signing=(KEY_A,))
    data = codec.encode({"v": [1, 2]}, name="ns:k1")
    assert data[:2] == b"cS"
    assert codec.decode(data, name="ns:k1") == {"v": [1, 2]}
    with pytest.raises(IntegrityError, match="signature"):
        codec.decode(data, name="ns:k2")
    assert codec.rejected == 1


@pytest.mark.parametrize("position", [0, 3, 5, 9, -1])
def test_integrity_any_flipped_byte_is_rejected(position: int) -> None:
    """Changing any byte (header, key id, payload or tag) makes the entry a refused one."""
    codec = sealed(signing=(KEY_A,))
    data = bytearray(codec.encode("value", name="k"))
    data[position] ^= 0x01
    with pytest.raises(IntegrityError):
        codec.decode(bytes(data), name="k")


@pytest.mark.parametrize("raw", [Codec().encode("plain"), b"", b"cS", b"not an entry"])
def test_integrity_unsigned_entries_are_rejected(raw: bytes) -> None:
    """Plain (unsigned), empty, truncated and foreign entries are refused and counted."""
    codec = sealed(signing=(KEY_A,))
    with pytest.raises(IntegrityError):
        codec.decode(raw, name="k")
    assert codec.rejected == 1


def test_integrity_rotation_signs_with_first_accepts_any() -> None:
    """Keys rotate: new writes use the first key; entries of any listed key still read."""
    old = sealed(signing=(KEY_A,)).encode("old", name="k")
    rotated = sealed(signing=(KEY_B, KEY_A))
    assert rotated.decode(old, name="k") == "old"
    new = rotated.encode("new", name="k")
    assert sealed(signing=(KEY_B,)).decode(new, name="k") == "new"
    with pytest.raises(IntegrityError):
        sealed(signing=(KEY_A,)).decode(new, name="k")
    with pytest.raises(IntegrityError):
        sealed(signing=(KEY_B,)).decode(old, name="k")


def test_integrity_encrypted_entries_hide_and_authenticate() -> None:
    """AES-GCM entries hide the value, are bound to the key and reject tampering."""
    codec = sealed(encryption=(ENC_A,))
    data = codec.encode("top secret text", name="k")
    assert b"top secret" not in data
    assert codec.decode(data, name="k") == "top secret text"
    assert codec.encode("top secret text", name="k") != data  # a fresh nonce each time
    with pytest.raises(IntegrityError, match="decrypt"):
        codec.decode(data, name="other")
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(IntegrityError):
        codec.decode(tampered, name="k")


def test_integrity_encryption_rotation_and_signed_migration() -> None:
    """Encryption keys rotate like signing keys; signed entries stay readable when both are set."""
    signed = sealed(signing=(KEY_A,)).encode("signed", name="k")
    old = sealed(encryption=(ENC_A,)).encode("old", name="k")
    both = sealed(signing=(KEY_A,), encryption=(ENC_B, ENC_A))
    assert both.decode(signed, name="k") == "signed"
    assert both.decode(old, name="k") == "old"
    assert both.encode("x", name="k")[3] == 2  # writes are encrypted
    with pytest.raises(IntegrityError):
        sealed(encryption=(ENC_B,)).decode(old, name="k")
    with pytest.raises(IntegrityError):
        sealed(encryption=(ENC_A,)).decode(signed, name="k")


def test_integrity_repr_shows_no_key() -> None:
    """The codec's repr names the mode and key counts, never a key."""
    text = repr(sealed(signing=(KEY_A, KEY_B), encryption=(ENC_A,)))
    assert "encrypted" in text
    assert KEY_A not in text and ENC_A not in text


def test_integrity_missing_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encryption configured without ``cryptography``: a config error naming the extra."""
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with pytest.raises(CacheConfigError, match=r"pip install 'cachekit\[encryption\]'") as info:
        build(**{"security.encryption_keys": [ENC_A]})
    assert ENC_A not in str(info.value)
    with pytest.raises(CacheConfigError, match="cachekit\\[encryption\\]"):
        sealed(encryption=(ENC_A,))
    assert build(**{"security.signing_keys": [KEY_A]}).security.signing_keys == (KEY_A,)


def test_integrity_short_key_is_refused_masked() -> None:
    """A key under 16 characters is a config error that does not print the key."""
    with pytest.raises(CacheConfigError, match=r"security\.signing_keys") as info:
        build(**{"security.signing_keys": ["short-key"]})
    assert "short-key" not in str(info.value)


def test_integrity_keys_from_secrets_file_and_env(tmp_path: Path) -> None:
    """Signing keys come from .secrets.toml; an env var sets one key or a TOML list."""
    (tmp_path / ".secrets.toml").write_text(f'[default.security]\nsigning_keys = ["{KEY_A}"]\n')
    assert load_config(environ={}, root=tmp_path).security.signing_keys == (KEY_A,)
    one = {"CACHEKIT_SECURITY__ENCRYPTION_KEYS": ENC_A}
    assert load_config(environ=one, root=tmp_path).security.encryption_keys == (ENC_A,)
    two = {"CACHEKIT_SECURITY__SIGNING_KEYS": f'["{KEY_B}", "{KEY_A}"]'}
    assert load_config(environ=two, root=tmp_path).security.signing_keys == (KEY_B, KEY_A)


# -- the Redis tier -----------------------------------------------------------------------------


async def test_integrity_tier_counts_refused_entries() -> None:
    """Through a resolved stack: a foreign value is a miss, counted on the backend."""
    client = fakeredis.FakeAsyncRedis()
    cache = resolve(build(**{"security.signing_keys": [KEY_A]}), redis_client=client)
    await cache.set("k", "v")
    await cache.set_many({"a": 1, "b": 2})
    assert await cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    (name,) = [n for n in await client.keys("*") if n.endswith(b":k")]
    await client.set(name, Codec().encode("forged"))
    assert await cache.get("k") is None
    assert await cache.get_many(["k", "a"]) == {"a": 1}
    tier = backend(cache)
    assert tier.sealed is not None and tier.sealed.rejected == 2
    assert tier.corrupt_entries == 2
