"""The typed, frozen configuration model.

Settings cross one boundary (``cachekit.config.settings``) and arrive here as immutable
msgspec Structs. Tunable numbers have no defaults in Python: they come from the preset
files in ``environments/``. The only defaults below are the "feature not configured"
values of optional security fields, so that ``SecurityConfig(username=..., password=...)``
works as in the original documentation.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec

from cachekit.config.masking import mask_url
from cachekit.config.urls import scheme_mode

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]

CompressionAlgorithm = Literal["zstd", "zlib", "lz4", "none"]
TLSVersion = Literal["TLSv1.2", "TLSv1.3"]
TelemetryProviders = Literal["app", "auto", "own"]
OTLPProtocol = Literal["http/protobuf", "grpc"]
# Share of an alert's threshold a value must fall back to before the alert clears.
ClearRatio = Annotated[float, msgspec.Meta(gt=0, le=1)]
Posture = Literal["strict", "relaxed"]
RecoveryPolicy = Literal["drop", "write_back"]
CoherenceMode = Literal["tracking", "bounded", "local"]
MemoryCopies = Literal["private", "shared"]
RedisMode = Literal["standalone", "sentinel", "cluster"]
ReadFrom = Literal["master", "replica"]
HashTag = Literal["none", "namespace"]
# A signing / encryption key: a random string from a secrets store, 16 characters or more.
SecretKey = Annotated[str, msgspec.Meta(min_length=16)]

# Levels each algorithm accepts (inclusive); "none" ignores the level.
COMPRESSION_LEVELS: dict[str, tuple[int, int]] = {
    "zstd": (1, 22),
    "zlib": (0, 9),
    "lz4": (0, 16),
    "none": (0, 0),
}

class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every config section: frozen, keyword-only, unknown keys rejected."""


class RedisConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where Redis is and how cachekit talks to it. ``url = ""`` means memory only.

    ``mode`` is the topology: one server, a master found through Sentinel, or a Cluster
    (a ``redis+sentinel://`` / ``redis+cluster://`` URL says so too; see ``topology``).
    ``sentinel_master`` names the master's service when the URL does not;
    ``sentinel_username`` / ``sentinel_password`` authenticate to the sentinels (the
    URL's credentials are the data nodes'). ``read_from = "replica"`` sends reads to a
    replica (Sentinel). ``hash_tag = "namespace"`` puts every key of the namespace in one
    cluster slot (``{namespace:environment}:key``).
    """

    url: str
    mode: RedisMode
    sentinel_master: str
    read_from: ReadFrom
    hash_tag: HashTag
    max_connections: PositiveInt
    socket_timeout: PositiveFloat
    connect_timeout: PositiveFloat
    retries: NonNegativeInt
    retry_backoff_base: PositiveFloat
    retry_backoff_cap: PositiveFloat
    fail_on_connection_error: bool
    auto_pipeline: bool
    lease_seconds: NonNegativeFloat
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    @property
    def topology(self) -> RedisMode:
        """The topology in effect: the one a ``+sentinel`` / ``+cluster`` scheme names, else
        ``mode`` (validation refuses a URL and a mode that disagree)."""
        named = scheme_mode(self.url)
        return named if named is not None else self.mode

    def __repr__(self) -> str:
        pw = "None" if self.password is None else "'***'"
        return (
            f"RedisConfig(url={mask_url(self.url)!r}, mode={self.topology!r}, "
            f"username={self.username!r}, password={pw}, "
            f"max_connections={self.max_connections}, "
            f"socket_timeout={self.socket_timeout}, connect_timeout={self.connect_timeout})"
        )


class MemoryConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The in-process tier: TTL + LRU bounded by entries and bytes.

    ``coherence`` keeps it honest when several processes share one Redis (see
    ``cachekit.layers.coherence``): ``tracking`` (Redis reports every change; copies are
    dropped as reports arrive), ``bounded`` (copies live at most ``max_stale_seconds``),
    ``local`` (copies live their TTL: one process that owns its Redis only).

    ``copies``: ``private`` (every hit hands out a copy of a mutable value) or ``shared``
    (dicts and lists up to 64 KiB are handed out as held, like cachetools: no copy, and
    callers must not mutate what they get).
    """

    enabled: bool
    max_entries: PositiveInt
    max_bytes: PositiveInt
    coherence: CoherenceMode
    max_stale_seconds: PositiveFloat
    copies: MemoryCopies = "private"


class CompressionConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The codec: compression of encoded values above ``threshold`` bytes, and the largest
    value it accepts (``max_value_bytes``, its MessagePack encoding before compression:
    larger values are refused at ``set`` with ``CacheValueError``, and stored entries that
    would decompress to more are misses)."""

    algorithm: CompressionAlgorithm
    level: int
    threshold: NonNegativeInt
    max_value_bytes: PositiveInt


class TTLConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Time to live, in seconds, when a call gives none."""

    default: PositiveInt


class SecurityConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """TLS, authentication, posture rules and entry protection (the original's names).

    ``username`` / ``password`` are the ACL user (a password alone is legacy ``AUTH``);
    they are the same setting as ``redis.username`` / ``redis.password``: set either,
    setting both to different values is a configuration error. ``signing_keys`` and
    ``encryption_keys`` protect stored entries (the first key writes, any key reads).
    Every field has a default so that ``SecurityConfig(username=..., password=...,
    use_tls=True)`` works as in the original documentation; resolved configs take them
    from the preset files.
    """

    use_tls: bool = False
    tls_ca_path: str | None = None
    tls_cert_path: str | None = None
    tls_key_path: str | None = None
    verify_certificates: bool = True
    min_tls_version: TLSVersion = "TLSv1.2"
    allow_insecure: bool = False
    username: str | None = None
    password: str | None = None
    posture: Posture = "relaxed"
    signing_keys: tuple[SecretKey, ...] = ()
    encryption_keys: tuple[SecretKey, ...] = ()

    def __repr__(self) -> str:
        def keys(found: tuple[str, ...]) -> str:
            return f"<{len(found)} key{'s' if len(found) != 1 else ''}>"

        pw = "None" if self.password is None else "'***'"
        return (
            f"SecurityConfig(use_tls={self.use_tls}, tls_ca_path={self.tls_ca_path!r}, "
            f"tls_cert_path={self.tls_cert_path!r}, tls_key_path={self.tls_key_path!r}, "
            f"verify_certificates={self.verify_certificates}, "
            f"min_tls_version={self.min_tls_version!r}, allow_insecure={self.allow_insecure}, "
            f"username={self.username!r}, password={pw}, "
            f"posture={self.posture!r}, signing_keys={keys(self.signing_keys)}, "
            f"encryption_keys={keys(self.encryption_keys)})"
        )


class MonitoringConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Telemetry switches, where telemetry goes, and the alert rules' thresholds.

    ``providers``: ``app`` uses the OpenTelemetry providers the application installed
    (nothing is exported when it installed none), ``own`` gives cachekit providers of its
    own (never global) exporting over OTLP, ``auto`` uses the application's where it has
    them and cachekit's own where an OTLP endpoint is configured. The standard ``OTEL_*``
    variables win over ``otlp_protocol`` and ``export_interval_seconds``.
    """

    enabled: bool
    providers: TelemetryProviders
    otlp_protocol: OTLPProtocol
    export_interval_seconds: PositiveFloat
    duration_sample_every: PositiveInt
    slow_operation_seconds: PositiveFloat
    slow_key_generation_seconds: PositiveFloat
    memory_warning_bytes: PositiveInt
    memory_critical_bytes: PositiveInt
    invalidation_warning_per_hour: PositiveInt
    invalidation_critical_per_hour: PositiveInt
    invalidation_pattern_share: Fraction
    invalidation_pattern_min_events: PositiveInt
    hit_ratio_floor: Fraction
    hit_ratio_window_seconds: PositiveFloat
    hit_ratio_min_lookups: PositiveInt
    degraded_alert_seconds: PositiveFloat
    alert_eval_seconds: PositiveFloat
    alert_window_seconds: PositiveFloat
    alert_cooldown_seconds: NonNegativeFloat
    alert_clear_ratio: ClearRatio


class ResilienceConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What the cache does when Redis fails: circuit breaker, probes, recovery.

    ``failure_threshold`` consecutive failed Redis calls open the circuit; while open,
    calls are served from memory and a probe runs after ``probe_backoff_base`` seconds,
    doubling per failed probe up to ``probe_backoff_cap``. ``recovery`` says what happens
    to entries written to memory during the outage once Redis is back: ``drop`` them, or
    ``write_back`` each one only where Redis has no value for its key (SET NX).
    ``bulk_timeout`` bounds ``clear`` and pattern invalidation, whose work grows with the
    key space (every other call is bounded by ``redis.socket_timeout``).
    """

    failure_threshold: PositiveInt
    probe_backoff_base: PositiveFloat
    probe_backoff_cap: PositiveFloat
    recovery: RecoveryPolicy
    bulk_timeout: PositiveFloat


class SizeTiers(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Upper bounds, in characters, of the small / medium / large text tiers."""

    small: PositiveInt
    medium: PositiveInt
    large: PositiveInt


class TokenFields(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where a cached AI response keeps its token usage and model: dotted paths into it
    (``"usage.prompt_tokens"``); ``""`` means responses do not carry that field."""

    prompt: str
    completion: str
    model: str


class TokenPrice(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Price of 1,000 tokens of one model, in the currency of your choice."""

    prompt: NonNegativeFloat
    completion: NonNegativeFloat


ModelName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class AIConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Prompt-aware keys, the one per-operation TTL table, and what a cache hit saves.

    ``prices`` is keyed by the model a response names (``token_fields.model``); its
    ``default`` entry prices responses whose model is not listed.
    """

    enabled: bool
    text_hash_threshold: NonNegativeInt
    size_tiers: SizeTiers
    max_text_length: PositiveInt
    normalize_whitespace: bool
    operation_ttls: dict[Name, PositiveInt]
    token_fields: TokenFields
    prices: dict[ModelName, TokenPrice]


class RefreshPolicy(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How ``get_or_set`` refreshes an entry: ``stale_seconds`` past its TTL the expired
    value is still served while one task reloads it (stale-while-revalidate), and with
    ``early_beta`` > 0 a reload starts before expiry with a probability that grows as
    expiry nears and with the load's duration (XFetch; 1.0 is the usual choice)."""

    stale_seconds: NonNegativeFloat
    early_beta: NonNegativeFloat


class RefreshConfig(RefreshPolicy, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The refresh policy of every key, and per AI operation (keys made by ``build_key``)."""

    operations: dict[Name, RefreshPolicy]

    def policy(self, operation: str | None) -> RefreshPolicy:
        """The policy of ``operation`` (None: a key not made by ``build_key``)."""
        if operation is not None:
            found = self.operations.get(operation)
            if found is not None:
                return found
        return self


Scope = Literal["read", "write", "admin"]
OPEN_ENVIRONMENTS: Final = frozenset({"development", "testing"})
"""Environments whose service may run without a token (on a loopback host), or weak ones."""
MIN_TOKEN_LENGTH: Final = 32
"""Shortest token accepted outside ``OPEN_ENVIRONMENTS``."""
NamespaceGrant = Annotated[str, msgspec.Meta(pattern=r"^(\*|[A-Za-z0-9_.-]{1,64})$")]
AuthMode = Literal["writes", "all"]


class TokenGrant(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One bearer token of the service and what it may do: ``scopes`` (``read`` values,
    ``write`` them, ``admin`` the ops endpoints) in ``namespaces`` (``"*"``: all)."""

    token: Annotated[str, msgspec.Meta(min_length=1)]
    namespaces: Annotated[tuple[NamespaceGrant, ...], msgspec.Meta(min_length=1)]
    scopes: Annotated[tuple[Scope, ...], msgspec.Meta(min_length=1)]

    def __repr__(self) -> str:
        return f"TokenGrant(token='***', namespaces={self.namespaces!r}, scopes={self.scopes!r})"


class ServerConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``cachekit serve`` and the ops router: bind address, who may do what, request limits.

    ``token`` is the admin token: every scope in every namespace. ``tokens`` are named
    grants (``TokenGrant``) for tenants. ``auth`` says what needs a token: ``"writes"``
    (reads are open) or ``"all"``. With no token at all, everything is open, and only in
    the ``development`` and ``testing`` environments on a loopback address. Tokens are
    secrets: set them in ``.secrets.toml`` or ``CACHEKIT_SERVER__TOKEN``.

    ``readiness_interval``: seconds ``/readyz`` answers from the last probe of the stack.
    ``header_timeout`` / ``body_timeout``: seconds a client has to send a request's headers,
    then its body; ``keep_alive_timeout``: seconds an idle connection stays open;
    ``max_connections``: connections served at once (requests beyond get 503).
    """

    host: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)]
    max_body_bytes: PositiveInt
    require_redis: bool
    auth: AuthMode
    tokens: dict[Name, TokenGrant]
    readiness_interval: PositiveFloat
    header_timeout: PositiveFloat
    body_timeout: PositiveFloat
    keep_alive_timeout: PositiveFloat
    max_connections: PositiveInt
    token: Annotated[str, msgspec.Meta(min_length=1)] | None = None

    def __repr__(self) -> str:
        token = "None" if self.token is None else "'***'"
        return (
            f"ServerConfig(host={self.host!r}, port={self.port}, auth={self.auth!r}, "
            f"token={token}, tokens=<{len(self.tokens)} grants>, "
            f"max_body_bytes={self.max_body_bytes}, require_redis={self.require_redis})"
        )


class Budget(msgspec.Struct, frozen=True):
    """The time limits a stack derives from its settings, computed in one place.

    ``call`` bounds one Redis call (``redis.socket_timeout``: the socket timeout alone
    bounds neither pool waits, retries nor reconnects); ``connect`` bounds connecting,
    probing and health checks (``redis.connect_timeout`` + ``redis.socket_timeout``);
    ``bulk`` bounds ``clear`` and pattern invalidation (``resilience.bulk_timeout``).
    """

    call: float
    connect: float
    bulk: float

    def steps(self, calls: int) -> float:
        """A connect followed by ``calls`` Redis calls (``cachekit check``'s round trip)."""
        return self.connect + calls * self.call


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
    server: ServerConfig
    resilience: ResilienceConfig
    refresh: RefreshConfig

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
        """Prefix of every Redis key this stack owns: ``namespace:environment:``, or
        ``{namespace:environment}:`` with ``redis.hash_tag = "namespace"`` (a cluster hash
        tag: the namespace lives in one slot)."""
        if self.redis.hash_tag == "namespace":
            return f"{{{self.namespace}:{self.environment}}}:"
        return f"{self.namespace}:{self.environment}:"

    @property
    def max_value_bytes(self) -> int:
        """The largest encoded value every tier of this stack accepts: the codec's cap
        (``compression.max_value_bytes``), or less when the memory tier is smaller
        (``memory.max_bytes``; it also bounds the standby memory of a Redis-only stack)."""
        return min(self.compression.max_value_bytes, self.memory.max_bytes)

    @property
    def budget(self) -> Budget:
        """The time limits derived from ``redis`` and ``resilience`` (see ``Budget``)."""
        redis = self.redis
        return Budget(
            call=redis.socket_timeout,
            connect=redis.connect_timeout + redis.socket_timeout,
            bulk=self.resilience.bulk_timeout,
        )

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
