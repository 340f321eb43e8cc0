"""Nested settings as dotted keys: read one leaf, flatten a tree, name a leaf's source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def get(data: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` (``"redis.url"``) in nested mappings, or None when absent."""
    node: Any = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key → leaf value; empty tables are kept as leaves."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def source_of(sources: Mapping[str, str], key: str) -> str:
    """The layer that set ``key``, or the nearest enclosing table's (name-keyed tables)."""
    while key:
        if key in sources:
            return sources[key]
        key = key.rpartition(".")[0]
    return "unknown"
