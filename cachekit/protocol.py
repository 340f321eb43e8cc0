"""The protocols of the stack: ``CacheInterface``, and the tiers' and observers' shapes.

``CacheInterface`` is the one small protocol every cache and wrapper implements. Backends
implement the eight abstract methods; the base class supplies TTL checking, single-flight
``get_or_set``, the lifecycle (``connect``/``aclose``/``async with``) and ``build_key``.
Wrappers (tiering, resilience, telemetry) implement the same protocol, so a resolved
stack reads as a composition.

The layers that need more than that are written against the typing protocols below, never
against a concrete class: ``RemoteTier`` (what tiering, resilience and the outage journal
call on Redis), ``LocalTier`` (what they call on the memory tier), ``CommandObserver``
(the hook on a remote tier's command path that telemetry uses) and ``Monitor`` (what the
AI layer reports to).
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, ParamSpec, Protocol, TypeVar

from cachekit.cached import Cached, KeySpec, TagSpec, decorate
from cachekit.errors import CacheValueError
from cachekit.health import GetResult, HealthReport, StateChange, observe_read
from cachekit.keys import CacheKeyGenerator

# Re-exported: layers import the loader helpers from here.
from cachekit.loaders import Loader as Loader
from cachekit.loaders import Uncacheable as Uncacheable
from cachekit.loaders import call_loader as call_loader
from cachekit.loaders import is_uncacheable as is_uncacheable
from cachekit.loaders import unwrap as unwrap
from cachekit.tags import LocalTagIndex, TagCounts, TagIndex, check_tags, invalidate, tagging_loader

if TYPE_CHECKING:
    from cachekit.config.model import CacheConfig

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
"""Sentinel for "argument not given" (``ttl=None`` means no expiry, so it cannot be None)."""

TTL = float | int | None | _Unset


def check_ttl(ttl: TTL, default: float | None) -> float | None:
    """Resolve a TTL argument: UNSET → ``default``; None → no expiry; must be > 0."""
    if ttl is UNSET:
        return default
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise CacheValueError(f"ttl must be a number of seconds > 0 or None, got {ttl!r}")
    if not ttl > 0:
        raise CacheValueError(
            f"ttl must be > 0 seconds (None means no expiry), got {ttl!r}; "
            "ttl=0 is never replaced by the default"
        )
    return ttl


class CacheInterface(ABC):
    """Async cache protocol: get/set/delete/exists, batch forms, get_or_set, clear."""

    default_ttl: float | None = None
    #: What kind of storage this layer is: ``"memory"``, ``"redis"``, or None for a wrapper.
    tier: ClassVar[str | None] = None
    #: The resolved configuration of a stack: set by ``resolve`` on the stack it returns.
    config: CacheConfig | None = None
    #: Builds keys for ``build_key``; ``resolve`` sets one configured from ``ai``.
    key_generator: CacheKeyGenerator | None = None
    #: Where tags are recorded (``resolve`` sets it); else the tier's own, found below.
    tag_store: TagIndex | None = None

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    @property
    def monitor(self) -> Monitor | None:
        """Analytics and alerts of the stack (``monitoring.enabled``), else None."""
        return None

    # -- the protocol ----------------------------------------------------------------
    @abstractmethod
    async def get(self, key: str, *, type: Any = None) -> Any:
        """The value stored under ``key`` (decoded into ``type`` when given), or None."""

    @abstractmethod
    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None:
        """Store ``value`` for ``ttl`` seconds (default when left out, forever when None)."""

    @abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when something was removed."""

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds a live value."""

    @abstractmethod
    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """Values of the keys that hit (misses are left out)."""

    @abstractmethod
    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        """Store several values with one TTL."""

    @abstractmethod
    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove several keys; the number removed."""

    @abstractmethod
    async def clear(self) -> None:
        """Remove every entry of this cache's namespace (and nothing else)."""

    # -- provided ----------------------------------------------------------------------
    async def get_or_set(
        self, key: str, loader: Loader, ttl: TTL = UNSET, *, type: Any = None
    ) -> Any:
        """The cached value, or the loader's result stored under ``key``.

        Concurrent callers of a missing key share one loader run (single flight); a
        loader error reaches every waiter and nothing is cached.
        """
        check_ttl(ttl, self.default_ttl)
        value = await self.get(key, type=type)
        if value is not None:
            return value
        return await self._load_once(key, loader, ttl)

    async def _load_once(self, key: str, loader: Loader, ttl: TTL) -> Any:
        """Run ``loader`` for a missing ``key`` and store its result; concurrent callers
        of the same key share that one run (the second half of ``get_or_set``).

        A waiter gets the loader's value or its error, never a cancellation it did not
        ask for: when the loading task is cancelled, a waiter takes the load over.
        ``_claim`` / ``_release`` let a layer coordinate the load with other processes.
        """
        while True:
            pending = self._inflight.get(key)
            if pending is None:
                break
            try:
                return await asyncio.shield(pending)
            except _Abandoned:
                continue  # the loading task was cancelled: the next waiter loads
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            found, claim = await self._claim(key)
            if found is not None:
                value = found
            else:
                try:
                    result = await call_loader(loader)
                    if not is_uncacheable(result) and result is not None:
                        await self.set(key, result, ttl)
                finally:
                    await self._release(key, claim)
                value = unwrap(result)
            future.set_result(value)
            return value
        except asyncio.CancelledError:
            future.set_exception(_Abandoned())
            future.exception()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._inflight[key]

    async def _claim(self, key: str) -> tuple[Any, Any]:
        """Before loading ``key``: ``(value, None)`` when someone else loaded it meanwhile,
        else ``(None, claim)`` with what ``_release`` gets back. Here: nothing to claim."""
        return None, None

    async def _release(self, key: str, claim: Any) -> None:  # noqa: B027 - no-op default
        """After loading ``key`` (and storing it), give back what ``_claim`` took."""

    async def get_result(self, key: str, *, type: Any = None) -> GetResult:
        """The value under ``key`` and how it was found: ``hit``, ``miss`` or ``degraded``.

        ``degraded`` means Redis could not be asked (the value, if any, came from memory),
        so callers can tell an outage from a real miss. Works through every wrapper.
        """
        with observe_read() as notes:
            value = await self.get(key, type=type)
        if notes:
            return GetResult("degraded", value, notes[-1])
        return GetResult("hit" if value is not None else "miss", value)

    # -- tags (see cachekit.tags) ------------------------------------------------------
    @property
    def tag_counts(self) -> TagCounts:
        """Tagged writes and invalidated keys per tag made through this layer."""
        counts: TagCounts | None = self.__dict__.get("_tag_counts")
        if counts is None:
            counts = self.__dict__["_tag_counts"] = TagCounts()
        return counts

    def tags(self) -> TagIndex:
        """The stack's tag index: ``tag_store``, else the one of the tier below."""
        if self.tag_store is None:
            self.tag_store = self._default_tags()
        return self.tag_store

    def _default_tags(self) -> TagIndex:
        return LocalTagIndex(self.exists)

    async def set_tagged(
        self, key: str, value: Any, tags: Iterable[str], ttl: TTL = UNSET
    ) -> None:
        """``set``, with ``key`` recorded under each of ``tags`` first (``invalidate_tags``).

        When the index cannot be written (Redis down), the value is not stored and the
        key's old value is deleted: an entry is never stored where its tags cannot find it.
        """
        names, seconds = check_tags(tags), check_ttl(ttl, self.default_ttl)
        if names and not await self.tags().tag_keys(key, names, seconds):
            await self.delete(key)
            return
        self.tag_counts.wrote(names)
        await self.set(key, value, ttl)

    async def get_or_set_tagged(
        self, key: str, loader: Loader, tags: Iterable[str], ttl: TTL = UNSET, *, type: Any = None
    ) -> Any:
        """``get_or_set``, with a loaded value recorded under ``tags`` before it is stored."""
        seconds = check_ttl(ttl, self.default_ttl)
        load = tagging_loader(self, key, loader, check_tags(tags), seconds)
        return await self.get_or_set(key, load, ttl, type=type)

    async def invalidate_tags(self, tags: Iterable[str]) -> int:
        """Remove every entry carrying any of ``tags`` from every tier (and, through Redis,
        from every process's memory tier); the number of entries removed.

        Costs O(entries under the tags): their keys come off the index in batches, each
        batch deleted through the whole stack. Raises ``CacheUnavailableError`` when the
        index cannot be read: an invalidation that did not happen never looks done.
        """
        return await invalidate(self, check_tags(tags))

    def cached(
        self,
        *,
        ttl: TTL = UNSET,
        key: KeySpec | None = None,
        tags: TagSpec = (),
        condition: Callable[[Any], bool] | None = None,
    ) -> Callable[[Callable[P, Awaitable[R]]], Cached[P, R]]:
        """Decorate an async function to cache its results in this stack (``get_or_set``:
        single flight, the cross-process lease and ``[refresh]`` apply). See
        ``cachekit.cached``."""
        return decorate(self, ttl=ttl, key=key, tags=tags, condition=condition)

    def build_key(self, text: str, operation: str, options: Mapping[str, Any] | None = None) -> str:
        """A collision-free key for ``text`` under ``operation`` with ``options``."""
        if self.key_generator is None:
            self.key_generator = CacheKeyGenerator()
        return self.key_generator.generate_cache_key(text, operation, options)

    async def delete_matching(self, pattern: str) -> int:
        """Remove every key matching the Redis glob ``pattern``; the number removed.

        Escape user text with ``cachekit.backends.glob.escape_glob`` before putting it in a
        pattern. Backends that cannot enumerate their keys raise ``NotImplementedError``.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot delete keys by pattern")

    async def connect(self) -> bool:
        """Open connections; True when the backend is reachable. Safe to call twice."""
        return True

    async def health(self) -> HealthReport:
        """Current health; backends without remote parts are always ``ok``."""
        return HealthReport(status="ok", tiers={type(self).__name__: "ok"})

    def on_state_change(self, callback: Callable[[StateChange], object]) -> Callable[[], None]:
        """Call ``callback(StateChange)`` whenever the health status changes; returns a
        function that unsubscribes. Caches without remote parts never change state."""
        return _no_op

    async def aclose(self) -> None:  # noqa: B027 - a no-op is the right default
        """Release connections. Safe to call twice."""

    async def __aenter__(self: T) -> T:
        await self.connect()  # type: ignore[attr-defined]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _no_op() -> None:
    """The unsubscribe function of a cache whose state never changes."""


class _Abandoned(Exception):
    """Set on a single-flight future whose loading task was cancelled: waiters retry."""


# -- what layers call on the tiers below them ----------------------------------------------


class LocalTier(Protocol):
    """The memory tier as tiering, resilience and the outage journal use it."""

    default_ttl: float | None
    max_size: int
    max_bytes: int | None
    bytes_used: int

    @property
    def entries(self) -> int:
        """Entries held (telemetry reads it from the exporter's thread)."""
        ...

    @property
    def hits(self) -> int: ...
    @property
    def misses(self) -> int: ...
    @property
    def evictions(self) -> int: ...

    async def get(self, key: str, *, type: Any = None) -> Any: ...
    async def set(self, key: str, value: Any, ttl: TTL = UNSET) -> None: ...
    async def delete(self, key: str) -> bool: ...
    async def exists(self, key: str) -> bool: ...
    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]: ...
    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None: ...
    async def delete_many(self, keys: Iterable[str]) -> int: ...
    async def delete_matching(self, pattern: str) -> int: ...
    async def clear(self) -> None: ...
    async def aclose(self) -> None: ...
    async def get_ttl(self, key: str) -> float | None:
        """Seconds ``key`` has left (None: no expiry, or missing)."""
        ...

    def get_stats(self) -> dict[str, Any]:
        """The tier's own counters and occupancy."""
        ...


class CommandObserver(Protocol):
    """A hook on a remote tier's command path (telemetry counts and traces through it).

    The tier hands it each command, or each batch of commands sent in one round trip, as
    an awaitable; the observer awaits it and returns its result (or lets its error out).
    """

    async def command(self, name: str, call: Awaitable[T]) -> T: ...
    async def batch(self, names: Sequence[str], call: Awaitable[T]) -> T: ...

    def traced(self) -> bool:
        """False: the tier may await a command itself, then call ``counted()`` (no frames)."""

    def counted(self) -> None: ...


class InvalidationSink(Protocol):
    """Receives what a remote tier's invalidation stream says (``RemoteTier.tracker``)."""

    async def invalidated(self, keys: Sequence[str] | None) -> None:
        """``keys`` (without the stack's prefix) changed; None: everything did (a flush)."""
        ...

    async def tracking_ready(self) -> None:
        """Tracking is on: from now on every change is reported."""
        ...

    async def tracking_lost(self, reason: str) -> None:
        """Changes may have been missed (the stream dropped or went silent)."""
        ...

    async def tracking_unsupported(self, reason: str) -> None:
        """This server or user cannot track; nothing will be reported."""
        ...


class Tracking(Protocol):
    """A running invalidation stream (see ``cachekit.backends.redis.tracking``)."""

    state: str

    def launch(self) -> None: ...
    async def start(self, timeout: float) -> bool: ...
    async def aclose(self) -> None: ...
    def describe(self) -> str: ...


class RemoteTier(CacheInterface):
    """A shared tier (Redis): what tiering, resilience and the outage journal call on it.

    On top of the cache protocol: reads that return the remaining TTL (so a copy in memory
    expires with the original), ``add_many`` (write only where nothing is stored), a probe
    that writes without retries, and hooks for telemetry. Failures raise
    ``CacheUnavailableError`` (or a subclass). ``cachekit.backends.registry`` picks the
    implementation a URL names.
    """

    @property
    @abstractmethod
    def address(self) -> str:
        """Where the tier is, as a URL without secrets (for telemetry and reports)."""

    @property
    def call_deadline(self) -> float | None:
        """Seconds after which a single command fails on its own (``CacheTimeoutError``),
        or None when the caller must bound it (the resilience layer then does, per call)."""
        return None

    @abstractmethod
    async def get_with_ttl(self, key: str, *, type: Any = None) -> tuple[Any, float | None]:
        """The value and its remaining seconds (None: no expiry) in one round trip."""

    @abstractmethod
    async def get_many_with_ttl(
        self, keys: Iterable[str], *, type: Any = None
    ) -> dict[str, tuple[Any, float | None]]:
        """Hits with their remaining seconds."""

    @abstractmethod
    async def add_many(self, items: Mapping[str, tuple[Any, float | None]]) -> int:
        """Store each ``key: (value, ttl)`` only where nothing is stored; the number stored."""

    @abstractmethod
    async def probe(self, timeout: float, *, fresh: bool = False) -> str | None:
        """Write a short-lived key without retries within ``timeout`` seconds (on a new
        connection when ``fresh``); None when the tier took it, else why not."""

    @abstractmethod
    def observe(self, observer: CommandObserver | None) -> None:
        """Send every command through ``observer`` from now on (None: stop)."""

    @abstractmethod
    def observe_compression(self, callback: Callable[[int, int], None] | None) -> None:
        """Call ``callback(encoded_bytes, stored_bytes)`` for each value compressed."""

    @abstractmethod
    def tracker(self, sink: InvalidationSink) -> Tracking:
        """A stream reporting to ``sink`` every change of this tier's keys (not started)."""

    @abstractmethod
    async def acquire_lease(self, key: str, seconds: float) -> str | None:
        """Take the lease on loading ``key`` for ``seconds``; its token, or None when another
        holder has it."""

    @abstractmethod
    async def release_lease(self, key: str, token: str) -> None:
        """Give the lease back, only if ``token`` still holds it."""

    def _default_tags(self) -> TagIndex:
        return self  # the shared tier holds the shared index

    async def tag_keys(self, key: str, tags: Sequence[str], ttl: float | None) -> bool:
        """Record ``key`` under each of ``tags`` for at least ``ttl`` seconds (see
        ``cachekit.tags.TagIndex``); raises ``CacheUnavailableError`` when the tier fails."""
        raise NotImplementedError(f"{type(self).__name__} cannot record tags")

    async def pop_tagged(self, tag: str, count: int) -> list[str]:
        """Take up to ``count`` keys off ``tag``, each once."""
        raise NotImplementedError(f"{type(self).__name__} cannot record tags")


class Monitor(Protocol):
    """What layers report to the stack's monitor (``CachePerformanceMonitor``)."""

    def record_invalidation(
        self, kind: str, operation: str, pattern_label: str, count: int
    ) -> None: ...

    def record_key_generation_time(
        self,
        duration: float,
        text_length: int = 0,
        operation_type: str = "",
        *,
        sampled: bool | None = None,
    ) -> None: ...
