"""Invalidation history of one stack: the last hour, the last day, patterns, advice.

The monitor feeds it one event per invalidation (``kind``, ``operation``, a pattern
label, the keys removed); the one-hour window drives the ``invalidation_rate`` and
``invalidation_pattern`` alert rules, and the statistics and recommendations are the
original design's ``get_invalidation_frequency_stats`` / ``..._recommendations``.
Labels are bounded: free text (a raw glob, a user's search string) becomes a digest.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, deque
from typing import Any, Final

from cachekit.config.model import MonitoringConfig

HOUR: Final = 3600.0
_MAX_EVENTS: Final = 100_000
"""Events kept for the one-hour window (older ones drop out early beyond that)."""
_LABEL: Final = re.compile(r"^[A-Za-z0-9_.:*-]{1,64}$")
_BROAD: Final = 100
"""Keys per invalidation above which invalidations count as broad."""


def bounded_label(text: str) -> str:
    """``text`` when it is a short identifier-like label, else a digest of it (so free
    text, a key or a glob pattern never reaches telemetry)."""
    if _LABEL.match(text):
        return text
    return "h:" + hashlib.blake2b(text.encode(), digest_size=5).hexdigest()


class InvalidationLog:
    """Invalidation events over a sliding hour, per-hour buckets of the last day, totals."""

    def __init__(self) -> None:
        self._hour: deque[tuple[float, str]] = deque()
        self._labels: Counter[str] = Counter()
        self._day: deque[list[float]] = deque(maxlen=24)  # [hour start, events, keys]
        self.by_kind: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.events = 0
        self.keys = 0

    def record(self, now: float, kind: str, operation: str, label: str, keys: int) -> None:
        """One invalidation at ``now`` that removed ``keys`` keys (labels already bounded)."""
        self.events += 1
        self.keys += keys
        self.by_kind[kind] += 1
        self.by_operation[operation] += 1
        self._hour.append((now, label))
        self._labels[label] += 1
        if len(self._hour) > _MAX_EVENTS:
            self._forget_oldest()
        start = now - now % HOUR
        if not self._day or self._day[-1][0] != start:
            self._day.append([start, 0, 0])
        self._day[-1][1] += 1
        self._day[-1][2] += keys

    def last_hour(self, now: float) -> int:
        """Invalidations in the hour before ``now``."""
        while self._hour and self._hour[0][0] <= now - HOUR:
            self._forget_oldest()
        return len(self._hour)

    def top_pattern(self) -> tuple[str, float] | None:
        """The most frequent label of the window and its share (call ``last_hour`` first)."""
        if not self._hour:
            return None
        label, count = self._labels.most_common(1)[0]
        return label, count / len(self._hour)

    def _forget_oldest(self) -> None:
        _, label = self._hour.popleft()
        self._labels[label] -= 1
        if self._labels[label] <= 0:
            del self._labels[label]

    def stats(self, config: MonitoringConfig, now: float, hours: float) -> dict[str, Any]:
        """Rates, thresholds and current level, patterns, efficiency (``hours``: the span
        of the averages)."""
        last_hour = self.last_hour(now)
        level = "normal"
        if last_hour > config.invalidation_critical_per_hour:
            level = "critical"
        elif last_hour > config.invalidation_warning_per_hour:
            level = "warning"
        return {
            "rates": {
                "last_hour": last_hour,
                "last_24_hours": int(sum(bucket[1] for bucket in self._day)),
                "average_per_hour": self.events / max(1.0, hours),
            },
            "thresholds": {
                "warning_per_hour": config.invalidation_warning_per_hour,
                "critical_per_hour": config.invalidation_critical_per_hour,
                "current_alert_level": level,
            },
            "patterns": {
                "most_common": [
                    {"pattern": label, "count": n, "share": n / last_hour}
                    for label, n in self._labels.most_common(5)
                ],
                "by_kind": dict(self.by_kind),
                "by_operation": dict(self.by_operation),
            },
            "efficiency": {
                "total_invalidations": self.events,
                "total_keys_invalidated": self.keys,
                "avg_keys_per_invalidation": self.keys / self.events if self.events else 0.0,
            },
        }


def recommendations(stats: dict[str, Any], config: MonitoringConfig) -> list[dict[str, Any]]:
    """Advice from invalidation ``stats`` (``InvalidationLog.stats``); empty when all is well."""
    out: list[dict[str, Any]] = []
    rate, level = stats["rates"]["last_hour"], stats["thresholds"]["current_alert_level"]
    if level != "normal":
        out.append(
            {
                "severity": level,
                "issue": "high_invalidation_rate",
                "message": f"{rate} invalidations in the last hour (thresholds "
                f"{config.invalidation_warning_per_hour}/h warning, "
                f"{config.invalidation_critical_per_hour}/h critical)",
                "suggestions": [
                    "invalidate by operation instead of entry by entry",
                    "rely on TTLs for data that changes on a schedule",
                    "batch the invalidations that bulk updates trigger",
                ],
            }
        )
    common = stats["patterns"]["most_common"]
    if (
        common
        and rate >= config.invalidation_pattern_min_events
        and common[0]["share"] > config.invalidation_pattern_share
    ):
        out.append(
            {
                "severity": "warning",
                "issue": "dominant_pattern",
                "message": f"pattern {common[0]['pattern']!r} made {common[0]['share']:.0%} of "
                "the last hour's invalidations",
                "suggestions": [
                    "give that data a shorter TTL instead of invalidating it",
                    "check whether a caller invalidates in a loop",
                ],
            }
        )
    efficiency = stats["efficiency"]
    if efficiency["total_invalidations"] >= config.invalidation_pattern_min_events:
        per = efficiency["avg_keys_per_invalidation"]
        if per > _BROAD:
            out.append(
                {
                    "severity": "info",
                    "issue": "broad_invalidations",
                    "message": f"invalidations remove {per:.0f} keys on average",
                    "suggestions": ["narrow the patterns so unrelated entries survive"],
                }
            )
        elif per < 1:
            out.append(
                {
                    "severity": "info",
                    "issue": "empty_invalidations",
                    "message": f"invalidations remove {per:.2f} keys on average",
                    "suggestions": ["skip invalidating data that was never cached"],
                }
            )
    return out
