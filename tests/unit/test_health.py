"""What one read reports: degraded-read notes reach every enclosing ``observe_read``, so
``get_result`` tells an outage from a miss through an instrumented stack too."""

from __future__ import annotations

from cachekit import resolve
from cachekit.health import note_degraded_read, observe_read
from tests.helpers_net import free_port
from tests.http_helpers import settings


def test_health_observe_read_nested_blocks_both_get_the_notes() -> None:
    """A note made inside an inner block is seen by the inner and the outer block."""
    with observe_read() as outer:
        with observe_read() as inner:
            note_degraded_read("redis down")
        note_degraded_read("again")
    assert inner == ["redis down"]
    assert outer == ["redis down", "again"]


async def test_health_get_result_degraded_through_instrumented_stack() -> None:
    """With monitoring on (``Instrumented`` observes each get), a read while Redis is
    unreachable is ``degraded``, not a miss."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    leaves = {"redis__url": url, "redis__connect_timeout": "0.2", "monitoring__enabled": "true"}
    cache = resolve(settings("development", **leaves).config, environ={})
    async with cache:
        result = await cache.get_result("k")
    assert result.status == "degraded" and result.reason
