"""cachekit: a declarative, configuration-driven cache for asyncio Python apps.

Settings layers resolve into one frozen ``CacheConfig``; ``resolve`` wires it into a
cache stack (memory tier in front of Redis, safe encoding, compression). Importing
cachekit has no side effects: no clients, no logging configuration, no env reads, and it
loads neither the web framework (``cachekit[server]``) nor the OTLP exporters
(``cachekit[otlp]``) nor dynaconf (loaded when settings are read). The names below are
the public API; the subpackages hold the layers (see README, "Architecture").
"""

from cachekit._version import __version__ as __version__
from cachekit.backends.codec import Codec
from cachekit.backends.memory import InMemoryCache
from cachekit.backends.null import NullCache
from cachekit.compat.ai import AIResponseCache
from cachekit.compat.ai_config import AIResponseCacheConfig, CacheParameterMapper
from cachekit.compat.builder import CacheConfigBuilder, EnvironmentPresets
from cachekit.compat.factory import CacheFactory, GenericRedisCache
from cachekit.compat.security import RedisCacheSecurityManager
from cachekit.config.model import (
    AICacheConfig,
    AIConfig,
    CacheConfig,
    CompressionConfig,
    MemoryConfig,
    MonitoringConfig,
    RedisConfig,
    ResilienceConfig,
    SecurityConfig,
    ServerConfig,
    SizeTiers,
    TokenFields,
    TokenPrice,
    TTLConfig,
)
from cachekit.config.settings import ResolvedSettings, load_config, resolve_settings
from cachekit.errors import (
    CacheConfigError,
    CacheError,
    CacheSecurityError,
    CacheTimeoutError,
    CacheUnavailableError,
    CacheValueError,
    CodecError,
    ConfigProblem,
    MissingExtraError,
)
from cachekit.health import GetResult, HealthReport, StateChange
from cachekit.keys import CacheKeyGenerator
from cachekit.layers.resilience.cache import ResilientCache
from cachekit.layers.resilience.circuit import CircuitBreaker, CircuitState
from cachekit.layers.tiered import TieredCache
from cachekit.protocol import UNSET, CacheInterface, Uncacheable
from cachekit.resolver import resolve
from cachekit.telemetry.monitor import CachePerformanceMonitor

__all__ = [
    "UNSET",
    "AICacheConfig",
    "AIConfig",
    "AIResponseCache",
    "AIResponseCacheConfig",
    "CacheConfig",
    "CacheConfigBuilder",
    "CacheConfigError",
    "CacheError",
    "CacheFactory",
    "CacheInterface",
    "CacheKeyGenerator",
    "CacheParameterMapper",
    "CachePerformanceMonitor",
    "CacheSecurityError",
    "CacheTimeoutError",
    "CacheUnavailableError",
    "CacheValueError",
    "CircuitBreaker",
    "CircuitState",
    "Codec",
    "CodecError",
    "CompressionConfig",
    "ConfigProblem",
    "EnvironmentPresets",
    "GenericRedisCache",
    "GetResult",
    "HealthReport",
    "InMemoryCache",
    "MemoryConfig",
    "MissingExtraError",
    "MonitoringConfig",
    "NullCache",
    "RedisCacheSecurityManager",
    "RedisConfig",
    "ResilienceConfig",
    "ResilientCache",
    "ResolvedSettings",
    "SecurityConfig",
    "ServerConfig",
    "SizeTiers",
    "StateChange",
    "TTLConfig",
    "TieredCache",
    "TokenFields",
    "TokenPrice",
    "Uncacheable",
    "load_config",
    "resolve",
    "resolve_settings",
]
