"""A FastAPI app that caches through cachekit: lifespan, dependencies, the AI cache.

From the repository root::

    .venv/bin/python -m examples.fastapi_app          # http://127.0.0.1:8001/docs

- ``cachekit_lifespan(app_lifespan, root=HERE)`` resolves the settings in this folder at
  startup, connects one stack for the app's life, then runs the app's own lifespan (which
  creates the stand-in model) with the stack already connected;
- ``CacheDep`` caches a slow "database" read with ``get_or_set``;
- ``AICacheDep`` hands the AI response cache to ``TextProcessorService`` (from
  ``examples/text_processor``), which keys, caches and expires model answers per operation;
- ``ops_router()`` adds ``/livez``, ``/readyz``, ``/cache/status|stats|config`` and
  ``POST /cache/invalidate``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from cachekit.fastapi import AICacheDep, CacheDep, cachekit_lifespan, ops_router
from examples.text_processor import StandInLLM, TextProcessorService, TextProcessorSettings

HERE = Path(__file__).resolve().parent
USERS = {1: {"id": 1, "name": "Ada Lovelace"}, 2: {"id": 2, "name": "Alan Turing"}}

Operation = Literal["summarize", "sentiment", "key_points", "questions", "qa"]


class TextRequest(BaseModel):
    """Text to process, with the operation's options (and the question, for ``qa``)."""

    text: Annotated[str, Field(min_length=1, max_length=50_000)]
    options: dict[str, int] | None = None
    question: str | None = None


def get_service(request: Request, cache: AICacheDep) -> TextProcessorService:
    """The domain service over the app's AI cache and its model (cheap: built per request)."""
    llm: StandInLLM = request.app.state.llm
    return TextProcessorService(settings=TextProcessorSettings(), cache=cache, llm=llm)


ServiceDep = Annotated[TextProcessorService, Depends(get_service)]


def create_app(*, llm_latency: float = 0.2, db_latency: float = 0.05, **cachekit: Any) -> FastAPI:
    """The example app; ``cachekit`` keyword arguments go to ``cachekit_lifespan``."""

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Runs inside cachekit's lifespan: the stack is connected here already.
        app.state.llm = StandInLLM(latency=llm_latency, model="standin-1")
        yield

    cachekit.setdefault("root", HERE)
    app = FastAPI(
        title="cachekit FastAPI example", lifespan=cachekit_lifespan(app_lifespan, **cachekit)
    )
    app.include_router(ops_router())

    @app.get("/users/{user_id}")
    async def get_user(user_id: int, cache: CacheDep) -> dict[str, Any]:
        """A user, read from the slow "database" once and then from the cache."""

        async def load() -> dict[str, Any] | None:
            await asyncio.sleep(db_latency)
            return USERS.get(user_id)

        user = await cache.get_or_set(f"user:{user_id}", load, ttl=300)
        if user is None:
            raise HTTPException(status_code=404, detail=f"no user {user_id}")
        return dict(user)

    @app.post("/text/{operation}")
    async def process(
        operation: Operation, body: TextRequest, service: ServiceDep
    ) -> dict[str, Any]:
        """Run a model operation on the text; repeated requests are cache hits."""
        try:
            outcome = await service.process_text(
                body.text, operation, body.options, question=body.question
            )
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return {
            "operation": outcome.operation,
            "result": outcome.result,
            "cache_hit": outcome.cache_hit,
            "processing_time": round(outcome.processing_time, 4),
            "usage": outcome.usage,
            "degraded": outcome.degraded,
        }

    return app


app = create_app()
