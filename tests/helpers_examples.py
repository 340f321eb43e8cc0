"""Running documentation examples as written: code with top-level ``await``, its
``redis://localhost:6379`` swapped for the test's own server (both halves of
test_seed_examples)."""

from __future__ import annotations

import textwrap
from typing import Any


async def run_example(source: str, url: str) -> dict[str, Any]:
    """Execute example code inside a coroutine (it uses top-level await)."""
    body = textwrap.indent(source.replace("redis://localhost:6379", url.rsplit("/", 1)[0]), "    ")
    namespace: dict[str, Any] = {}
    exec(f"async def __example():\n{body}\n    return locals()", namespace)
    result: dict[str, Any] = await namespace["__example"]()
    return result
