"""The public API: every name in ``cachekit.__all__`` exists, and the list stays sorted."""

from __future__ import annotations

import cachekit

SEED_NAMES = {
    "CacheInterface",
    "AIResponseCache",
    "GenericRedisCache",
    "InMemoryCache",
    "CacheKeyGenerator",
    "CachePerformanceMonitor",
    "AIResponseCacheConfig",
    "CacheParameterMapper",
    "RedisCacheSecurityManager",
    "SecurityConfig",
    "CacheFactory",
    "CacheConfig",
    "AICacheConfig",
    "CacheConfigBuilder",
    "EnvironmentPresets",
}


def test_exported_members_all_exist() -> None:
    """Every name in __all__ is an attribute of the package."""
    missing = [name for name in cachekit.__all__ if not hasattr(cachekit, name)]
    assert missing == []


def test_exported_members_sorted_and_unique() -> None:
    """__all__ is sorted (upper-case constants first, as ruff sorts) and has no duplicates."""
    assert len(set(cachekit.__all__)) == len(cachekit.__all__)
    assert list(cachekit.__all__) == sorted(cachekit.__all__, key=lambda n: (not n.isupper(), n))


def test_exported_members_include_the_original_public_names() -> None:
    """The original documentation's public names are all exported."""
    assert sorted(SEED_NAMES - set(cachekit.__all__)) == []


def test_exported_members_public_objects_are_exported() -> None:
    """Every public class or function defined in the package is listed in __all__."""
    public = {
        name
        for name, value in vars(cachekit).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("cachekit")
    }
    assert sorted(public - set(cachekit.__all__)) == []
