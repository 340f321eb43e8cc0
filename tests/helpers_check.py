"""Running ``cachekit check`` in process, for both halves of test_check."""

from __future__ import annotations

import io

from cachekit.cli.main import main


def run(argv: list[str]) -> tuple[int, list[str]]:
    """``cachekit <argv>``: exit status and the lines printed."""
    out = io.StringIO()
    status = main(argv, out=out)
    return status, out.getvalue().splitlines()
