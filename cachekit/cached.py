"""``@cache.cached(...)``: an async function whose results live in a cache stack.

::

    cache = cachekit.resolve()

    @cache.cached(ttl=300, key="user:{user_id}", tags=["user:{user_id}"])
    async def load_user(user_id: int) -> dict[str, Any]: ...

    await load_user(42)                  # runs once; concurrent callers share the run
    await load_user.refresh(42)          # run it again and store the fresh result
    await load_user.invalidate(42)       # forget the stored result
    await load_user.bypass(42)           # call it without reading or writing the cache
    await cache.invalidate_tags(["user:42"])

Each call is ``get_or_set`` on the stack, so single flight in the process, the lease across
processes and ``[refresh]`` (stale-while-revalidate, early refresh) apply. The key is
``key`` (a template filled from the arguments by name, or a function of the arguments), or
by default ``fn:<module>.<qualname>:<digest of the arguments>``: the arguments bound to the
signature with their defaults, encoded as sorted JSON (a first ``self`` or ``cls`` is left
out, so every instance shares the entries), so ``f(1)`` and ``f(x=1)`` share an entry.
An argument JSON cannot encode needs ``key=``. ``tags`` are templates or a function too.
A result ``condition`` refuses, and ``None``, are returned but not stored.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, ParamSpec, Protocol, TypeVar

import msgspec

from cachekit.errors import CacheValueError
from cachekit.loaders import Uncacheable

P = ParamSpec("P")
R = TypeVar("R")

KeySpec = str | Callable[..., str]
"""A key template (``"user:{user_id}"``) or a function of the call's arguments."""
TagSpec = Iterable[str] | Callable[..., Iterable[str]]
"""Tag templates (``["user:{user_id}"]``) or a function of the call's arguments."""

_DIGEST_CHARS = 32


class _Stack(Protocol):
    """What the decorator calls on a cache stack (``CacheInterface`` has it)."""

    async def get_or_set_tagged(
        self, key: str, loader: Callable[[], Any], tags: Iterable[str], ttl: Any = ..., *,
        type: Any = None,
    ) -> Any: ...  # fmt: skip

    async def set_tagged(self, key: str, value: Any, tags: Iterable[str], ttl: Any = ...) -> None:
        ...

    async def delete(self, key: str) -> bool: ...


def _refuse(value: Any) -> Any:
    raise TypeError(
        f"cannot build a cache key from an argument of type {type(value).__name__}: "
        "pass key= to @cached"
    )


_encode = msgspec.json.Encoder(enc_hook=_refuse, order="sorted").encode


class Cached(Generic[P, R]):
    """The decorated function: call it like the original; ``refresh``, ``invalidate``,
    ``bypass`` and ``key`` take the same arguments."""

    def __init__(
        self,
        fn: Callable[P, Awaitable[R]],
        cache: _Stack,
        *,
        ttl: Any,
        key: KeySpec | None,
        tags: TagSpec,
        condition: Callable[[Any], bool] | None,
    ) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise CacheValueError(f"@cached needs an async function, got {fn!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.cache = cache
        self.ttl = ttl
        self._key = key
        self._tags = tags
        self._condition = condition
        self._signature = inspect.signature(fn)
        params = list(self._signature.parameters)
        self._skip = params[0] if params and params[0] in {"self", "cls"} else None
        self._prefix = f"fn:{fn.__module__}.{fn.__qualname__}"

    def __repr__(self) -> str:
        return f"<cached {self._prefix[3:]}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Methods: the instance is passed on (and left out of the default key)."""
        if obj is None:
            return self
        return _Bound(self, obj)

    # -- keys and tags ---------------------------------------------------------------
    def _arguments(self, args: Any, kwargs: Any) -> dict[str, Any]:
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if self._skip is not None:
            arguments.pop(self._skip, None)
        return arguments

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The key a call with these arguments reads and writes."""
        spec = self._key
        if callable(spec):
            return spec(*args, **kwargs)
        arguments = self._arguments(args, kwargs)
        if spec is not None:
            return spec.format(**arguments)
        digest = hashlib.sha256(_encode(arguments)).hexdigest()[:_DIGEST_CHARS]
        return f"{self._prefix}:{digest}"

    def tags(self, *args: P.args, **kwargs: P.kwargs) -> list[str]:
        """The tags a call with these arguments puts on its entry."""
        spec = self._tags
        if callable(spec):
            return list(spec(*args, **kwargs))
        templates = list(spec)
        if not templates:
            return []
        arguments = self._arguments(args, kwargs)
        return [template.format(**arguments) for template in templates]

    # -- calls -------------------------------------------------------------------------
    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        condition, fn = self._condition, self.fn

        async def load() -> Any:
            result = await fn(*args, **kwargs)
            if condition is not None and not condition(result):
                return Uncacheable(result)
            return result

        key, tags = self.key(*args, **kwargs), self.tags(*args, **kwargs)
        result: R = await self.cache.get_or_set_tagged(key, load, tags, self.ttl)
        return result

    async def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function now and store its result (when cacheable); the result."""
        result = await self.fn(*args, **kwargs)
        condition = self._condition
        if result is not None and (condition is None or condition(result)):
            key, tags = self.key(*args, **kwargs), self.tags(*args, **kwargs)
            await self.cache.set_tagged(key, result, tags, self.ttl)
        return result

    async def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Forget the stored result of these arguments; True when one was removed."""
        return await self.cache.delete(self.key(*args, **kwargs))

    async def bypass(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the function without reading or writing the cache."""
        return await self.fn(*args, **kwargs)


class _Bound:
    """A cached method of one instance: the same calls, with the instance passed first."""

    __slots__ = ("_cached", "_obj")

    def __init__(self, cached: Cached[..., Any], obj: Any) -> None:
        self._cached, self._obj = cached, obj

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return self._cached(self._obj, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # refresh, invalidate, bypass, key, tags
        return functools.partial(getattr(self._cached, name), self._obj)


def decorate(
    cache: _Stack,
    *,
    ttl: Any,
    key: KeySpec | None,
    tags: TagSpec,
    condition: Callable[[Any], bool] | None,
) -> Callable[[Callable[P, Awaitable[R]]], Cached[P, R]]:
    """The decorator ``CacheInterface.cached`` returns."""
    if isinstance(tags, str):
        raise CacheValueError(f"tags must be a list of templates, got the string {tags!r}")

    def wrap(fn: Callable[P, Awaitable[R]]) -> Cached[P, R]:
        return Cached(fn, cache, ttl=ttl, key=key, tags=tags, condition=condition)

    return wrap
