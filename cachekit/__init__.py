"""cachekit: a declarative, configuration-driven cache for asyncio Python apps.

Settings layers resolve into one frozen ``CacheConfig``; ``resolve`` wires it into a
cache stack (memory tier in front of Redis, safe encoding, compression). Importing
cachekit has no side effects: no clients, no logging configuration, no env reads.
"""

from cachekit._ai import AIResponseCache
from cachekit._ai_compat import AIResponseCacheConfig, CacheParameterMapper
from cachekit._builder import CacheConfigBuilder, EnvironmentPresets
from cachekit._circuit import CircuitBreaker, CircuitState
from cachekit._codec import Codec, CodecError
from cachekit._config import (
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
from cachekit._exceptions import (
    CacheConfigError,
    CacheError,
    CacheSecurityError,
    CacheTimeoutError,
    CacheUnavailableError,
    CacheValueError,
    ConfigProblem,
)
from cachekit._factory import CacheFactory, GenericRedisCache
from cachekit._health import GetResult, HealthReport, StateChange
from cachekit._keys import CacheKeyGenerator
from cachekit._memory import InMemoryCache
from cachekit._monitor import CachePerformanceMonitor
from cachekit._null import NullCache
from cachekit._protocol import UNSET, CacheInterface, Uncacheable
from cachekit._resilience import ResilientCache
from cachekit._resolver import resolve
from cachekit._security import RedisCacheSecurityManager
from cachekit._settings import ResolvedSettings, load_config, resolve_settings
from cachekit._tiered import TieredCache

__version__ = "0.1.0"

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
