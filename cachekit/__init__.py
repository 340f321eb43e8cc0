"""cachekit: a declarative, configuration-driven cache for asyncio Python apps.

Settings layers resolve into one frozen ``CacheConfig``; ``resolve`` wires it into a
cache stack (memory tier in front of Redis, safe encoding, compression). Importing
cachekit has no side effects: no clients, no logging configuration, no env reads.
"""

from cachekit._builder import CacheConfigBuilder, EnvironmentPresets
from cachekit._codec import Codec, CodecError
from cachekit._config import (
    AICacheConfig,
    AIConfig,
    CacheConfig,
    CompressionConfig,
    MemoryConfig,
    MonitoringConfig,
    RedisConfig,
    SecurityConfig,
    SizeTiers,
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
from cachekit._keys import CacheKeyGenerator
from cachekit._memory import InMemoryCache
from cachekit._null import NullCache
from cachekit._protocol import UNSET, CacheInterface, Uncacheable
from cachekit._resolver import resolve
from cachekit._settings import ResolvedSettings, load_config, resolve_settings
from cachekit._tiered import TieredCache

__version__ = "0.1.0"

__all__ = [
    "UNSET",
    "AICacheConfig",
    "AIConfig",
    "CacheConfig",
    "CacheConfigBuilder",
    "CacheConfigError",
    "CacheError",
    "CacheFactory",
    "CacheInterface",
    "CacheKeyGenerator",
    "CacheSecurityError",
    "CacheTimeoutError",
    "CacheUnavailableError",
    "CacheValueError",
    "Codec",
    "CodecError",
    "CompressionConfig",
    "ConfigProblem",
    "EnvironmentPresets",
    "GenericRedisCache",
    "InMemoryCache",
    "MemoryConfig",
    "MonitoringConfig",
    "NullCache",
    "RedisConfig",
    "ResolvedSettings",
    "SecurityConfig",
    "SizeTiers",
    "TTLConfig",
    "TieredCache",
    "Uncacheable",
    "load_config",
    "resolve",
    "resolve_settings",
]
