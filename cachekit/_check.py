"""``cachekit check``: is this deployment fit to serve? Validate, connect, round-trip."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TextIO

from cachekit._config import CacheConfig
from cachekit._exceptions import CacheError
from cachekit._masking import mask_url
from cachekit._resolver import resolve

EXIT_OK = 0
EXIT_UNFIT = 1


async def run_check(config: CacheConfig, out: TextIO) -> int:
    """Print a short report; return 0 when a value round-trips through the stack."""
    tiers = []
    if not config.enabled:
        out.write(f"ok: caching disabled by preset {config.preset} (every get misses)\n")
        return EXIT_OK
    if config.memory.enabled:
        tiers.append("memory")
    if config.redis.url:
        tiers.append(f"redis {mask_url(config.redis.url)}")
    out.write(
        f"environment {config.environment}, preset {config.preset}, tiers: {', '.join(tiers)}\n"
    )
    cache = resolve(config)
    key = f"cachekit-check:{secrets.token_hex(8)}"
    value = {"check": secrets.token_hex(8)}
    budget = config.redis.connect_timeout + config.redis.socket_timeout * 4
    started = time.perf_counter()
    try:
        async with asyncio.timeout(budget):
            await cache.connect()
            await cache.set(key, value, ttl=30)
            got = await cache.get(key)
            await cache.delete(key)
    except (CacheError, TimeoutError) as exc:
        reason = str(exc) or f"no answer within {budget:.1f}s"
        out.write(f"unfit: {reason}\n")
        return EXIT_UNFIT
    finally:
        await cache.aclose()
    elapsed_ms = (time.perf_counter() - started) * 1000
    if got != value:
        out.write("unfit: the value read back differs from the value written\n")
        return EXIT_UNFIT
    out.write(f"ok: round trip in {elapsed_ms:.1f} ms\n")
    return EXIT_OK
