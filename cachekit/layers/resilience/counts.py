"""``StackCounts``: the coherence, lease and refresh counters of a stack, for telemetry.

Plain numbers read by the metric exporter's thread (``cachekit.telemetry.metrics``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cachekit.layers.coherence import Coherence
from cachekit.layers.lease import Leases
from cachekit.layers.refresh import Refresher


class StackCounts:
    """A read-only view over the counters of ``coherence``, ``leases`` and ``refresher``."""

    __slots__ = ("_coherence", "_leases", "_refresher")

    def __init__(
        self, coherence: Coherence, leases: Leases | None, refresher: Refresher | None
    ) -> None:
        self._coherence = coherence
        self._leases = leases
        self._refresher = refresher

    @property
    def configured(self) -> str:
        return self._coherence.configured

    @property
    def trusted(self) -> bool:
        return self._coherence.trusted

    @property
    def invalidations(self) -> int:
        return self._coherence.invalidations

    @property
    def refused(self) -> int:
        return self._coherence.refused

    @property
    def flushes(self) -> Mapping[str, int]:
        return self._coherence.flushes

    @property
    def lease_waits(self) -> int:
        return self._leases.waits if self._leases is not None else 0

    @property
    def stale_served(self) -> int:
        return self._refresher.stale_served if self._refresher is not None else 0

    @property
    def early_refreshes(self) -> int:
        return self._refresher.early_refreshes if self._refresher is not None else 0

    def observe_lag(self, callback: Callable[[float], None] | None) -> None:
        """Call ``callback(seconds)`` for each report lag measured."""
        self._coherence.on_lag = callback
