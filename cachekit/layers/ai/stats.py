"""What the AI layer counts: hits and misses per operation and text tier, and savings.

A hit on a response that carries token usage saves the call it replaced: its prompt and
completion tokens (found along the dotted paths of ``ai.token_fields``), their price
(``ai.prices``, per 1,000 tokens, by the model the response names, else ``default``), and
the time the operation's loader takes on average. Counters are plain numbers, changed on
the event loop only, so a metrics exporter may read them from its own thread.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from cachekit.config.model import AIConfig

__all__ = ["TIERS", "AIStats", "OperationStats"]

TIERS: Final = ("small", "medium", "large", "xlarge")
INVALIDATION_KINDS: Final = ("operation", "pattern", "all")
OTHER: Final = "_other"
"""Stats name of keys not made by ``build_key``, and of operations past the cap."""
MAX_OPERATIONS: Final = 256
"""Distinct operation names tracked; further ones are counted under ``OTHER``."""
TIER_MEMO: Final = 10_000
"""Recently built keys whose text tier is remembered, so reads can be counted by tier."""
_TIER_FIELDS: Final = ("hits", "misses", "hit_ratio", "tokens_saved", "cost_saved")


@dataclass(slots=True)
class OperationStats:
    """Counters of one operation (or text tier); they grow until ``AIStats.reset``."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    uncacheable: int = 0
    prompt_tokens_saved: int = 0
    completion_tokens_saved: int = 0
    cost_saved: float = 0.0
    loads: int = 0
    load_seconds: float = 0.0
    seconds_saved: float = 0.0

    @property
    def hit_ratio(self) -> float:
        """Hits over lookups (0.0 before the first lookup)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with ``hit_ratio`` and ``tokens_saved`` added."""
        out = asdict(self)
        out["hit_ratio"] = self.hit_ratio
        out["tokens_saved"] = self.prompt_tokens_saved + self.completion_tokens_saved
        return out

    def add(self, other: OperationStats) -> None:
        """Add ``other``'s counters to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def lookup(value: Any, path: str) -> Any:
    """The field at dotted ``path`` of a mapping or object (a typed read), or None."""
    if not path:
        return None
    node = value
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else getattr(node, part, None)
        if node is None:
            return None
    return node


def _tokens(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class AIStats:
    """The AI layer's counters, configured by ``ai.token_fields`` and ``ai.prices``."""

    def __init__(self, ai: AIConfig) -> None:
        self.ai = ai
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.operations: dict[str, OperationStats] = {}
        self.tiers = {tier: OperationStats() for tier in TIERS}
        self.keys_by_tier = dict.fromkeys(TIERS, 0)
        self.invalidations = dict.fromkeys(INVALIDATION_KINDS, 0)
        self.keys_invalidated = 0
        self._tier_of: OrderedDict[str, str] = OrderedDict()

    def operation(self, name: str | None) -> OperationStats:
        """The counters of operation ``name`` (``None``: keys not made by ``build_key``)."""
        key = name or OTHER
        stats = self.operations.get(key)
        if stats is None:
            if len(self.operations) >= MAX_OPERATIONS:
                key = OTHER
            stats = self.operations.setdefault(key, OperationStats())
        return stats

    def key_built(self, key: str, tier: str) -> None:
        """Count a key of a text in ``tier`` and remember the tier for its reads."""
        self.keys_by_tier[tier] += 1
        memo = self._tier_of
        memo[key] = tier
        memo.move_to_end(key)
        if len(memo) > TIER_MEMO:
            memo.popitem(last=False)

    def read(self, key: str, operation: str | None, value: Any) -> None:
        """Count a lookup; a hit adds the savings of the response it found."""
        stats = self.operation(operation)
        tier_name = self._tier_of.get(key)
        counters = [stats] if tier_name is None else [stats, self.tiers[tier_name]]
        if value is None:
            for counter in counters:
                counter.misses += 1
            return
        token_fields = self.ai.token_fields
        prompt = _tokens(lookup(value, token_fields.prompt))
        completion = _tokens(lookup(value, token_fields.completion))
        cost = self.cost(value, prompt, completion)
        saved = stats.load_seconds / stats.loads if stats.loads else 0.0
        for counter in counters:
            counter.hits += 1
            counter.prompt_tokens_saved += prompt
            counter.completion_tokens_saved += completion
            counter.cost_saved += cost
            counter.seconds_saved += saved

    def cost(self, value: Any, prompt: int, completion: int) -> float:
        """Price of ``prompt`` + ``completion`` tokens of the model ``value`` names."""
        prices = self.ai.prices
        if not prices or not (prompt or completion):
            return 0.0
        model = lookup(value, self.ai.token_fields.model)
        price = prices.get(model) if isinstance(model, str) else None
        price = price or prices.get("default")
        if price is None:
            return 0.0
        return (prompt * price.prompt + completion * price.completion) / 1000.0

    def invalidated(self, kind: str, removed: int) -> None:
        """Count an invalidation of ``kind`` that removed ``removed`` keys."""
        self.invalidations[kind] += 1
        self.keys_invalidated += removed

    def snapshot(self) -> dict[str, Any]:
        """Totals, per-operation and per-tier counters, and invalidations, as plain data."""
        total = OperationStats()
        for stats in self.operations.values():
            total.add(stats)
        return {
            **{k: v for k, v in total.to_dict().items() if k != "load_seconds"},
            "operations": {op: s.to_dict() for op, s in sorted(self.operations.items())},
            "text_tiers": {
                tier: {
                    "keys_built": self.keys_by_tier[tier],
                    **{k: v for k, v in self.tiers[tier].to_dict().items() if k in _TIER_FIELDS},
                }
                for tier in TIERS
            },
            "invalidations": {
                **self.invalidations,
                "total": sum(self.invalidations.values()),
                "keys_removed": self.keys_invalidated,
            },
        }
