"""Run cachekit and its peers through the same workloads, in one process, in one run.

    .venv/bin/python bench/run.py [--smoke] [--out FILE.json] [--png FILE.png] [--only GROUPS]

Starts its own throwaway redis-server, prints a Markdown table (ops/s, p50/p99 latency,
cachekit's ratio to each peer) and the targets of issue 9, and writes the results as JSON.
``--smoke`` runs every workload with tiny counts (CI): it checks that the benchmark runs,
and asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``cachekit`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _http as http_bench
from bench import _report as report
from bench import _stacks as stacks
from bench import _topologies as topologies
from bench import _workloads as workloads
from bench._measure import Result, Settings
from tests.redis_server import RedisServer  # the test suite's throwaway server

HERE = Path(__file__).resolve().parent
GROUPS = (
    "memory", "redis", "tiered", "coherence", "build_key", "codec", "telemetry", "entries", "http",
    "cluster", "sentinel",
)  # fmt: skip
NEEDS_REDIS = {"redis", "tiered", "coherence", "telemetry", "http", "cluster", "sentinel"}
POOL = 10
"""Connection pool size of every Redis contender."""


async def run(settings: Settings, only: set[str], url: str, port: int) -> list[Result]:
    results: list[Result] = []
    steps = {
        "memory": lambda: workloads.memory(settings),
        "redis": lambda: workloads.redis(settings, url, port, POOL),
        "tiered": lambda: workloads.tiered(settings, url, POOL),
        "coherence": lambda: workloads.coherence(settings, url, POOL),
        "build_key": lambda: workloads.build_key(settings),
        "codec": lambda: workloads.codec(settings),
        "telemetry": lambda: workloads.telemetry(settings, url, POOL),
        "entries": lambda: workloads.bytes_per_entry(settings),
        "http": lambda: asyncio.to_thread(http_bench.http, settings, url, port),
        "cluster": lambda: topologies.cluster(settings, POOL),  # their own servers
        "sentinel": lambda: topologies.sentinel(settings, POOL),
    }
    for name, step in steps.items():
        if name not in only:
            continue
        started = time.perf_counter()
        rows = await step()
        results += rows
        print(
            f"  {name}: {len(rows)} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny counts: check that it runs (CI)")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="JSON results file")
    parser.add_argument("--png", type=Path, help="also draw a chart (needs matplotlib)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(GROUPS)}")
    parser.add_argument(
        "--rounds", type=int, help="rounds per contender (default 5; the best one counts)"
    )
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(GROUPS)
    if args.smoke and not args.only:
        only.discard("http")  # servers and wrk: run it with --only http
    unknown = only - set(GROUPS)
    if unknown:
        parser.error(f"unknown workload group(s): {', '.join(sorted(unknown))}")
    settings = Settings.for_smoke() if args.smoke else Settings()
    if args.rounds:
        settings.rounds = args.rounds
    started = time.perf_counter()
    if only & NEEDS_REDIS:
        if shutil.which("redis-server") is None:
            parser.error(
                "redis-server is not installed (apt-get install redis-server); "
                f"--only {','.join(g for g in GROUPS if g not in NEEDS_REDIS)} runs without it"
            )
        with RedisServer() as server:
            redis_version = server.version()
            print(f"bench: {redis_version} on port {server.port}", file=sys.stderr)
            results = asyncio.run(run(settings, only, server.url, server.port))
    else:
        redis_version = "not started"
        results = asyncio.run(run(settings, only, "", 0))
    checked = report.targets(results)
    memory_stack = stacks.stack("", redis=False)
    notes = {
        "preset": stacks.PRESET,
        "bench_compression": stacks.BENCH_COMPRESSION,
        "memory_stack": stacks.describe(memory_stack),
        "shipped_compression": workloads.shipped_compression(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(report.table(results))
    print()
    print(report.targets_text(checked))
    sizes = report.codec_sizes(results)
    if sizes:
        print(f"\n{sizes}")
    print(f"\nshipped presets compress with: {notes['shipped_compression']}")
    env = report.environment(settings, redis_version, notes)
    report.write_json(args.out, results, env, checked)
    kind = ", smoke run" if args.smoke else ""
    print(f"\nresults written to {args.out} ({notes['seconds']} s{kind})")
    if args.png:
        print(report.write_png(args.png, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
