"""``CacheKeyGenerator`` built with the original's arguments (a hashlib constructor, a
performance monitor) and its public methods."""

from __future__ import annotations

import hashlib

import pytest

from cachekit import CacheKeyGenerator, CachePerformanceMonitor, CacheValueError
from cachekit.keys import CacheKeyGenerator as CoreKeyGenerator
from cachekit.telemetry.monitor import CachePerformanceMonitor as CoreMonitor


def test_key_generator_takes_a_hashlib_constructor_and_a_monitor() -> None:
    """``hash_algorithm=hashlib.sha256`` and ``performance_monitor=`` work as in the original."""
    monitor = CachePerformanceMonitor()
    generator = CacheKeyGenerator(
        text_hash_threshold=10, hash_algorithm=hashlib.sha256, performance_monitor=monitor
    )
    assert generator.hash_algorithm == "sha256" and generator.performance_monitor is monitor
    short = generator.generate_cache_key("hi", "summarize", {"max_length": 100})
    long = generator.generate_cache_key("x" * 50, "qa", {"question": "why?"})
    assert short.startswith("ai:summarize:") and long.startswith("ai:qa:")
    assert short == generator.generate_cache_key("hi", "summarize", {"max_length": 100})
    recorded = monitor.key_generation_times
    assert [m.operation_type for m in recorded] == ["summarize", "qa", "summarize"]
    assert recorded[1].additional_data == {
        "text_tier": "small",
        "has_options": True,
        "has_question": True,
    }
    assert isinstance(CoreKeyGenerator(), CacheKeyGenerator)


def test_key_generator_stats_have_the_original_keys() -> None:
    """``get_key_generation_stats`` counts keys by size and operation from the monitor."""
    generator = CacheKeyGenerator(
        text_hash_threshold=5, performance_monitor=CachePerformanceMonitor()
    )
    for text in ("a", "abcdefgh", "abc"):
        generator.generate_cache_key(text, "sentiment", None)
    stats = generator.get_key_generation_stats()
    assert stats["total_keys_generated"] == 3 and stats["monitor_available"] is True
    assert stats["text_size_distribution"] == {
        "small": 2,
        "large": 1,
        "average_size": 4,
        "max_size": 8,
    }
    assert stats["operation_distribution"] == {"sentiment": 3}
    assert stats["recent_performance"]["recent_measurements"] == 3
    assert stats["average_generation_time"] >= 0


def test_key_generator_without_monitor() -> None:
    """Without a monitor, stats are the original's empty shape; a core monitor still counts."""
    assert CacheKeyGenerator().get_key_generation_stats() == {
        "total_keys_generated": 0,
        "average_generation_time": 0.0,
        "text_size_distribution": {},
        "operation_distribution": {},
        "recent_performance": {},
        "monitor_available": False,
    }
    core = CoreMonitor()
    CacheKeyGenerator(performance_monitor=core).generate_cache_key("t", "qa", {})
    assert core.get_performance_stats()["key_generation"]["count"] == 1


def test_key_generator_refuses_weak_hashes() -> None:
    """MD5 (the original allowed it) is refused: keys must not collide by construction."""
    with pytest.raises(CacheValueError, match="md5"):
        CacheKeyGenerator(hash_algorithm=hashlib.md5)
