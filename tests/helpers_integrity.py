"""Keys and a Redis-only config for the signed/encrypted entry tests (both halves of
test_integrity)."""

from __future__ import annotations

from typing import Any

from cachekit import CacheConfigBuilder, Codec
from cachekit.backends.integrity import SealedCodec
from cachekit.backends.redis.backend import RedisBackend
from cachekit.protocol import CacheInterface

KEY_A = "signing-key-A-0123456789abcdef"
KEY_B = "signing-key-B-0123456789abcdef"
ENC_A = "encryption-key-A-0123456789abcdef"
ENC_B = "encryption-key-B-0123456789abcdef"


def sealed(*, signing: tuple[str, ...] = (), encryption: tuple[str, ...] = ()) -> SealedCodec:
    """A sealed codec over the default codec."""
    return SealedCodec(Codec(), signing_keys=signing, encryption_keys=encryption)


def build(**dotted: Any) -> Any:
    """A Redis-only config (no memory tier, so reads reach Redis) with overrides."""
    base = {"redis.url": "redis://localhost:6379/0", "memory.enabled": False}
    return CacheConfigBuilder().with_preset("simple").with_overrides({**base, **dotted}).build()


def backend(cache: CacheInterface) -> RedisBackend:
    """The ``RedisBackend`` inside a resolved stack."""
    layer: Any = cache
    while not isinstance(layer, RedisBackend):
        layer = getattr(layer, "far", None) or layer.inner
    return layer
