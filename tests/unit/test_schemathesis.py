"""Property-based run over ``cachekit serve``'s OpenAPI schema: no input gets a 5xx.

schemathesis reads ``/openapi.json`` from the app and generates requests for every
operation: schema-conforming ones (positive) and schema-violating ones (negative: bad
path parameters, queries and bodies). They go to the app in process with its lifespan
running. Examples are bounded (``MAX_EXAMPLES`` per operation and mode) so the run stays
well under a minute in CI, and derandomized so it is repeatable.

The strategies are driven with Hypothesis directly rather than through
``schema.parametrize()``, whose lazy (fixture) form does not run under pytest 9 and whose
eager form would start the app while tests are collected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi

from cachekit.web.server import create_app
from tests.http_helpers import bearer
from tests.http_helpers import settings as cachekit_settings

MAX_EXAMPLES = 25
TOKEN = "schemathesis-token"


@pytest.fixture
def service_schema() -> Iterator[Any]:
    """The service's schema, loaded from the app (testing preset, a token configured)."""
    config = cachekit_settings(server__max_body_bytes=4096, server__token=TOKEN)
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(settings=config))
    asgi.shutdown_lifespans()


def check_no_server_error(case: Any) -> int:
    """Send ``case`` (with the token, so writes are exercised); 5xx fails, errors are problems."""
    response = case.call(headers=bearer(TOKEN))
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers["content-type"] == ["application/problem+json"], response.text
        assert {"type", "title", "status", "detail"} <= set(response.json())
    return int(response.status_code)


def test_service_schema_answers_without_server_errors(service_schema: Any) -> None:
    """Every generated request, valid or not, gets an answer below 500."""
    operations = [result.ok() for result in service_schema.get_all_operations()]
    assert len(operations) == 13  # key/value API, ops router (with /metrics), / and /status
    statuses: set[int] = set()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                statuses.add(check_no_server_error(case))

            try:
                run()
            except Unsatisfiable:
                # An operation without inputs (/livez) has no invalid requests to make.
                assert mode is GenerationMode.NEGATIVE
    # The run reached both stored values and rejections.
    assert {200, 204, 422} <= statuses
