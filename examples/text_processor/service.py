"""``TextProcessorService``: a domain service that caches LLM answers through cachekit.

The service owns the domain (operations, their options, fallbacks); the cache owns keys,
TTLs and savings. Each call builds a key with ``cache.build_key`` and goes through
``cache.get_or_set``, so concurrent identical requests share one model call and each
operation's entries live as long as ``[ai.operation_ttls]`` says. When the model fails the
service answers with a degraded fallback wrapped in ``Uncacheable``: the caller gets it,
the cache never stores it, and the next request asks the model again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cachekit import (
    AIResponseCache,
    CacheConfigBuilder,
    CacheInterface,
    Uncacheable,
    resolve,
)

from .llm import LLMUnavailableError, StandInLLM

__all__ = ["ProcessingResult", "TextProcessorService", "TextProcessorSettings"]

OPERATIONS = ("summarize", "sentiment", "key_points", "questions", "qa")


@dataclass(frozen=True)
class TextProcessorSettings:
    """What the service needs to know about its model and its default options."""

    model: str = "standin-1"
    llm_latency_seconds: float = 0.2
    summary_max_length: int = 100
    max_points: int = 5
    num_questions: int = 5


@dataclass(frozen=True)
class ProcessingResult:
    """One answer: the model's result, whether the cache served it, and what it cost."""

    operation: str
    result: Any
    cache_hit: bool
    processing_time: float
    usage: dict[str, int] = field(default_factory=dict)
    degraded: bool = False


def default_cache() -> AIResponseCache:
    """The embedded default: memory tier only (``development``) with the AI layer."""
    cache = resolve(CacheConfigBuilder().with_preset("development").with_ai_features().build())
    assert isinstance(cache, AIResponseCache)
    return cache


class TextProcessorService:
    """Summaries, sentiment, key points, questions and Q&A over a cached model.

    ``cache`` is any cachekit cache; one that is not an ``AIResponseCache`` is wrapped in
    one. ``llm`` defaults to the stand-in model with ``settings.llm_latency_seconds``.
    """

    def __init__(
        self,
        settings: TextProcessorSettings | None = None,
        cache: CacheInterface | None = None,
        *,
        llm: StandInLLM | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings or TextProcessorSettings()
        if cache is None:
            cache = default_cache()
        self.cache = cache if isinstance(cache, AIResponseCache) else AIResponseCache(inner=cache)
        self.llm = llm or StandInLLM(
            latency=self.settings.llm_latency_seconds, model=self.settings.model
        )
        self._clock = clock

    def _options(self, operation: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
        defaults: dict[str, Any] = {
            "summarize": {"max_length": self.settings.summary_max_length},
            "key_points": {"max_points": self.settings.max_points},
            "questions": {"num_questions": self.settings.num_questions},
        }.get(operation, {})
        return {**defaults, **(options or {})}

    async def process_text(
        self,
        text: str,
        operation: str,
        options: Mapping[str, Any] | None = None,
        *,
        question: str | None = None,
    ) -> ProcessingResult:
        """Run ``operation`` on ``text``, from the cache when it holds the answer."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; use one of {OPERATIONS}")
        if (operation == "qa") != (question is not None):
            raise ValueError("a question goes with the 'qa' operation, and only with it")
        opts = self._options(operation, options)
        key = self.cache.build_key(text, operation, opts, question=question)
        called = False

        async def ask_model() -> Any:
            nonlocal called
            called = True
            model_opts = {**opts, "question": question} if question is not None else opts
            try:
                return await self.llm.complete(operation, text, model_opts)
            except LLMUnavailableError:
                return Uncacheable(self._fallback(operation))

        start = self._clock()
        response = await self.cache.get_or_set(key, ask_model)
        return ProcessingResult(
            operation=operation,
            result=response["result"],
            cache_hit=not called,
            processing_time=self._clock() - start,
            usage=dict(response.get("usage") or {}),
            degraded=bool(response.get("degraded", False)),
        )

    @staticmethod
    def _fallback(operation: str) -> dict[str, Any]:
        """The answer given while the model is down: useful, honest, never cached."""
        result: Any = {
            "sentiment": {"sentiment": "neutral", "confidence": 0.0, "explanation": "unavailable"},
            "key_points": [],
            "questions": [],
        }.get(operation, "The service is temporarily unavailable; please try again.")
        return {"result": result, "model": "fallback", "usage": {}, "degraded": True}

    async def summarize(self, text: str, max_length: int | None = None) -> ProcessingResult:
        """A summary of at most ``max_length`` words."""
        options = {"max_length": max_length} if max_length is not None else None
        return await self.process_text(text, "summarize", options)

    async def sentiment(self, text: str) -> ProcessingResult:
        """Positive, negative or neutral, with a confidence."""
        return await self.process_text(text, "sentiment")

    async def key_points(self, text: str, max_points: int | None = None) -> ProcessingResult:
        """The text's main points."""
        options = {"max_points": max_points} if max_points is not None else None
        return await self.process_text(text, "key_points", options)

    async def questions(self, text: str, num_questions: int | None = None) -> ProcessingResult:
        """Questions a reader could ask about the text."""
        options = {"num_questions": num_questions} if num_questions is not None else None
        return await self.process_text(text, "questions", options)

    async def qa(self, text: str, question: str) -> ProcessingResult:
        """The answer to ``question`` from the text."""
        return await self.process_text(text, "qa", question=question)
