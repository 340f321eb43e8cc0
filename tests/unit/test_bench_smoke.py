"""The benchmark harness's argument checks and target arithmetic (the smoke run itself is
in tests/integration); nothing here is about speed."""

from __future__ import annotations

import pytest

for peer in ("cachetools", "cashews", "aiocache"):  # the bench extra
    pytest.importorskip(peer)

from bench import _report as report  # noqa: E402
from bench import run  # noqa: E402
from bench._measure import Result  # noqa: E402


def test_bench_run_rejects_unknown_groups() -> None:
    """A misspelt workload group is an argument error, not a silent empty run."""
    with pytest.raises(SystemExit):
        run.main(["--only", "memroy"])


def test_bench_targets_compare_against_the_named_peer() -> None:
    """Ratios divide cachekit's figure by the peer's; time and overhead targets invert it."""
    rows = [
        Result("redis get-hit, sequential", "cachekit", 1200.0, subject=True),
        Result("redis get-hit, sequential", "redis-py + json", 1000.0),
        Result("telemetry, memory get-hit", "cachekit, monitoring on", 800.0, subject=True),
        Result("telemetry, memory get-hit", "cachekit, monitoring off", 1000.0),
    ]
    checked = {t["target"]: t for t in report.targets(rows)}
    sequential = checked["redis sequential get-hit vs redis-py + json"]
    assert sequential["value"] == pytest.approx(1.2) and sequential["met"] is True
    overhead = checked["telemetry overhead, memory path"]
    assert overhead["value"] == pytest.approx(0.25) and overhead["met"] is True
    assert checked["build_key on 1 MB"]["met"] is None
