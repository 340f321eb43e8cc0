"""The installed ``cachekit`` console script, run as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def test_cli_console_script_runs(root: Path) -> None:
    """The installed ``cachekit`` console script runs, prints plain JSON and returns exit codes."""
    script = Path(sys.executable).parent / "cachekit"
    if not script.exists():
        found = shutil.which("cachekit")
        assert found is not None, "the cachekit console script is not installed"
        script = Path(found)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHEKIT_")}
    env["CACHEKIT_SETTINGS_ROOT"] = str(root)
    env["CACHEKIT_REDIS__URL"] = "rediss://cache.internal:6380/0"
    shown = subprocess.run(
        [str(script), "config", "show", "--format", "json", "--sources"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    redis_url = json.loads(shown.stdout)["redis"]["url"]
    assert redis_url == {"value": "rediss://cache.internal:6380/0", "source": "CACHEKIT_REDIS__URL"}
    (root / "settings.toml").write_text('[default.redis]\nurll = "redis://x"\n')
    failed = subprocess.run(
        [str(script), "config", "validate"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert failed.returncode == 2
    assert "redis.urll" in failed.stderr
