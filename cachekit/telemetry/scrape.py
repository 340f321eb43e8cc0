"""``metrics_text(cache)``: a stack's Prometheus metrics, for a ``/metrics`` of any framework.

::

    from cachekit.telemetry.scrape import CONTENT_TYPE, metrics_text

    async def metrics(request):            # Starlette, aiohttp, Litestar, ...
        body = metrics_text(cache)          # None: the stack's metrics go elsewhere
        return Response(body or b"", media_type=CONTENT_TYPE)

It renders the private registry of the stack's own Prometheus reader
(``OTEL_METRICS_EXPORTER=prometheus``, ``cachekit.telemetry.prometheus``); FastAPI apps get
the same from the ops router's ``GET /metrics``.
"""

from __future__ import annotations

from cachekit.layers.wrapper import stack_layers
from cachekit.protocol import CacheInterface
from cachekit.telemetry.instrumented import Instrumented
from cachekit.telemetry.prometheus import CONTENT_TYPE, render

__all__ = ["CONTENT_TYPE", "metrics_text"]


def metrics_text(cache: CacheInterface) -> bytes | None:
    """The stack's metrics in the Prometheus text format, or None when its metrics do
    not go to a Prometheus reader of its own (another exporter, or monitoring off)."""
    for layer in stack_layers(cache):
        if isinstance(layer, Instrumented) and layer.telemetry.prometheus is not None:
            return render(layer.telemetry.prometheus)
    return None
