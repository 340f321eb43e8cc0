"""The receiving side of the invalidation-lag benchmark: a stack in its own process.

    python -m bench._lag_worker REDIS_URL

Connects a ``simple``-preset stack with tracking on, prints ``ready``, notes when each
report of a changed key is handled (``time.monotonic_ns``, the same clock in every process
on Linux), and prints them as JSON when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench import _stacks as stacks
from cachekit.layers.resilience.cache import ResilientCache
from cachekit.layers.wrapper import stack_layers


async def main(url: str) -> None:
    cache = stacks.stack(url, memory__coherence="tracking")
    seen: dict[str, int] = {}
    async with cache:
        (resilient,) = [x for x in stack_layers(cache) if isinstance(x, ResilientCache)]
        coherence: Any = resilient.coherence
        handle = coherence.invalidated

        async def noted(keys: Sequence[str] | None) -> None:
            now = time.monotonic_ns()
            for key in keys or ():
                seen.setdefault(key, now)
            await handle(keys)

        coherence.invalidated = noted
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
