"""The original documentation's non-AI usage examples run as written with cachekit (the
factory example, which needs a real redis-server, is in tests/integration)."""

from __future__ import annotations

from tests.helpers_examples import run_example

DIRECT_IMPORTS = """
from cachekit import AIResponseCache, GenericRedisCache, InMemoryCache
from cachekit import AIResponseCacheConfig
"""


async def test_seed_direct_imports_resolve() -> None:
    """The advanced section's imports name real classes."""
    scope = await run_example(DIRECT_IMPORTS, "redis://unused:1/0")
    assert {
        "AIResponseCache",
        "GenericRedisCache",
        "InMemoryCache",
        "AIResponseCacheConfig",
    } <= set(scope)
