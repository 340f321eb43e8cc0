"""Health of a cache stack: ``ok``, ``degraded`` (serving from memory) or ``unavailable``."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Status = Literal["ok", "degraded", "unavailable"]


class HealthReport(msgspec.Struct, frozen=True):
    """What ``await cache.health()`` returns. ``reasons`` never contain secrets."""

    status: Status
    reasons: tuple[str, ...] = ()
    tiers: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        """True when every tier serves normally."""
        return self.status == "ok"

    @property
    def serving(self) -> bool:
        """True when reads and writes are answered (``ok`` or ``degraded``)."""
        return self.status != "unavailable"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {"status": self.status, "reasons": list(self.reasons), "tiers": dict(self.tiers)}
