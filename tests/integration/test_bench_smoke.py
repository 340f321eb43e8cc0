"""The benchmark harness's smoke run (CPU-only groups) runs and reports; it asserts
nothing about speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

for peer in ("cachetools", "cashews", "aiocache"):  # the bench extra
    pytest.importorskip(peer)

from bench import _report as report  # noqa: E402
from bench import run  # noqa: E402


def test_bench_smoke_run_writes_rows_and_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A smoke run of the CPU-only groups prints the table and writes every row to JSON."""
    out = tmp_path / "bench.json"
    assert run.main(["--smoke", "--only", "codec,build_key,entries", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    workloads = {r["workload"].split(",")[0] for r in payload["results"]}
    assert workloads == {"codec round trip", "build_key", "memory held per entry"}
    assert all(r["value"] > 0 for r in payload["results"])
    assert {t["target"] for t in payload["targets"]} == {t.name for t in report.TARGETS}
    printed = capsys.readouterr().out
    assert "| codec round trip" in printed and "original: pickle + zlib-6" in printed
