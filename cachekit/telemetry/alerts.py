"""Alert rules from the ``monitoring`` settings, with hysteresis and a cooldown.

Rules (thresholds are ``monitoring.*`` settings)::

    rule                  levels     fires when
    slow_operation        warning    one call took longer than slow_operation_seconds
    slow_key_generation   warning    one key took longer than slow_key_generation_seconds
    memory                warn/crit  the memory tier holds more than memory_*_bytes
    invalidation_rate     warn/crit  the last hour saw more than invalidation_*_per_hour
    invalidation_pattern  warning    one pattern made over invalidation_pattern_share of them
    hit_ratio             warning    hits / lookups fell below hit_ratio_floor over the window
    degraded              critical   the stack served without Redis for degraded_alert_seconds

A rule fires when its value crosses a threshold and stays firing until the value falls
back past ``alert_clear_ratio`` of it (a value flapping around the threshold fires once);
slow-call rules clear after ``alert_window_seconds`` without a slow call. A rule fires a
given level at most once per ``alert_cooldown_seconds``. Each firing, and each clearing
of an alert that fired, is one ``Alert`` handed to every sink (OpenTelemetry log record,
the ``cachekit.alerts`` counter, Python callbacks). Messages never hold keys or user text.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from cachekit.config.model import MonitoringConfig

logger = logging.getLogger("cachekit.alerts")

Level = Literal["warning", "critical"]
Severity = Literal["warning", "critical", "resolved"]
AlertSink = Callable[["Alert"], object]
_RANK: Final = {None: 0, "warning": 1, "critical": 2}
_RECENT: Final = 100


@dataclass(frozen=True, slots=True)
class Alert:
    """One firing (``level`` warning / critical) or clearing (``resolved``) of a rule."""

    rule: str
    level: Severity
    message: str
    value: float
    threshold: float
    scope: str = ""
    """A bounded label narrowing the rule (an operation name), or empty."""
    at: float = 0.0
    """Wall-clock time (seconds since the epoch) of the firing."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


@dataclass(slots=True)
class _State:
    level: Level | None = None
    fired: bool = False
    last: Alert | None = None


class AlertEngine:
    """Tracks each rule's level and hands firings and clearings to the sinks."""

    def __init__(
        self,
        *,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.cooldown = cooldown
        self.sinks: list[AlertSink] = []
        self.recent: deque[Alert] = deque(maxlen=_RECENT)
        self.suppressed = 0
        """Firings held back by the cooldown."""
        self.emitted = 0
        """Alerts handed to the sinks so far."""
        self._clock = clock
        self._wall = wall
        self._states: dict[tuple[str, str], _State] = {}
        self._fired_at: dict[tuple[str, str, str], float] = {}

    def level(self, rule: str, scope: str = "") -> Level | None:
        """The current level of ``rule`` (None when it is not firing)."""
        state = self._states.get((rule, scope))
        return state.level if state is not None else None

    @property
    def active(self) -> list[Alert]:
        """The alerts firing now, with the value that last kept them firing."""
        return [s.last for s in self._states.values() if s.level is not None and s.last is not None]

    def update(
        self,
        rule: str,
        level: Level | None,
        *,
        value: float,
        threshold: float,
        message: str,
        scope: str = "",
    ) -> Alert | None:
        """Move ``rule`` to ``level``; the alert emitted by the move, if any."""
        state = self._states.setdefault((rule, scope), _State())
        previous = state.level
        state.level = level
        if level is None:
            if previous is None or not state.fired:
                return None
            state.fired = False
            return self._emit(
                Alert(rule, "resolved", message, value, threshold, scope, self._wall())
            )
        state.last = Alert(rule, level, message, value, threshold, scope, self._wall())
        if _RANK[level] <= _RANK[previous]:
            return None
        now = self._clock()
        key = (rule, scope, level)
        last = self._fired_at.get(key)
        if last is not None and now - last < self.cooldown:
            self.suppressed += 1
            return None
        self._fired_at[key] = now
        state.fired = True
        return self._emit(state.last)

    def reset(self) -> None:
        """Forget every rule's state and the recent alerts (not the sinks)."""
        self._states.clear()
        self._fired_at.clear()
        self.recent.clear()
        self.suppressed = 0

    def _emit(self, alert: Alert) -> Alert:
        self.emitted += 1
        self.recent.append(alert)
        for sink in list(self.sinks):
            try:
                sink(alert)
            except Exception:  # a broken callback must not break a cache call
                logger.exception("cachekit: an alert sink failed")
        return alert


def graded(
    value: float, warning: float, critical: float | None, current: Level | None, clear: float
) -> Level | None:
    """The level of an "above the threshold" rule, with hysteresis: a level, once
    reached, holds until ``value`` falls to ``clear`` times its threshold."""
    if critical is not None and (
        value > critical or (current == "critical" and value > critical * clear)
    ):
        return "critical"
    if value > warning or (current is not None and value > warning * clear):
        return "warning"
    return None


def below(value: float, floor: float, current: Level | None, clear: float) -> bool:
    """Whether a "below the floor" rule fires: under ``floor``, and once firing until
    ``value`` climbs back above ``floor / clear``."""
    return value < floor or (current is not None and value < min(1.0, floor / clear))


class AlertRules:
    """The rules of one monitor, fed by events and by periodic ``evaluate`` calls."""

    def __init__(self, config: MonitoringConfig, engine: AlertEngine) -> None:
        self.config = config
        self.engine = engine
        self._slow_seen: dict[tuple[str, str], float] = {}

    def slow_operation(self, operation: str, tier: str, seconds: float, now: float) -> None:
        """A call of ``operation`` answered by ``tier`` took ``seconds`` (over the threshold)."""
        limit = self.config.slow_operation_seconds
        self._slow_seen[("slow_operation", operation)] = now
        self.engine.update(
            "slow_operation",
            "warning",
            value=seconds,
            threshold=limit,
            scope=operation,
            message=f"cache {operation} ({tier}) took {seconds * 1000:.1f} ms, "
            f"over {limit * 1000:.0f} ms",
        )

    def slow_key_generation(self, seconds: float, now: float) -> None:
        """Generating one key took ``seconds`` (over the threshold)."""
        limit = self.config.slow_key_generation_seconds
        self._slow_seen[("slow_key_generation", "")] = now
        self.engine.update(
            "slow_key_generation",
            "warning",
            value=seconds,
            threshold=limit,
            message=f"key generation took {seconds * 1000:.1f} ms, over {limit * 1000:.0f} ms",
        )

    def evaluate(
        self,
        now: float,
        *,
        memory_bytes: int | None,
        window: tuple[int, int] | None,
        invalidations_last_hour: int,
        top_pattern: tuple[str, float] | None,
        degraded_for: float | None,
        untracked_for: float | None = None,
    ) -> None:
        """Check the windowed rules; ``window`` is ``(hits, lookups)`` over the hit-ratio
        window and ``top_pattern`` the most frequent invalidation label and its share."""
        cfg, engine, clear = self.config, self.engine, self.config.alert_clear_ratio
        for (rule, scope), seen in list(self._slow_seen.items()):
            if now - seen >= cfg.alert_window_seconds:
                del self._slow_seen[(rule, scope)]
                engine.update(
                    rule,
                    None,
                    value=0.0,
                    threshold=0.0,
                    scope=scope,
                    message=f"no {rule.replace('_', ' ')} for {cfg.alert_window_seconds:g} s",
                )
        if memory_bytes is not None:
            level = graded(
                memory_bytes,
                cfg.memory_warning_bytes,
                cfg.memory_critical_bytes,
                engine.level("memory"),
                clear,
            )
            limit = cfg.memory_critical_bytes if level == "critical" else cfg.memory_warning_bytes
            engine.update(
                "memory",
                level,
                value=memory_bytes,
                threshold=limit,
                message=f"memory tier holds {memory_bytes / 1048576:.1f} MiB "
                f"({'over' if level else 'back under'} {limit / 1048576:.0f} MiB)",
            )
        level = graded(
            invalidations_last_hour,
            cfg.invalidation_warning_per_hour,
            cfg.invalidation_critical_per_hour,
            engine.level("invalidation_rate"),
            clear,
        )
        limit = (
            cfg.invalidation_critical_per_hour
            if level == "critical"
            else cfg.invalidation_warning_per_hour
        )
        engine.update(
            "invalidation_rate",
            level,
            value=invalidations_last_hour,
            threshold=limit,
            message=f"{invalidations_last_hour} invalidations in the last hour "
            f"({'over' if level else 'back under'} {limit}/h)",
        )
        self._pattern(top_pattern, invalidations_last_hour)
        self._hit_ratio(window)
        firing = degraded_for is not None and (
            degraded_for > cfg.degraded_alert_seconds or engine.level("degraded") is not None
        )
        engine.update(
            "degraded",
            "critical" if firing else None,
            value=degraded_for or 0.0,
            threshold=cfg.degraded_alert_seconds,
            message=(
                f"serving without Redis for {degraded_for:.0f} s"
                if firing and degraded_for is not None
                else "Redis is back"
            ),
        )
        untracked = untracked_for is not None and (
            untracked_for > cfg.degraded_alert_seconds or engine.level("tracking") is not None
        )
        engine.update(
            "tracking",
            "warning" if untracked else None,
            value=untracked_for or 0.0,
            threshold=cfg.degraded_alert_seconds,
            message=(
                f"Redis tracking down for {untracked_for:.0f} s: the memory tier is bypassed"
                if untracked and untracked_for is not None
                else "Redis tracking is back: the memory tier serves again"
            ),
        )

    def _pattern(self, top: tuple[str, float] | None, events: int) -> None:
        cfg, engine = self.config, self.engine
        share = top[1] if top is not None and events >= cfg.invalidation_pattern_min_events else 0.0
        label = top[0] if top is not None else ""
        level = graded(
            share, cfg.invalidation_pattern_share, None, engine.level("invalidation_pattern"),
            cfg.alert_clear_ratio,
        )  # fmt: skip
        engine.update(
            "invalidation_pattern",
            level,
            value=share,
            threshold=cfg.invalidation_pattern_share,
            message=f"invalidation pattern {label!r} made {share:.0%} of the last hour's "
            f"{events} invalidations",
        )

    def _hit_ratio(self, window: tuple[int, int] | None) -> None:
        cfg, engine = self.config, self.engine
        if window is None or window[1] < cfg.hit_ratio_min_lookups:
            return  # too few lookups for a verdict: the rule keeps its state
        hits, lookups = window
        ratio = hits / lookups
        firing = below(ratio, cfg.hit_ratio_floor, engine.level("hit_ratio"), cfg.alert_clear_ratio)
        engine.update(
            "hit_ratio",
            "warning" if firing else None,
            value=ratio,
            threshold=cfg.hit_ratio_floor,
            message=f"hit ratio {ratio:.0%} over the last {lookups} lookups "
            f"({'under' if firing else 'back over'} {cfg.hit_ratio_floor:.0%})",
        )
