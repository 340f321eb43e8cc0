"""Tests of packaging that need no build: local secrets stay out of git (the wheel is built
in tests/integration/test_packaging.py)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gitignore_ignores_secrets_file() -> None:
    """``.secrets.toml`` is listed in ``.gitignore``."""
    lines = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".secrets.toml" in [line.strip() for line in lines]
