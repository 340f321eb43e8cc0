"""Tests of packaging: the wheel (built by pip in a subprocess) carries the preset files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_contains_every_preset_file(tmp_path: Path) -> None:
    """Every ``environments/*.toml`` is inside the wheel under ``cachekit/_environments/``."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("cachekit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    presets = sorted(p.name for p in (REPO / "environments").glob("*.toml"))
    assert "_base.toml" in presets
    missing = [name for name in presets if f"cachekit/_environments/{name}" not in names]
    assert missing == []
    assert "cachekit/cli/main.py" in names
    assert not any(name.endswith(".secrets.toml") for name in names)
