"""Masking of secrets for display: URLs, secret keys, nested config dicts.

URLs are masked by the one URL parser's rules (``cachekit.config.urls.mask_url``): the
password of the userinfo and ``password=`` / ``username=`` query values.
"""

from __future__ import annotations

from typing import Any

from cachekit.config.urls import MASK, mask_url

__all__ = [
    "MASK",
    "SECRET_KEYS",
    "is_secret",
    "looks_secret",
    "mask_tree",
    "mask_url",
    "mask_value",
]

# Dotted keys whose values are secrets: masked in every output. Any key whose last part is
# password, token or secret is one too (``server.tokens.<name>.token``), and so are the
# ``password`` / ``username`` query values of URLs (``mask_url``).
SECRET_KEYS: frozenset[str] = frozenset(
    {
        "redis.password",
        "redis.sentinel_password",
        "security.password",
        "security.signing_keys",
        "security.encryption_keys",
        "server.token",
    }
)


def is_secret(dotted_key: str) -> bool:
    """Whether the dotted key holds a secret (its value is never shown)."""
    return dotted_key in SECRET_KEYS or dotted_key.rsplit(".", 1)[-1] in {
        "password",
        "token",
        "secret",
    }


def looks_secret(name: str) -> bool:
    """Whether a key name that is not in the schema (a typo, a misplaced key) may hold a
    secret, so that its value is not echoed in an error message."""
    lowered = name.lower()
    return is_secret(lowered) or any(
        word in lowered for word in ("pass", "secret", "token", "key", "auth", "cred")
    )


def mask_value(dotted_key: str, value: Any) -> Any:
    """Display form of ``value`` stored under ``dotted_key``."""
    if value is None:
        return None
    if isinstance(value, dict) and not is_secret(dotted_key):
        return mask_tree(value, dotted_key + ".")  # a table shown whole: e.g. a token grant
    if is_secret(dotted_key):
        if isinstance(value, list):
            return [MASK for _ in value]
        return MASK
    if dotted_key.endswith("url") and isinstance(value, str):
        return mask_url(value)
    return value


def mask_tree(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A copy of a nested config dict with every secret masked."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not is_secret(dotted):
            out[key] = mask_tree(value, dotted + ".")
        else:
            out[key] = mask_value(dotted, value)
    return out
