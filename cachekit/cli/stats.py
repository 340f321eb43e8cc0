"""``cachekit stats``: the analytics of a running service, read from its ops router.

The numbers live in the process that serves the cache, so the command asks it: it reads
``GET {url}/cache/stats`` (``cachekit serve``, or any app that mounts ``ops_router()``)
and prints the monitor's section: hit rate, operations by tier, invalidation statistics
and recommendations, and the alerts firing. ``url`` defaults to ``server.host`` and
``server.port`` of the resolved settings.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, TextIO
from urllib.parse import urlsplit

from cachekit.config.masking import mask_url

EXIT_OK = 0
EXIT_UNAVAILABLE = 1


class StatsUnavailable(Exception):
    """The service did not answer with cache statistics (message says why)."""


def fetch_stats(base_url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """The JSON body of ``{base_url}/cache/stats``."""
    if urlsplit(base_url).scheme not in {"http", "https"}:
        raise StatsUnavailable(f"not an http(s) URL: {mask_url(base_url)}")
    url = base_url.rstrip("/") + "/cache/stats"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise StatsUnavailable(f"{mask_url(url)} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StatsUnavailable(
            f"no cachekit service answers at {mask_url(base_url)} ({reason}); start one "
            "with `cachekit serve` or pass --url"
        ) from None
    except ValueError:
        raise StatsUnavailable(f"{mask_url(url)} did not answer with JSON") from None
    if not isinstance(body, dict):
        raise StatsUnavailable(f"{mask_url(url)} did not answer with a JSON object")
    return body


def monitor_section(stats: dict[str, Any]) -> dict[str, Any] | None:
    """The monitor's statistics among the layers' (the one with ``cache_hit_rate``)."""
    for value in stats.values():
        if isinstance(value, dict) and "cache_hit_rate" in value:
            return value
    return None


def render(stats: dict[str, Any]) -> str:
    """The monitor's statistics as a short plain-text report."""
    lines = [
        f"hit rate       {stats['cache_hit_rate']:.1f}% of {stats['lookups']} lookups",
        f"operations     {stats['total_operations']}",
    ]
    for name, op in stats.get("operations", {}).items():
        for tier, row in op["tiers"].items():
            parts = [f"{k} {row[k]}" for k in ("hit", "miss", "ok", "error") if row.get(k)]
            mean = row.get("avg_duration")
            timing = f", mean {mean * 1000:.3f} ms" if mean is not None else ""
            lines.append(f"  {name:<12} {tier:<7} {row['count']:>9}  ({', '.join(parts)}{timing})")
    memory = stats.get("memory_usage", {}).get("current", {})
    if memory.get("max_entries") is not None:
        lines.append(
            f"memory tier    {memory['memory_tier_entries']} entries, "
            f"{memory['memory_tier_mb']:.1f} MiB, {memory['evictions']} evictions"
        )
    inv = stats.get("invalidation", {})
    if inv:
        rates, level = inv["rates"], inv["thresholds"]["current_alert_level"]
        lines.append(
            f"invalidations  {rates['last_hour']} in the last hour, "
            f"{rates['last_24_hours']} in 24 h ({level})"
        )
        for top in inv["patterns"]["most_common"]:
            lines.append(f"  {top['pattern']:<30} {top['count']:>6}  {top['share']:.0%}")
    alerts = stats.get("alerts", {}).get("active", [])
    lines.append(f"alerts         {len(alerts)} firing")
    lines.extend(f"  {a['level']}: {a['message']}" for a in alerts)
    advice = stats.get("recommendations", [])
    if advice:
        lines.append("recommendations")
        lines.extend(f"  {r['severity']}: {r['message']}" for r in advice)
    return "\n".join(lines) + "\n"


def run_stats(base_url: str, out: TextIO, err: TextIO, *, as_json: bool, timeout: float) -> int:
    """Print the service's cache analytics; 1 when they cannot be had."""
    try:
        stats = monitor_section(fetch_stats(base_url, timeout=timeout))
    except StatsUnavailable as exc:
        err.write(f"cachekit: {exc}\n")
        return EXIT_UNAVAILABLE
    if stats is None:
        err.write(
            f"cachekit: the service at {mask_url(base_url)} has no monitor "
            "(monitoring.enabled = false)\n"
        )
        return EXIT_UNAVAILABLE
    out.write(json.dumps(stats, indent=2) + "\n" if as_json else render(stats))
    return EXIT_OK
