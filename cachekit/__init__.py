"""cachekit: a declarative, configuration-driven cache for asyncio Python apps.

Settings layers resolve into one frozen ``CacheConfig``; ``resolve`` wires it into a
cache stack (memory tier in front of Redis, safe encoding, compression). Importing
cachekit has no side effects: no clients, no logging configuration, no env reads, and it
loads neither the web framework (``cachekit[server]``) nor the OTLP exporters
(``cachekit[otlp]``) nor dynaconf (loaded when settings are read). The names below are
the public API; the subpackages hold the layers (see README, "Architecture").
"""

from typing import TYPE_CHECKING

from cachekit._version import __version__ as __version__
from cachekit.backends.codec import Codec
from cachekit.backends.null import NullCache
from cachekit.compat.ai import AIResponseCache
from cachekit.compat.ai_config import AIResponseCacheConfig, CacheParameterMapper
from cachekit.compat.builder import CacheConfigBuilder
from cachekit.compat.factory import CacheFactory
from cachekit.compat.metrics import (
    CompressionMetric,
    InvalidationMetric,
    MemoryUsageMetric,
    PerformanceMetric,
)
from cachekit.compat.presets import EnvironmentPresets
from cachekit.compat.redis import GenericRedisCache
from cachekit.compat.results import ValidationResult
from cachekit.compat.results import ValidationResult as ConfigValidationResult
from cachekit.compat.security import RedisCacheSecurityManager
from cachekit.compat.security_config import create_security_config_from_env
from cachekit.compat.security_result import SecurityValidationResult
from cachekit.config.model import (
    AIConfig,
    CompressionConfig,
    MemoryConfig,
    MonitoringConfig,
    RedisConfig,
    ResilienceConfig,
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
from cachekit.layers.resilience.cache import ResilientCache
from cachekit.layers.resilience.circuit import CircuitBreaker, CircuitState
from cachekit.layers.tiered import TieredCache
from cachekit.protocol import UNSET, Uncacheable
from cachekit.resolver import resolve

# The original's names for core classes: at run time compat classes that also take the
# original's arguments and count core instances as theirs (cachekit.compat._alias); type
# checkers see the core classes, whose API is the typed one.
if TYPE_CHECKING:
    from cachekit.backends.memory import InMemoryCache
    from cachekit.config.model import AICacheConfig, CacheConfig, SecurityConfig
    from cachekit.keys import CacheKeyGenerator
    from cachekit.protocol import CacheInterface
    from cachekit.telemetry.monitor import CachePerformanceMonitor
else:
    from cachekit.compat.config import AICacheConfig, CacheConfig
    from cachekit.compat.interface import CacheInterface
    from cachekit.compat.keys import CacheKeyGenerator
    from cachekit.compat.memory import InMemoryCache
    from cachekit.compat.monitor import CachePerformanceMonitor
    from cachekit.compat.security_config import SecurityConfig

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
    "CompressionMetric",
    "ConfigProblem",
    "ConfigValidationResult",
    "EnvironmentPresets",
    "GenericRedisCache",
    "GetResult",
    "HealthReport",
    "InMemoryCache",
    "InvalidationMetric",
    "MemoryConfig",
    "MemoryUsageMetric",
    "MissingExtraError",
    "MonitoringConfig",
    "NullCache",
    "PerformanceMetric",
    "RedisCacheSecurityManager",
    "RedisConfig",
    "ResilienceConfig",
    "ResilientCache",
    "ResolvedSettings",
    "SecurityConfig",
    "SecurityValidationResult",
    "ServerConfig",
    "SizeTiers",
    "StateChange",
    "TTLConfig",
    "TieredCache",
    "TokenFields",
    "TokenPrice",
    "Uncacheable",
    "ValidationResult",
    "create_security_config_from_env",
    "load_config",
    "resolve",
    "resolve_settings",
]
