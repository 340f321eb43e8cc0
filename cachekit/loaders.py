"""What ``get_or_set`` loaders return: a value, an awaitable of one, or ``Uncacheable``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

Loader = Callable[[], Any]


class Uncacheable:
    """Wraps a loader result that must be returned but not cached (a fallback answer)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def is_uncacheable(value: Any) -> bool:
    """Whether a loader marked its result as not cacheable."""
    return isinstance(value, Uncacheable)


def unwrap(value: Any) -> Any:
    """The value inside an ``Uncacheable`` marker, or the value itself."""
    return value.value if isinstance(value, Uncacheable) else value


async def call_loader(loader: Loader) -> Any:
    """Call a ``get_or_set`` loader, awaiting its result when it returns an awaitable."""
    result = loader()
    if inspect.isawaitable(result):
        result = await result
    return result
