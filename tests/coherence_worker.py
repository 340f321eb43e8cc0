"""A cache worker in its own OS process, driven by a test over stdin/stdout (JSON lines).

    python -m tests.coherence_worker '{"redis.url": "redis://127.0.0.1:6400/0", ...}'

It resolves one stack from the ``simple`` preset with the given dotted overrides (AI
layer on, so ``invalidate_by_operation`` works), connects it, prints ``{"ready": ...}``
and then answers one JSON line per command line::

    {"op": "get", "key": "k"}                  -> {"value": ...}
    {"op": "set", "key": "k", "value": 1}      -> {"value": null}
    {"op": "set_tagged", "key": "k", "value": 1, "tags": ["user:42"]}
    {"op": "invalidate_tags", "tags": ["user:42"]}  -> {"value": <keys removed>}
    {"op": "memory", "key": "k"}               -> {"value": <the memory tier's copy>}
    {"op": "get_or_set", "key": "k", "tasks": 16, "load_seconds": 0.5}
                                               -> {"value": [...], "loads": 1}
    {"op": "health"}                           -> {"value": {...}}

Errors come back as ``{"error": "..."}``; the test reads them as failures.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from cachekit import CacheConfigBuilder, resolve
from cachekit.layers.wrapper import memory_tier


async def _serve(overrides: dict[str, Any]) -> None:
    config = (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_ai_features()
        .with_overrides({"monitoring.enabled": False, **overrides})
        .build()
    )
    cache: Any = resolve(config, environ={})
    loads = 0
    async with cache:
        health = await cache.health()
        _write({"ready": health.to_dict(), "pid": os.getpid()})
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command = json.loads(line)
            op, key = command["op"], command.get("key", "")
            try:
                if op == "get":
                    value = await cache.get(key)
                elif op == "set":
                    value = await cache.set(key, command["value"], command.get("ttl", 3600))
                elif op == "set_tagged":
                    tags, ttl = command["tags"], command.get("ttl", 3600)
                    value = await cache.set_tagged(key, command["value"], tags, ttl)
                elif op == "invalidate_tags":
                    value = await cache.invalidate_tags(command["tags"])
                elif op == "delete":
                    value = await cache.delete(key)
                elif op == "delete_many":
                    value = await cache.delete_many(command["keys"])
                elif op == "invalidate_pattern":
                    value = await cache.delete_matching(command["pattern"])
                elif op == "invalidate_by_operation":
                    value = await cache.invalidate_by_operation(command["operation"])
                elif op == "clear":
                    value = await cache.clear()
                elif op == "build_key":
                    value = cache.build_key(command["text"], command["operation"])
                elif op == "memory":
                    memory = memory_tier(cache)
                    value = None if memory is None else await memory.get(key)
                elif op == "health":
                    value = (await cache.health()).to_dict()
                elif op == "get_or_set":
                    before = loads

                    async def load(seconds: float = command["load_seconds"]) -> str:
                        nonlocal loads
                        loads += 1
                        await asyncio.sleep(seconds)
                        return f"loaded by {os.getpid()}"

                    values = await asyncio.gather(
                        *(cache.get_or_set(key, load) for _ in range(command["tasks"]))
                    )
                    _write({"value": values, "loads": loads - before})
                    continue
                elif op == "exit":
                    return
                else:
                    raise ValueError(f"unknown op {op!r}")
            except Exception as exc:
                _write({"error": f"{type(exc).__name__}: {exc}"})
                continue
            _write({"value": value})


def _write(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(_serve(json.loads(sys.argv[1])))
