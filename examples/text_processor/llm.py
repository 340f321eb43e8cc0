"""A stand-in for a slow, paid LLM API: deterministic, in-process, no network.

Every call sleeps ``latency`` seconds (like a round trip to a model) and answers from the
text alone, with token usage in the shape most LLM APIs report::

    {"result": ..., "model": "standin-1",
     "usage": {"prompt_tokens": 812, "completion_tokens": 64}}

Set ``available = False`` to make calls fail, as an API does during an outage.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

__all__ = ["LLMUnavailableError", "StandInLLM"]


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[A-Za-z']+")
_POSITIVE = _wordset(
    "good great excellent fast faster cheap cheaper reliable love happy improve improved "
    "improves success successful benefit benefits easy clear safe win"
)
_NEGATIVE = _wordset(
    "bad poor slow slower expensive costly unreliable hate sad fail failed failure "
    "problem problems hard risk risky outage broken lose"
)
_STOP = _wordset(
    "the a an and or of to in on for with is are was were be it this that as by at from "
    "what which who how why when does do did its their his her"
)


class LLMUnavailableError(RuntimeError):
    """The stand-in model is down (``available = False``)."""


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _tokens(text: str) -> int:
    """About four characters per token, as the usual rule of thumb has it."""
    return max(1, math.ceil(len(text) / 4))


def _summarize(text: str, options: Mapping[str, Any]) -> str:
    words = text.split()
    limit = int(options.get("max_length", 100))
    summary = " ".join(words[:limit])
    return summary if len(words) <= limit else summary + " ..."


def _sentiment(text: str, options: Mapping[str, Any]) -> dict[str, Any]:
    words = _words(text)
    pos = sum(w in _POSITIVE for w in words)
    neg = sum(w in _NEGATIVE for w in words)
    label = "positive" if pos > neg else "negative" if neg > pos else "neutral"
    confidence = round(0.5 + 0.5 * abs(pos - neg) / max(1, pos + neg), 2)
    return {
        "sentiment": label,
        "confidence": confidence,
        "explanation": f"{pos} positive and {neg} negative cue words",
    }


def _key_points(text: str, options: Mapping[str, Any]) -> list[str]:
    count = int(options.get("max_points", 5))
    ranked = sorted(_sentences(text), key=lambda s: (-len(set(_words(s)) - _STOP), s))
    return ranked[:count]


def _questions(text: str, options: Mapping[str, Any]) -> list[str]:
    count = int(options.get("num_questions", 5))
    out = []
    for sentence in _sentences(text)[:count]:
        topic = max((w for w in _words(sentence) if w not in _STOP), key=len, default="this")
        out.append(f"What does the text say about {topic}?")
    return out


def _qa(text: str, options: Mapping[str, Any]) -> str:
    asked = set(_words(str(options.get("question", "")))) - _STOP
    best = max(_sentences(text) or [""], key=lambda s: (len(asked & set(_words(s))), -len(s)))
    return best or "The text does not say."


_ANSWERS: dict[str, Callable[[str, Mapping[str, Any]], Any]] = {
    "summarize": _summarize,
    "sentiment": _sentiment,
    "key_points": _key_points,
    "questions": _questions,
    "qa": _qa,
}


class StandInLLM:
    """A deterministic model with ``latency`` seconds per call; counts its calls."""

    def __init__(
        self,
        *,
        latency: float = 0.2,
        model: str = "standin-1",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.latency = latency
        self.model = model
        self.available = True
        self.calls = 0
        self._sleep = sleep

    async def complete(
        self, operation: str, text: str, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The response to ``operation`` on ``text``; ``LLMUnavailableError`` when down."""
        self.calls += 1
        await self._sleep(self.latency)
        if not self.available:
            raise LLMUnavailableError(f"{self.model} is unavailable")
        result = _ANSWERS[operation](text, options)
        prompt = f"{operation} {json.dumps(dict(options), sort_keys=True)}\n{text}"
        return {
            "result": result,
            "model": self.model,
            "usage": {
                "prompt_tokens": _tokens(prompt),
                "completion_tokens": _tokens(json.dumps(result)),
            },
        }
