"""The values the workloads store: built deterministically, the same for every contender."""

from __future__ import annotations

import json
import random
from typing import Any

_VOCABULARY = (
    "the of and to in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "model cache latency request response token context summary answer question document "
    "user system memory network server client value result score quality review analysis "
    "important however because between through during without within against"
)
_WORDS = _VOCABULARY.split()


def prose(n_chars: int, seed: int = 7) -> str:
    """Deterministic English-like text of exactly ``n_chars`` characters."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    sentence = 0
    while size <= n_chars:
        word = rng.choice(_WORDS)
        if sentence == 0:
            word = word.capitalize()
        sentence += 1
        if sentence > rng.randint(8, 18):
            word += "."
            sentence = 0
        parts.append(word)
        size += len(word) + 1
    return " ".join(parts)[:n_chars]


def record_dict() -> dict[str, Any]:
    """A ~1 KB (as JSON) flat record: the shape of a row or an API object."""
    value: dict[str, Any] = {
        "id": 1234567,
        "uuid": "5f0c6a3e-3c1b-4d7a-9a8e-2b6f4d1c9e07",
        "name": "Ada Lovelace",
        "email": "ada.lovelace@example.com",
        "active": True,
        "verified": False,
        "score": 98.5,
        "balance": 1024.75,
        "login_count": 4821,
        "created_at": "2024-03-01T12:00:00Z",
        "updated_at": "2025-09-14T08:30:12Z",
        "country": "GB",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "plan": "enterprise",
        "referrer": None,
        "bio": prose(560, seed=1),
    }
    return value


def nested_dict() -> dict[str, Any]:
    """A ~1 KB (as JSON) nested document: lists and dicts inside the top-level dict."""
    return {
        "id": 1234567,
        "name": "Ada Lovelace",
        "email": "ada.lovelace@example.com",
        "active": True,
        "score": 98.5,
        "tags": ["math", "engines", "poetry", "notes"],
        "address": {"street": "12 St James's Square", "city": "London", "postcode": "SW1Y 4JH"},
        "orders": [
            {"sku": f"SKU-{i:04d}", "qty": i, "price": round(9.99 * i, 2), "title": "Engine part"}
            for i in range(6)
        ],
        "bio": prose(300, seed=2),
    }


def short_str(length: int = 100) -> str:
    """A ``length``-character string."""
    return prose(length, seed=3)


def ai_response() -> dict[str, Any]:
    """A ~12 KB (as JSON) AI operation result: a summary, key points, Q&A and metadata."""
    return {
        "operation": "summarize",
        "model": "gpt-4o-mini-2024-07-18",
        "created_at": "2025-09-14T08:30:12Z",
        "summary": prose(6000, seed=11),
        "key_points": [prose(300, seed=20 + i) for i in range(8)],
        "questions": [
            {"q": prose(120, seed=40 + i), "a": prose(400, seed=60 + i)} for i in range(6)
        ],
        "sentiment": {"label": "positive", "score": 0.87},
        "usage": {"prompt_tokens": 3120, "completion_tokens": 812, "total_tokens": 3932},
        "cached": False,
    }


def json_size(value: Any) -> int:
    return len(json.dumps(value).encode())
