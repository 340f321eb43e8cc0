"""The results as a table, the targets of issue 9, a JSON file and an optional PNG chart."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench._measure import Result, Settings


def ratio(subject: Result, other: Result) -> float:
    """cachekit's figure divided by ``other``'s (same unit)."""
    return subject.value / other.value if other.value else float("inf")


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _us(value: float | None) -> str:
    return "" if value is None else _fmt(value)


def groups(results: list[Result]) -> dict[str, list[Result]]:
    out: dict[str, list[Result]] = {}
    for r in results:
        out.setdefault(r.workload, []).append(r)
    return out


def subject_of(rows: list[Result]) -> Result:
    return next(r for r in rows if r.subject)


def table(results: list[Result]) -> str:
    """A Markdown table: one block of rows per workload, ratios against its cachekit row."""
    lines = [
        "| workload | contender | result | p50 µs | p99 µs | cachekit ÷ this | note |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    for workload, rows in groups(results).items():
        subject = subject_of(rows)
        for i, r in enumerate(rows):
            shown = "" if r.subject else f"{ratio(subject, r):.2f}x"
            name = f"**{r.contender}**" if r.subject else r.contender
            cells = [
                workload if i == 0 else "",
                name,
                f"{_fmt(r.value)} {r.unit}",
                _us(r.p50_us),
                _us(r.p99_us),
                shown,
                r.note,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class Target:
    """One target of issue 9 and how to check it against a run."""

    name: str
    workload: str
    other: str | None
    op: str
    """``>=`` / ``<=`` on the ratio cachekit ÷ other; ``time<=`` on other ÷ cachekit (a time
    ratio from rates); ``overhead<=`` on other ÷ cachekit - 1; ``abs>=`` on cachekit's value."""
    limit: float

    def measure(self, results: list[Result]) -> float | None:
        rows = [r for r in results if r.workload.startswith(self.workload)]
        if not rows:
            return None
        subject = subject_of(rows)
        if self.op in ("abs>=", "abs<="):
            return subject.value
        if self.op == "p99<=":
            return float(subject.extra["p99_ms"])
        if self.op == "two>=":  # the 2-worker row against the 1-worker row
            two = next((r for r in rows if r.contender.endswith("2 workers")), None)
            one = next((r for r in rows if r.contender == self.other), None)
            return None if two is None or one is None else two.value / one.value
        other = next((r for r in rows if r.contender == self.other), None)
        if other is None:
            return None
        if self.op == "time<=":
            return other.value / subject.value
        if self.op == "overhead<=":
            return other.value / subject.value - 1
        return ratio(subject, other)

    def met(self, value: float) -> bool:
        return value <= self.limit if self.op.endswith("<=") else value >= self.limit

    def show(self, value: float) -> str:
        if self.op == "overhead<=":
            return f"{value * 100:+.1f}% (target <= {self.limit * 100:.0f}%)"
        if self.op == "abs>=":
            return f"{value:,.0f} MB/s (target >= {self.limit:,.0f})"
        if self.op in ("abs<=", "p99<="):
            return f"{value:.2f} ms (target <= {self.limit:g} ms)"
        sign = "<=" if self.op.endswith("<=") else ">="
        return f"{value:.2f}x (target {sign} {self.limit}x)"


TARGETS = [
    Target(
        "memory get-hit dict vs cashews", "memory get-hit, dict ~1 KB", "cashews mem://", ">=", 3
    ),
    Target(
        "memory get-hit dict vs aiocache",
        "memory get-hit, dict ~1 KB",
        "aiocache SimpleMemoryCache",
        ">=",
        12,
    ),
    Target(
        "memory get-hit str 100 B vs cachetools",
        "memory get-hit, str 100 B",
        "cachetools.TTLCache",
        ">=",
        0.9,
    ),
    Target(
        "memory get-hit str 600 B vs cachetools",
        "memory get-hit, str 600 B",
        "cachetools.TTLCache",
        ">=",
        1.0,
    ),
    Target(
        "memory get-hit nested dict vs cachetools (private copies)",
        "memory get-hit, nested dict",
        "cachetools.TTLCache",
        ">=",
        0.5,
    ),
    Target(
        "memory get-hit nested dict vs cachetools (memory.copies = shared)",
        "memory get-hit, nested dict ~1 KB, shared",
        "cachetools.TTLCache",
        ">=",
        0.8,
    ),
    Target(
        "redis sequential get-hit vs redis-py + json",
        "redis get-hit, sequential",
        "redis-py + json",
        ">=",
        1.2,
    ),
    Target(
        "redis 64-task get-hit vs redis-py + json",
        "redis get-hit, 64 concurrent",
        "redis-py + json",
        ">=",
        4.0,
    ),
    Target(
        "get_many(100) vs 100 sequential gets",
        "redis get_many",
        "cachekit, 100 sequential gets",
        ">=",
        20,
    ),
    Target("build_key on 1 MB", "build_key", None, "abs>=", 1000),
    Target(
        "codec time vs pickle + zlib-6",
        "codec round trip",
        "original: pickle + zlib-6",
        "time<=",
        0.5,
    ),
    Target(
        "telemetry overhead, memory path",
        "telemetry, memory",
        "cachekit, monitoring off",
        "overhead<=",
        0.25,
    ),
    Target(
        "telemetry overhead, redis path",
        "telemetry, redis",
        "cachekit, monitoring off",
        "overhead<=",
        0.05,
    ),
    Target(
        "memory get-hit, coherence tracking vs local",
        "coherence, memory get-hit",
        "cachekit, coherence local",
        ">=",
        0.9,
    ),
    Target("invalidation lag p50", "coherence, invalidation lag", None, "abs<=", 5),
    Target("invalidation lag p99", "coherence, invalidation lag", None, "p99<=", 50),
    Target(
        "serve GET hit vs minimal Starlette app", "http GET hit", "starlette minimal app", ">=", 0.8
    ),
    Target("serve PUT vs minimal Starlette app", "http PUT", "starlette minimal app", ">=", 0.7),
    Target("serve GET hit vs webdis", "http GET hit", "webdis", ">=", 1.0),
    Target(
        "serve GET hit, 2 workers vs 1",
        "http GET hit",
        "cachekit serve, 1 worker",
        "two>=",
        1.6,
    ),
    Target(
        "bytes per entry vs cachetools (small dict)",
        "memory held per entry",
        "cachetools.TTLCache",
        "<=",
        1.5,
    ),
    Target(
        "cluster 64-task get-hit vs redis-py RedisCluster + json",
        "cluster get-hit",
        "redis-py RedisCluster + json",
        ">=",
        2.0,
    ),
    Target(
        "cluster get_many(100) vs mget_nonatomic + json",
        "cluster get_many",
        "redis-py mget_nonatomic + json",
        ">=",
        2.0,
    ),
    Target(
        "sentinel get-hit within 10% of standalone",
        "sentinel get-hit",
        "cachekit standalone, same master",
        ">=",
        0.9,
    ),
]


def codec_sizes(results: list[Result]) -> str | None:
    rows = [r for r in results if r.workload.startswith("codec") and "stored_bytes" in r.extra]
    if not rows:
        return None
    subject = subject_of(rows)
    original = next(r for r in rows if r.contender.startswith("original"))
    ok = subject.extra["stored_bytes"] <= original.extra["stored_bytes"]
    return (
        f"codec stored size: cachekit {subject.extra['stored_bytes']:,} B vs original "
        f"{original.extra['stored_bytes']:,} B ({'equal or better' if ok else 'WORSE'})"
    )


def targets(results: list[Result]) -> list[dict[str, Any]]:
    out = []
    for t in TARGETS:
        value = t.measure(results)
        out.append(
            {
                "target": t.name,
                "value": value,
                "limit": t.limit,
                "op": t.op,
                "met": None if value is None else t.met(value),
                "shown": "not measured" if value is None else t.show(value),
            }
        )
    return out


def targets_text(rows: list[dict[str, Any]]) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
        lines.append(f"| {row['target']} | {row['shown']} | {met} |")
    return "\n".join(lines)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(
    settings: Settings, redis_version: str, stack_notes: dict[str, str]
) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "redis_server": redis_version,
        "packages": {
            name: _version(name)
            for name in (
                "cachekit",
                "redis",
                "hiredis",
                "msgspec",
                "zstandard",
                "cachetools",
                "cashews",
                "aiocache",
            )
        },
        "settings": asdict(settings),
        **stack_notes,
    }


def write_json(
    path: Path, results: list[Result], env: dict[str, Any], checked: list[dict[str, Any]]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"environment": env, "results": [asdict(r) for r in results], "targets": checked}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def write_png(path: Path, results: list[Result]) -> str:
    """A bar chart of every contender relative to cachekit; a message when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "PNG skipped: matplotlib is not installed (pip install matplotlib)"
    grouped = [(w, rows) for w, rows in groups(results).items() if len(rows) > 1]
    cols = 3
    n_rows = -(-len(grouped) // cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(6 * cols, 2.4 * n_rows), squeeze=False)
    for ax, (workload, rows) in zip(axes.flat, grouped, strict=False):
        subject = subject_of(rows)
        rel = [r.value / subject.value for r in rows]
        colours = ["tab:green" if r.subject else "tab:grey" for r in rows]
        bars = ax.barh([r.contender for r in rows], rel, color=colours)
        ax.bar_label(bars, labels=[f"{_fmt(r.value)}" for r in rows], fontsize=7, padding=2)
        ax.invert_yaxis()
        ax.set_title(f"{workload}\n({rows[0].unit}; bars relative to cachekit)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.axvline(1.0, color="black", linewidth=0.5)
        ax.margins(x=0.25)
    for ax in list(axes.flat)[len(grouped) :]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"PNG written to {path}"
