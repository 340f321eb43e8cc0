"""``/status``: a page a person can read, rendered on the server (no script, no asset).

It shows what ``/cache/status`` and ``/cache/stats`` say, laid out: the resolved stack,
the state of each tier and of coherence, the Redis topology, the hit ratio of the last
minutes as an inline SVG chart (from ``CacheRuntime.history``), calls per operation,
tagged writes and invalidations per tag, AI tokens and cost saved, active alerts. It
reloads itself every few seconds. ``/`` links to it, to the docs and to ``/metrics``.
Both need what the ops endpoints need (the ``admin`` scope, unless the service is open).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any, Final

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from cachekit.web.deps import RuntimeDep, require_token

REFRESH_SECONDS: Final = 5
_CHART_W: Final = 560
_CHART_H: Final = 120

_STYLE: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2430;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}h2{font-size:15px;margin:0 0 8px;color:#47546a}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.card{background:#fff;border:1px solid #dde2ea;border-radius:8px;padding:12px 14px}
table{border-collapse:collapse;width:100%}td,th{padding:3px 6px;text-align:left;
border-bottom:1px solid #eef0f4}th{color:#6a7587;font-weight:600}
.ok{color:#17803d}.degraded,.warning{color:#b06b00}.unavailable,.critical,.failing{color:#c22}
.big{font-size:30px;font-weight:700}.muted{color:#6a7587}code{font-size:12px}
a{color:#2457c5}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _state(value: Any) -> str:
    text = _e(value)
    word = text.split(":", 1)[0].split(" ", 1)[0]
    return f'<span class="{word}">{text}</span>'


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>{body}</table>"


def _topology(found: dict[str, Any]) -> str:
    nodes = "".join(f"<li><code>{_e(node)}</code></li>" for node in found["nodes"])
    problems = "".join(f'<li class="critical">{_e(p)}</li>' for p in found["problems"])
    return f'<p id="topology">{_e(found["summary"])}</p><ul>{nodes}{problems}</ul>'


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


def chart(points: Sequence[tuple[float, float | None]]) -> str:
    """An inline SVG line of ``(seconds ago, hit ratio)``, oldest left; gaps where no
    lookup happened."""
    span = max((age for age, _ in points), default=0.0) or 1.0
    coords = [
        f"{_CHART_W - age / span * _CHART_W:.1f},{_CHART_H - ratio * _CHART_H:.1f}"
        for age, ratio in points
        if ratio is not None
    ]
    grid = "".join(
        f'<line x1="0" x2="{_CHART_W}" y1="{_CHART_H * f}" y2="{_CHART_H * f}" stroke="#eef0f4"/>'
        for f in (0.25, 0.5, 0.75)
    )
    dots = "".join(
        f'<circle cx="{c.split(",")[0]}" cy="{c.split(",")[1]}" r="2.5" fill="#2457c5"/>'
        for c in coords
    )
    line = (
        f'<polyline fill="none" stroke="#2457c5" stroke-width="2" points="{" ".join(coords)}"/>'
        + dots
        if coords
        else f'<text x="8" y="{_CHART_H / 2}" fill="#6a7587">no lookups yet</text>'
    )
    minutes = span / 60
    return (
        f'<svg id="hit-ratio-chart" viewBox="0 0 {_CHART_W} {_CHART_H}" width="100%" '
        f'height="{_CHART_H}" role="img" aria-label="hit ratio over the last '
        f'{minutes:.0f} minutes">{grid}{line}</svg>'
        f'<div class="muted">last {minutes:.1f} min · 0-100%</div>'
    )


def render(view: dict[str, Any]) -> str:
    """The page for ``CacheRuntime.status_view()``."""
    hits = view["hits"]
    tiers = _table(
        ["tier", "state"], [[_e(t), _state(s)] for t, s in view["tiers"].items()], "no tiers"
    )
    operations = _table(
        ["operation", "calls", "hits", "misses"],
        [[_e(op), c["count"], c.get("hit", ""), c.get("miss", "")] for op, c in view["ops"].items()],  # noqa: E501
        "no calls yet",
    )
    tags = _table(
        ["tag", "tagged writes", "keys invalidated"],
        [[_e(t), c["written"], c["invalidated"]] for t, c in view["tags"].items()],
        "no tagged writes yet",
    )
    alerts = _table(
        ["rule", "level", "message"],
        [[_e(a["rule"]), _state(a["level"]), _e(a["message"])] for a in view["alerts"]],
        "no active alerts",
    )
    ai = view["ai"]
    reasons = "".join(f"<li>{_e(r)}</li>" for r in view["reasons"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cachekit status</title><style>{_STYLE}</style></head>
<body>
<h1>cachekit <span id="status" class="{_e(view["status"])}">{_e(view["status"])}</span></h1>
<p class="muted">environment <b>{_e(view["environment"])}</b> · preset
<b>{_e(view["preset"])}</b> · namespace <b>{_e(view["namespace"])}</b> · up
{_e(view["uptime"])} s · refreshes every {REFRESH_SECONDS} s ·
<a href="/docs">/docs</a> · <a href="/metrics">/metrics</a></p>
<ul>{reasons}</ul>
<div class="grid">
<div class="card"><h2>Hit ratio</h2>
<div class="big" id="hit-ratio" data-hits="{hits["hits"]}" data-lookups="{hits["lookups"]}">
{_percent(hits["ratio"])}</div>
<div class="muted">{hits["hits"]} hits of {hits["lookups"]} lookups · last minute
<span id="hit-ratio-recent">{_percent(hits["recent"])}</span></div>
{chart(view["history"])}</div>
<div class="card"><h2>Stack</h2><code id="stack">{_e(view["stack"])}</code>
<h2 style="margin-top:10px">Tiers</h2>{tiers}
<p>coherence: <span id="coherence">{_e(view["coherence"])}</span></p></div>
<div class="card"><h2>Redis</h2>{_topology(view["topology"])}</div>
<div class="card"><h2>Operations</h2>{operations}</div>
<div class="card"><h2>Tags</h2>{tags}</div>
<div class="card"><h2>AI responses</h2><table>
<tr><td>hits / misses</td><td>{ai["hits"]} / {ai["misses"]}</td></tr>
<tr><td>tokens saved</td><td id="tokens-saved">{ai["tokens_saved"]}</td></tr>
<tr><td>cost saved</td><td id="cost-saved">{ai["cost_saved"]:.4f}</td></tr></table></div>
<div class="card"><h2>Active alerts</h2>{alerts}</div>
</div></body></html>"""


def _index() -> str:
    links = [
        ("/status", "status page"),
        ("/docs", "API docs (Swagger UI)"),
        ("/redoc", "API docs (ReDoc)"),
        ("/openapi.json", "OpenAPI schema"),
        ("/metrics", "Prometheus metrics"),
        ("/readyz", "readiness"),
    ]
    items = "".join(f'<li><a href="{href}">{href}</a> {text}</li>' for href, text in links)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cachekit</title>'
        f"<style>{_STYLE}</style></head><body><h1>cachekit</h1><ul>{items}</ul></body></html>"
    )


def status_router() -> APIRouter:
    """``/`` (links) and ``/status`` (the page)."""
    router = APIRouter(tags=["cachekit ops"])

    @router.get("/", name="cachekit_index", summary="Links", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        """Links to the status page, the docs and the metrics."""
        return HTMLResponse(_index())

    @router.get(
        "/status",
        name="cachekit_status_page",
        summary="Status page",
        response_class=HTMLResponse,
        dependencies=[Depends(require_token)],
    )
    async def status_page(runtime: RuntimeDep) -> HTMLResponse:
        """The stack, its tiers, hit ratio, calls, tags, AI savings and alerts, as HTML."""
        return HTMLResponse(render(await runtime.status_view()))

    return router
