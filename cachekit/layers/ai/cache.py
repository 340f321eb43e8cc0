"""``AIResponseCache``: the AI domain layer over a resolved cache stack.

It wraps the stack like every cross-cutting layer (composition, not a subclass tower)
and adds what cached LLM responses need:

- keys: ``build_key(text, operation, options, question=...)`` gives
  ``ai:{operation}:{text hash}:{options hash}`` (``CacheKeyGenerator``), and counts the
  text's size tier;
- TTLs: a write without ``ttl`` takes its operation's TTL from ``ai.operation_ttls`` (the
  one table) and otherwise the stack's default TTL; an explicit ``ttl`` wins;
- invalidation by operation or by literal substring, through SCAN (never KEYS), with the
  caller's text escaped so that ``*``, ``?`` or ``[`` cannot widen the pattern;
- savings: a hit on a response that carries token usage (``ai.token_fields``) counts the
  tokens, and with ``ai.prices`` the cost, of the call it replaced;
- no caching of failures: ``set(..., cacheable=False)``, or an ``Uncacheable`` value
  (from a ``get_or_set`` loader too), is returned to the caller and never stored.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cachekit.backends.glob import check_pattern, escape_glob
from cachekit.errors import CacheValueError
from cachekit.keys import KEY_PREFIX, CacheKeyGenerator, operation_of
from cachekit.layers.ai.stats import AIStats
from cachekit.layers.wrapper import CacheWrapper, stack_layers
from cachekit.protocol import (
    TTL,
    UNSET,
    CacheInterface,
    Loader,
    LocalTier,
    Monitor,
    call_loader,
    check_ttl,
    is_uncacheable,
)

if TYPE_CHECKING:
    from cachekit.config.model import AIConfig

__all__ = ["AIResponseCache", "operation_of"]

class AIResponseCache(CacheWrapper):
    """Cache of AI responses: prompt-aware keys, per-operation TTLs, savings, invalidation.

    ``inner`` is the stack it wraps (``resolve`` adds this layer outermost when
    ``ai.enabled``), ``ai`` its AI settings. ``monitor`` receives this layer's events
    (key generation times, invalidations; default: the stack's own monitor), ``memory``
    is the stack's memory tier (its counters join ``get_cache_stats``), ``sample_every``
    is ``monitoring.duration_sample_every``. ``clock`` (monotonic seconds) times
    ``get_or_set`` loaders; tests inject a fake one. The invalidation methods'
    ``operation_context`` is accepted for the original's signatures.
    ``cachekit.AIResponseCache`` (``cachekit.compat.ai``) builds one from the original's
    flat parameters.
    """

    def __init__(
        self,
        inner: CacheInterface,
        ai: AIConfig,
        *,
        sample_every: int,
        monitor: Monitor | None = None,
        memory: LocalTier | None = None,
        preset: str | None = None,
        hash_algorithm: str = "sha256",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(inner)
        self.ai = ai
        self.preset = preset
        self.memory = memory
        self.key_generator = CacheKeyGenerator.from_config(ai, hash_algorithm=hash_algorithm)
        self._own_monitor = monitor
        self.stats = AIStats(ai)
        self._clock = clock
        self._sample_every = self._keygen_countdown = sample_every

    @property
    def monitor(self) -> Monitor | None:
        """The monitor this layer reports to: the one given, else the stack's."""
        return self._own_monitor if self._own_monitor is not None else self.inner.monitor

    def __repr__(self) -> str:
        return f"{type(self).__name__}(preset={self.preset!r}, inner={type(self.inner).__name__})"

    # -- the original's attributes -----------------------------------------------------
    @property
    def operation_ttls(self) -> dict[str, int]:
        """The per-operation TTL table (a copy), from ``ai.operation_ttls``."""
        return dict(self.ai.operation_ttls)

    @property
    def text_hash_threshold(self) -> int:
        """Characters up to which a text is hashed in one call (see ``CacheKeyGenerator``)."""
        return self.ai.text_hash_threshold

    @property
    def text_size_tiers(self) -> dict[str, int]:
        """Exclusive upper bounds, in characters, of the small / medium / large tiers."""
        tiers = self.ai.size_tiers
        return {"small": tiers.small, "medium": tiers.medium, "large": tiers.large}

    def operation_ttl(self, operation: str | None) -> float | None:
        """Seconds an entry of ``operation`` lives when written without ``ttl``."""
        if operation is not None and operation in self.ai.operation_ttls:
            return self.ai.operation_ttls[operation]
        return self.default_ttl

    # -- keys --------------------------------------------------------------------------
    def build_key(
        self,
        text: str,
        operation: str,
        options: Mapping[str, Any] | None = None,
        *,
        question: str | None = None,
    ) -> str:
        """The key of ``operation`` on ``text`` with ``options`` (``question`` for Q&A).

        Raises ``CacheValueError`` for text over ``ai.max_text_length``, a bad operation
        name or options that are not JSON.
        """
        assert self.key_generator is not None
        start = time.perf_counter()
        key = self.key_generator.generate_cache_key(text, operation, options, question=question)
        elapsed = time.perf_counter() - start
        self.stats.key_built(key, self.key_generator.text_tier(text))
        if self.monitor is not None:
            # Like Instrumented: every call is counted, 1 in N (or a slow one) is recorded.
            self._keygen_countdown -= 1
            sampled = self._keygen_countdown <= 0
            if sampled:
                self._keygen_countdown = self._sample_every
            self.monitor.record_key_generation_time(elapsed, len(text), operation, sampled=sampled)
        return key

    # -- reads -------------------------------------------------------------------------
    async def get(self, key: str, *, type: Any = None) -> Any:
        value = await self.inner.get(key, type=type)
        self.stats.read(key, operation_of(key), value)
        return value

    async def get_many(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        found = await self.inner.get_many(wanted, type=type)
        for key in wanted:
            self.stats.read(key, operation_of(key), found.get(key))
        return found

    async def get_or_set(
        self, key: str, loader: Loader, ttl: TTL = UNSET, *, type: Any = None
    ) -> Any:
        """The cached response, or the loader's (stored unless marked ``Uncacheable``).

        Loader time is measured per operation; each later hit adds the operation's mean
        load time to the estimated ``seconds_saved``.
        """
        operation = operation_of(key)
        ran = False

        async def timed() -> Any:
            nonlocal ran
            ran = True
            start = self._clock()
            result = await call_loader(loader)
            stats = self.stats.operation(operation)
            stats.loads += 1
            stats.load_seconds += self._clock() - start
            if is_uncacheable(result):
                stats.uncacheable += 1
            elif result is not None:
                stats.sets += 1
            return result

        # Delegating keeps the inner layers' view of one get_or_set (telemetry counts it
        # once and traces the loader); the TTL is the operation's unless one is given.
        value = await self.inner.get_or_set(key, timed, self._ttl(key, ttl), type=type)
        self.stats.read(key, operation, None if ran else value)
        return value

    # -- writes ------------------------------------------------------------------------
    async def set(self, key: str, value: Any, ttl: TTL = UNSET, *, cacheable: bool = True) -> None:
        """Store ``value`` for ``ttl`` seconds, by default its operation's TTL.

        ``cacheable=False`` (or an ``Uncacheable`` value) stores nothing: use it for
        fallback answers and other responses that must not outlive the failure.
        """
        stats = self.stats.operation(operation_of(key))
        if not cacheable or is_uncacheable(value):
            check_ttl(ttl, self.default_ttl)
            stats.uncacheable += 1
            return
        await self.inner.set(key, value, self._ttl(key, ttl))
        stats.sets += 1

    async def set_many(self, items: Mapping[str, Any], ttl: TTL = UNSET) -> None:
        """Store several responses; without ``ttl`` each takes its operation's TTL."""
        groups: dict[Any, dict[str, Any]] = {}
        for key, value in items.items():
            if is_uncacheable(value):
                self.stats.operation(operation_of(key)).uncacheable += 1
                continue
            groups.setdefault(self._ttl(key, ttl), {})[key] = value
        for seconds, group in groups.items():
            await self.inner.set_many(group, seconds)
            for key in group:
                self.stats.operation(operation_of(key)).sets += 1

    def _ttl(self, key: str, ttl: TTL) -> TTL:
        """``ttl`` if given, else the key's operation TTL, else UNSET (the stack's default)."""
        if ttl is not UNSET:
            return ttl
        return self.ai.operation_ttls.get(operation_of(key) or "", UNSET)

    # -- invalidation ------------------------------------------------------------------
    async def invalidate_by_operation(self, operation: str, operation_context: str = "") -> int:
        """Remove every entry of ``operation``; the number removed (Redis SCAN, no KEYS)."""
        assert self.key_generator is not None
        prefix = self.key_generator.operation_prefix(operation)
        pattern = escape_glob(prefix) + "*"
        return await self._invalidate("operation", pattern, operation, f"operation:{operation}")

    async def invalidate_pattern(self, pattern: str, operation_context: str = "") -> int:
        """Remove every AI entry whose key contains ``pattern`` literally; the number removed.

        ``pattern`` is matched as plain text: ``*``, ``?``, ``[`` and ``\\`` in it match only
        themselves. An empty pattern is refused (use ``invalidate_all``).
        """
        if not isinstance(pattern, str) or not pattern:
            raise CacheValueError(
                "invalidate_pattern needs a non-empty str; use invalidate_all() to drop "
                "every AI entry"
            )
        # Telemetry gets a digest of the caller's text, never the text itself.
        label = "h:" + hashlib.blake2b(pattern.encode(), digest_size=5).hexdigest()
        glob = f"{KEY_PREFIX}:*{escape_glob(pattern)}*"
        return await self._invalidate("pattern", glob, "none", label)

    async def invalidate_all(self, operation_context: str = "") -> int:
        """Remove every AI entry (keys made by ``build_key``); other keys stay."""
        return await self._invalidate("all", f"{KEY_PREFIX}:*", "none", "all")

    async def _invalidate(self, kind: str, pattern: str, operation: str, label: str) -> int:
        removed = await self.inner.delete_matching(check_pattern(pattern))
        self.stats.invalidated(kind, removed)
        if self.monitor is not None:
            self.monitor.record_invalidation(kind, operation, label, removed)
        return removed

    # -- stats -------------------------------------------------------------------------
    async def get_cache_stats(self) -> dict[str, Any]:
        """Hits, misses, sets and savings (tokens, cost, estimated seconds) in total, per
        operation and per text tier; invalidations; the memory tier's counters. No secrets."""
        memory = self.memory
        return {
            "preset": self.preset,
            "backend": " > ".join(type(c).__name__ for c in stack_layers(self)),
            "operation_ttls": self.operation_ttls,
            "default_ttl": self.default_ttl,
            **self.stats.snapshot(),
            "memory": memory.get_stats() if memory is not None else None,
        }

    def reset_stats(self) -> None:
        """Zero every counter of this layer (the tiers' own counters are kept)."""
        self.stats.reset()
