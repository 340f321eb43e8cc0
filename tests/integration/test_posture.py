"""The posture rules through the installed ``cachekit`` console script, run as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REMOTE = "redis://cache.internal:6379/0"


def test_posture_console_script_acceptance(tmp_path: Path) -> None:
    """The installed ``cachekit`` script: ``config validate`` exits 2 naming the failed rule."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHEKIT_")}
    env.update(
        CACHEKIT_ENV="production",
        CACHEKIT_REDIS__URL=REMOTE,
        CACHEKIT_SETTINGS_ROOT=str(tmp_path),
    )
    script = Path(sys.executable).with_name("cachekit")
    proc = subprocess.run(
        [str(script), "config", "validate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "posture rule 'plaintext-remote' failed" in proc.stderr
    assert "Traceback" not in proc.stderr
