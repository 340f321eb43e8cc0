"""Rendering for the CLI: tables (aligned on a terminal), TOML."""

from __future__ import annotations

import json
from typing import Any

from cachekit.config.tree import source_of


def render_table(header: list[str], rows: list[list[str]], *, tty: bool) -> str:
    """Aligned columns with a rule under the header on a terminal; tab-separated when piped."""
    if not tty:
        return "".join("\t".join(row) + "\n" for row in rows)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join([line, rule, *body]) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(tree: dict[str, Any], *, leaves_sources: dict[str, str] | None = None) -> str:
    """TOML text of a nested dict; unset (None) values become comments."""
    lines: list[str] = []

    def emit(node: dict[str, Any], path: str) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in node.items() if isinstance(v, dict)}
        if path and (scalars or not tables):
            lines.append(f"\n[{path}]")
        for key, value in scalars.items():
            dotted = f"{path}.{key}" if path else key
            note = f"  # {source_of(leaves_sources, dotted)}" if leaves_sources else ""
            if value is None:
                lines.append(f"# {key} is unset{note}")
            else:
                lines.append(f"{key} = {_toml_value(value)}{note}")
        for key, value in tables.items():
            emit(value, f"{path}.{key}" if path else key)

    emit(tree, "")
    return "\n".join(lines).lstrip("\n") + "\n"
