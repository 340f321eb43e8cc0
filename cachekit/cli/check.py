"""``cachekit check``: is this deployment fit to serve? Usable as a deploy gate.

It validates the settings (the CLI exits 2 on invalid ones), then reports what the stack
is and how it connects: tiers, TLS, authentication (ACL user, password, client
certificate), security posture findings, whether ``cachekit serve`` would accept writes,
then connects, round-trips a value with the latency of each step, and asks the stack's
health. The last line is the verdict: ``ok: ...`` (exit 0), or ``unfit: <why>`` on one
line (exit 1) when anything fails or Redis is not serving (the stack would be degraded).
``run_check_json`` gives the same as one JSON object (``cachekit check --format json``).
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import time
from typing import Any, TextIO

from cachekit.config import credentials
from cachekit.config.masking import mask_url
from cachekit.config.model import CacheConfig
from cachekit.errors import CacheConfigError, CacheError
from cachekit.health import Topology
from cachekit.layers.wrapper import find_tier
from cachekit.resolver import resolve
from cachekit.web.tokens import TokenRule

EXIT_OK = 0
EXIT_UNFIT = 1


def _line(out: TextIO, label: str, text: str) -> None:
    """One line of the report; an unlabelled line continues the one above (a topology's
    nodes: a list under ``nodes`` in the JSON form)."""
    fields = getattr(out, "fields", None)
    if fields is not None:
        if label:
            fields[label] = text
        else:
            fields.setdefault("nodes", []).append(text)
    out.write(f"  {label:<9} {text}\n")


class _Collected(io.StringIO):
    """The report's text, and its labelled lines by label."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, Any] = {}


async def run_check_json(config: CacheConfig, out: TextIO, *, serve: bool = False) -> int:
    """``run_check`` as one JSON object: ``environment``, ``preset``, ``fit``, ``verdict``
    (the last line), ``reason`` (why unfit, else null) and ``checks`` (label: text)."""
    collected = _Collected()
    code = await run_check(config, collected, serve=serve)
    verdict = collected.getvalue().rstrip("\n").rsplit("\n", 1)[-1]
    doc = {
        "environment": config.environment,
        "preset": config.preset,
        "fit": code == EXIT_OK,
        "verdict": verdict,
        "reason": verdict.removeprefix("unfit: ") if code != EXIT_OK else None,
        "checks": collected.fields,
    }
    out.write(json.dumps(doc, indent=2) + "\n")
    return code


def _security_lines(config: CacheConfig, out: TextIO) -> str | None:
    """Report TLS, authentication and posture; the first posture error, if any."""
    review = credentials.review(config)
    if review.tls:
        sec = config.security
        verify = "verified" if sec.verify_certificates else "NOT verified"
        _line(out, "tls", f"on, certificates {verify}, minimum {sec.min_tls_version}")
    else:
        where = "loopback" if review.local else "a remote host"
        _line(out, "tls", f"off (plaintext to {where})")
    _line(out, "auth", review.authentication)
    findings = [str(f) for f in review.findings if f.severity != "note"]
    posture = config.security.posture
    _line(out, "posture", f"{posture}: " + ("; ".join(findings) or "no findings"))
    return next((f for f in findings if f.startswith("error")), None)


def _server_line(config: CacheConfig, out: TextIO) -> str | None:
    """Report who may write through ``cachekit serve``; why it would not start, if so."""
    server = config.server
    rule = TokenRule.from_config(server, environment=config.environment)
    where = f"{server.host}:{server.port}"
    needs = "every request but /livez and /readyz" if server.auth == "all" else "writes"
    text = {
        "token": f"{needs} and ops need a token ({len(server.tokens) + bool(server.token)} set)",
        "open": "open without a token (development/testing on loopback only)",
        "refused": "no token is set: `cachekit serve` would refuse to start",
    }[rule.mode]
    _line(out, "serve", f"{where}, {text}")
    return None if rule.refusal is None else f"server.token: {rule.refusal}"


async def _topology(cache: Any) -> Topology | None:
    """What the Redis tier found behind its URL (master and replicas, or the cluster's
    nodes and slots); None without a Redis tier, or when it cannot say."""
    remote = find_tier(cache, "redis")
    describe = getattr(remote, "topology", None)
    if describe is None:
        return None
    try:
        found: Topology = await describe()
    except CacheError:  # Redis failing now: the health line says so
        return None
    return found


async def run_check(config: CacheConfig, out: TextIO, *, serve: bool = False) -> int:
    """Print the report and the verdict; 0 when fit to serve, 1 when not.

    With ``serve``, a ``cachekit serve`` that would refuse to start (no ``server.token``
    where one is needed) makes the deployment unfit too.
    """
    out.write(f"cachekit check: environment {config.environment}, preset {config.preset}\n")
    if not config.enabled:
        out.write(f"ok: caching disabled by preset {config.preset} (every get misses)\n")
        return EXIT_OK
    tiers = ["memory"] if config.memory.enabled else []
    if config.redis.url:
        tiers.append(f"redis {mask_url(config.redis.url)}")
    _line(out, "tiers", " + ".join(tiers))
    problem = _security_lines(config, out) if config.redis.url else None
    refusal = _server_line(config, out)
    if serve and problem is None:
        problem = refusal
    cache = resolve(config)
    key = f"cachekit-check:{secrets.token_hex(8)}"
    value = {"check": secrets.token_hex(8)}
    budget = config.budget.steps(3)
    timings: dict[str, float] = {}

    async def timed(step: str, call: Any, *args: Any) -> Any:
        started = time.perf_counter()
        result = await call(*args)
        timings[step] = (time.perf_counter() - started) * 1000
        return result

    try:
        async with asyncio.timeout(budget):
            await timed("connect", cache.connect)
            await timed("set", cache.set, key, value, 30)
            got = await timed("get", cache.get, key)
            await timed("delete", cache.delete, key)
            # The resilience layer serves from memory when Redis fails: ask it.
            report = await timed("health", cache.health)
            topology = await _topology(cache)
    except CacheConfigError as exc:  # e.g. a cluster node behind a standalone URL
        out.write("unfit: " + "; ".join(str(p) for p in exc.problems) + "\n")
        return EXIT_UNFIT
    except (CacheError, TimeoutError) as exc:
        reason = str(exc) or f"no answer within {budget:.1f}s"
        out.write(f"unfit: {reason}\n")
        return EXIT_UNFIT
    finally:
        await cache.aclose()
    _line(out, "latency", ", ".join(f"{step} {ms:.2f} ms" for step, ms in timings.items()))
    tiers_health = ", ".join(f"{tier} {state}" for tier, state in report.tiers.items())
    _line(out, "health", f"{report.status} ({tiers_health})")
    if topology is not None:
        _line(out, "topology", topology.summary)
        for node in topology.nodes:
            _line(out, "", node)
        if topology.problems and problem is None:
            problem = f"redis topology: {topology.problems[0]}"
    if not report.ok:
        reason = report.reasons[0] if report.reasons else "no reason given"
        out.write(f"unfit: {report.status}: {reason}\n")
        return EXIT_UNFIT
    if got != value:
        out.write("unfit: the value read back differs from the value written\n")
        return EXIT_UNFIT
    if problem is not None:
        out.write(f"unfit: {problem}\n")
        return EXIT_UNFIT
    round_trip = sum(timings[step] for step in ("set", "get", "delete"))
    out.write(f"ok: round trip in {round_trip:.2f} ms, fit to serve\n")
    return EXIT_OK
