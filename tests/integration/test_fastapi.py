"""cachekit.fastapi stays optional: a fresh interpreter (a subprocess) imports cachekit
without FastAPI."""

from __future__ import annotations


def test_import_cachekit_does_not_import_fastapi() -> None:
    """``import cachekit`` (and cachekit.testing) leaves FastAPI, Starlette and uvicorn out."""
    import subprocess
    import sys

    code = (
        "import sys, cachekit, cachekit.testing; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'starlette', 'uvicorn', 'pydantic'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
