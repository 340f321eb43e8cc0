"""Compat classes that stand for a core class under the original's name.

``cachekit.CacheInterface``, ``cachekit.InMemoryCache``, ``cachekit.CacheKeyGenerator``,
``cachekit.CachePerformanceMonitor``, ``cachekit.SecurityConfig`` and
``cachekit.CacheConfig`` are, at run time, compat classes: subclasses of the core class
(or, for ``CacheConfig``, a record of the original's flat fields) that accept the
original's constructor arguments and methods. ``counts_core`` makes every core instance
count as one of them too, so ``isinstance(resolve(config), cachekit.CacheInterface)``
holds. Type checkers see the core classes (``cachekit/__init__.py``), whose API is the
typed one.
"""

from __future__ import annotations

from typing import Any


def counts_core(cls: type, owner: type, core: type, subclass: type) -> Any:
    """The ``__subclasshook__`` answer of ``owner``: subclasses of ``core`` count as
    ``owner``'s (only for ``owner`` itself: its own subclasses keep the normal rules)."""
    if cls is owner and core in getattr(subclass, "__mro__", ()):
        return True
    return NotImplemented
