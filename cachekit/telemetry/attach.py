"""``instrument_around``: telemetry over a stack built elsewhere (tests, custom stacks).

``cachekit.resolve`` wires ``Instrumented`` itself, with each part handed over explicitly;
this finds the parts in a finished stack instead: the tiers by their ``tier``, the
coherence counters on the layer that keeps them, the settings in the stack's config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from cachekit.config.model import MonitoringConfig
from cachekit.layers.wrapper import find_tier, memory_tier, stack_layers
from cachekit.protocol import CacheInterface, RemoteTier
from cachekit.telemetry.instrumented import Instrumented
from cachekit.telemetry.metrics import CoherenceCounts
from cachekit.telemetry.otel import Telemetry


def instrument_around(
    stack: CacheInterface,
    telemetry: Telemetry | None = None,
    *,
    settings: MonitoringConfig | None = None,
    rebuild_telemetry: Callable[[], Telemetry] | None = None,
) -> Instrumented:
    """``Instrumented`` over ``stack`` (``settings`` overrides the stack's ``monitoring``)."""
    config = stack.config
    counts = next(
        (
            cast(CoherenceCounts, getattr(layer, "counts"))  # noqa: B009 - duck-typed
            for layer in stack_layers(stack)
            if hasattr(layer, "counts")
        ),
        None,
    )
    return Instrumented(
        stack,
        telemetry,
        settings=settings or (config.monitoring if config is not None else None),
        namespace=config.namespace if config is not None else "cachekit",
        memory=memory_tier(stack),
        remote=cast("RemoteTier | None", find_tier(stack, "redis")),
        counts=counts,
        rebuild_telemetry=rebuild_telemetry,
    )
