"""Example domain service over cachekit's AI response cache (see ``demo.py``).

From the repository root::

    from examples.text_processor import TextProcessorService
    service = TextProcessorService(settings=settings, cache=ai_cache)
"""

from .llm import LLMUnavailableError, StandInLLM
from .service import ProcessingResult, TextProcessorService, TextProcessorSettings, default_cache

__all__ = [
    "LLMUnavailableError",
    "ProcessingResult",
    "StandInLLM",
    "TextProcessorService",
    "TextProcessorSettings",
    "default_cache",
]
