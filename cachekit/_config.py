"""The typed, frozen configuration model.

Settings cross one boundary (``cachekit._settings``) and arrive here as immutable
msgspec Structs. Tunable numbers have no defaults in Python: they come from the preset
files in ``environments/``. The only defaults below are the "feature not configured"
values of optional security fields, so that ``SecurityConfig(username=..., password=...)``
works as in the original documentation.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]

CompressionAlgorithm = Literal["zstd", "zlib", "lz4", "none"]
TLSVersion = Literal["TLSv1.2", "TLSv1.3"]

# Levels each algorithm accepts (inclusive); "none" ignores the level.
COMPRESSION_LEVELS: dict[str, tuple[int, int]] = {
    "zstd": (1, 22),
    "zlib": (0, 9),
    "lz4": (0, 16),
    "none": (0, 0),
}

# Dotted keys whose values are secrets: masked in every output.
SECRET_KEYS: frozenset[str] = frozenset(
    {"redis.password", "security.signing_keys", "security.encryption_keys"}
)


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every config section: frozen, keyword-only, unknown keys rejected."""


class RedisConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where Redis is and how cachekit talks to it. ``url = ""`` means memory only."""

    url: str
    max_connections: PositiveInt
    socket_timeout: PositiveFloat
    connect_timeout: PositiveFloat
    retries: NonNegativeInt
    retry_backoff_base: PositiveFloat
    retry_backoff_cap: PositiveFloat
    fail_on_connection_error: bool
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        from cachekit._masking import mask_url

        pw = "None" if self.password is None else "'***'"
        return (
            f"RedisConfig(url={mask_url(self.url)!r}, username={self.username!r}, "
            f"password={pw}, max_connections={self.max_connections}, "
            f"socket_timeout={self.socket_timeout}, connect_timeout={self.connect_timeout})"
        )


class MemoryConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The in-process tier: TTL + LRU bounded by entries and bytes."""

    enabled: bool
    max_entries: PositiveInt
    max_bytes: PositiveInt


class CompressionConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Compression of encoded values above ``threshold`` bytes."""

    algorithm: CompressionAlgorithm
    level: int
    threshold: NonNegativeInt


class TTLConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Time to live, in seconds, when a call gives none."""

    default: PositiveInt


class SecurityConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """TLS and authentication options (the original's names), and posture overrides."""

    use_tls: bool = False
    tls_ca_path: str | None = None
    tls_cert_path: str | None = None
    tls_key_path: str | None = None
    verify_certificates: bool = True
    min_tls_version: TLSVersion = "TLSv1.2"
    allow_insecure: bool = False


class MonitoringConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Telemetry switches and alert thresholds."""

    enabled: bool
    slow_operation_seconds: PositiveFloat
    slow_key_generation_seconds: PositiveFloat
    memory_warning_bytes: PositiveInt
    memory_critical_bytes: PositiveInt
    invalidation_warning_per_hour: PositiveInt
    invalidation_critical_per_hour: PositiveInt
    invalidation_pattern_share: Fraction


class SizeTiers(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Upper bounds, in characters, of the small / medium / large text tiers."""

    small: PositiveInt
    medium: PositiveInt
    large: PositiveInt


class AIConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Prompt-aware keys and the one per-operation TTL table."""

    enabled: bool
    text_hash_threshold: NonNegativeInt
    size_tiers: SizeTiers
    max_text_length: PositiveInt
    normalize_whitespace: bool
    operation_ttls: dict[Name, PositiveInt]


class CacheConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole resolved configuration: one frozen object per stack."""

    preset: str
    environment: Name
    enabled: bool
    namespace: Name
    ttl: TTLConfig
    redis: RedisConfig
    memory: MemoryConfig
    compression: CompressionConfig
    security: SecurityConfig
    monitoring: MonitoringConfig
    ai: AIConfig

    @property
    def default_ttl(self) -> int:
        """The TTL applied when a call gives none (the original's attribute name)."""
        return self.ttl.default

    @property
    def redis_url(self) -> str | None:
        """The Redis URL, or ``None`` for a memory-only stack."""
        return self.redis.url or None

    @property
    def key_prefix(self) -> str:
        """Prefix of every Redis key this stack owns: ``namespace:environment:``."""
        return f"{self.namespace}:{self.environment}:"

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict of the config (secrets in clear: mask before showing)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

    def __repr__(self) -> str:
        return (
            f"CacheConfig(preset={self.preset!r}, environment={self.environment!r}, "
            f"enabled={self.enabled}, redis={self.redis!r})"
        )


# The original's name for an AI-enabled configuration: same class, same validation.
AICacheConfig = CacheConfig
