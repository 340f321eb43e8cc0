"""Misses, hits, and the time, tokens and money the AI cache saves.

    python examples/text_processor/demo.py

Runs on the embedded default: the memory tier only (no Redis), the ai-development
per-operation TTLs, and an illustrative price table. The stand-in model takes 0.2 s a call.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cachekit import AIResponseCache, CacheConfigBuilder, resolve
from examples.text_processor import ProcessingResult, TextProcessorService, TextProcessorSettings

DOCUMENT = (
    "Caching model responses makes an AI service faster and cheaper. "
    "A repeated request is answered from memory in microseconds instead of waiting for the "
    "model. Every hit also saves the tokens the model would have billed. "
    "Stale answers are a risk, so each operation keeps its own time to live. "
    "Failures are a problem too: a fallback answer must never be cached."
)
QUESTION = "What does every hit save?"
# Price per 1,000 tokens (illustrative numbers, not any vendor's price list).
PRICES = {"standin-1": {"prompt": 0.15, "completion": 0.60}}


async def run_all(service: TextProcessorService) -> list[ProcessingResult]:
    """The five operations on the sample document, one after the other."""
    return [
        await service.summarize(DOCUMENT, max_length=30),
        await service.sentiment(DOCUMENT),
        await service.key_points(DOCUMENT, max_points=3),
        await service.questions(DOCUMENT, num_questions=3),
        await service.qa(DOCUMENT, QUESTION),
    ]


def show(title: str, results: list[ProcessingResult]) -> None:
    print(f"\n{title}")
    for r in results:
        source = "FALLBACK" if r.degraded else "HIT" if r.cache_hit else "MISS"
        tokens = sum(r.usage.values())
        ms = r.processing_time * 1000
        print(f"  {r.operation:<10} {source:<8} {ms:8.2f} ms {tokens:5d} tokens")


async def main(latency: float = 0.2) -> dict[str, Any]:
    """Run the tour; return the figures it prints (the tests read them)."""
    config = CacheConfigBuilder().with_preset("development").with_ai_features(prices=PRICES).build()
    ai_cache = resolve(config)
    assert isinstance(ai_cache, AIResponseCache)
    settings = TextProcessorSettings(llm_latency_seconds=latency)
    service = TextProcessorService(settings=settings, cache=ai_cache)
    print(f"cache: {ai_cache!r}; per-operation TTLs (s): {ai_cache.operation_ttls}")

    first = await run_all(service)
    show("First pass: every answer comes from the model", first)
    second = await run_all(service)
    show("Second pass: every answer comes from the cache", second)

    stats = await ai_cache.get_cache_stats()
    measured = sum(r.processing_time for r in first) - sum(r.processing_time for r in second)
    print(
        f"\nSaved by {stats['hits']} hits: {stats['tokens_saved']} tokens "
        f"({stats['prompt_tokens_saved']} prompt + {stats['completion_tokens_saved']} completion), "
        f"cost {stats['cost_saved']:.4f} at the demo prices, "
        f"{measured:.2f} s measured ({stats['seconds_saved']:.2f} s estimated by the cache)."
    )

    removed = await ai_cache.invalidate_by_operation("sentiment")
    again = await service.sentiment(DOCUMENT)
    still = await service.summarize(DOCUMENT, max_length=30)
    title = f"invalidate_by_operation('sentiment') removed {removed}: sentiment misses"
    show(title, [again, still])

    service.llm.available = False
    down = await service.summarize("The model is down right now.")
    service.llm.available = True
    back = await service.summarize("The model is down right now.")
    show("Model outage: the fallback is returned but not cached", [down, back])

    return {
        "first": first,
        "second": second,
        "stats": stats,
        "removed": removed,
        "after_invalidation": again,
        "outage": (down, back),
        "model_calls": service.llm.calls,
    }


if __name__ == "__main__":
    asyncio.run(main())
