"""What a Redis server says it is, and what that means for ``redis.mode``.

``HELLO`` (Redis 6.2+, allowed to every user) names the server's mode (``standalone``,
``sentinel``, ``cluster``) and role. A server that is not what the settings expect is a
configuration error found at connect, with the fix in its message, instead of a circuit
that opens on MOVED replies and never closes::

    redis://10.0.0.7:7000/0 is a cluster node: set redis.mode = 'cluster'
    (or use redis+cluster://10.0.0.7:7000)

A server that cannot say (Redis before 6, a command the ACL refuses) is taken at its word.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

from redis import exceptions as rex

from cachekit.errors import CacheConfigError, ConfigProblem
from cachekit.health import Topology

_FIXES = {
    ("standalone", "cluster"): (
        "{where} is a cluster node: set redis.mode = 'cluster' "
        "(or use redis+cluster://{where})"
    ),
    ("standalone", "sentinel"): (
        "{where} is a sentinel: set redis.mode = 'sentinel' and name the master "
        "(redis+sentinel://{where}/mymaster/0)"
    ),
    ("cluster", "standalone"): (
        "{where} is not a cluster node (cluster support is disabled there): "
        "set redis.mode = 'standalone'"
    ),
    ("cluster", "sentinel"): (
        "{where} is a sentinel, not a cluster node: set redis.mode = 'sentinel' "
        "(redis+sentinel://{where}/mymaster/0)"
    ),
    ("sentinel", "standalone"): (
        "{where} is a Redis server, not a sentinel: list the sentinels in redis.url, or "
        "set redis.mode = 'standalone' to use this server directly"
    ),
    ("sentinel", "cluster"): (
        "{where} is a cluster node, not a sentinel: set redis.mode = 'cluster' "
        "(redis+cluster://{where})"
    ),
}


FAILOVER_PAUSE: Final = 0.05
"""Seconds between two attempts of a probe that waits out a failover."""


async def probe_until(
    attempt: Callable[[float], Awaitable[str | None]], timeout: float
) -> str | None:
    """Repeat ``attempt(seconds left)`` until it succeeds (None) or ``timeout`` is spent;
    the last reason otherwise. A Sentinel or Cluster failover completes within a second or
    two of a probe starting: waiting for it inside the probe's budget closes the circuit as
    soon as the promoted replica takes writes, not a probe backoff later."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        reason = await attempt(max(0.0, deadline - loop.time()))
        if reason is None or deadline - loop.time() <= FAILOVER_PAUSE:
            return reason
        await asyncio.sleep(FAILOVER_PAUSE)


def _text(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def fields_of(reply: Any) -> dict[str, Any]:
    """A ``HELLO`` reply (a flat list in RESP2, a map in RESP3) as a dict of str keys."""
    if isinstance(reply, dict):
        return {str(_text(k)): _text(v) for k, v in reply.items()}
    if isinstance(reply, (list, tuple)):
        items = list(reply)
        return {str(_text(k)): _text(v) for k, v in zip(items[::2], items[1::2], strict=False)}
    return {}


async def hello(client: Any) -> dict[str, Any] | None:
    """The server's ``HELLO`` fields (``mode``, ``role``, ``version``...), or None when
    it cannot say (an unknown command, a refusal). Connection errors propagate.

    ``HELLO`` without a protocol version leaves the connection's protocol as it is (a
    ``HELLO 2`` would switch a RESP3 connection under redis-py's parser)."""
    try:
        reply = await client.execute_command("HELLO")
    except rex.ResponseError:  # Redis < 6, or an ACL without HELLO: nothing to learn
        return None
    return fields_of(reply)


def mode_problem(expected: str, fields: dict[str, Any] | None, where: str) -> str | None:
    """Why a server whose ``HELLO`` said ``fields`` cannot serve ``expected`` mode, with the
    fix; None when it can (or cannot say)."""
    found = None if fields is None else fields.get("mode")
    if not isinstance(found, str) or found == expected:
        return None
    template = _FIXES.get((expected, found))
    if template is None:
        return f"{where} is a {found} server, but redis.mode is {expected!r}"
    return template.format(where=where)


def mode_error(problem: str, expected: str) -> CacheConfigError:
    """The configuration error a topology mismatch raises (naming ``redis.mode``)."""
    problems = [ConfigProblem(key="redis.mode", message=problem, value=repr(expected))]
    return CacheConfigError(problems)


async def check_mode(client: Any, expected: str, where: str) -> None:
    """Raise the configuration error naming the fix when the server ``client`` reaches
    says in ``HELLO`` that it cannot serve ``expected`` mode."""
    problem = mode_problem(expected, await hello(client), where)
    if problem is not None:
        raise mode_error(problem, expected)


def role_of(fields: dict[str, Any] | None) -> str | None:
    """``master`` or ``replica`` from ``HELLO`` fields (None: not said)."""
    role = None if fields is None else fields.get("role")
    if role == "slave":
        return "replica"
    return role if isinstance(role, str) else None


def slot_ranges(slots: list[int]) -> str:
    """``0-5460,5462`` for a sorted list of slots."""
    if not slots:
        return "none"
    ranges: list[str] = []
    start = previous = slots[0]
    for slot in slots[1:]:
        if slot != previous + 1:
            ranges.append(f"{start}-{previous}" if start != previous else str(start))
            start = slot
        previous = slot
    ranges.append(f"{start}-{previous}" if start != previous else str(start))
    return ",".join(ranges)


def foreign_client(client: object) -> CacheConfigError:
    """The error for a client passed in that is not a plain ``redis.asyncio.Redis`` (a
    ``RedisCluster`` would raise its own errors past the resilience layer)."""
    message = (
        f"the client passed in is a {type(client).__name__}, not a redis.asyncio.Redis: for "
        "a cluster set redis.mode = 'cluster' and pass no client (cachekit makes one per node)"
    )
    return CacheConfigError([ConfigProblem(key="redis.mode", message=message)])


def passed_client_error(mode: str) -> CacheConfigError:
    """The error for a client passed in with ``redis.mode`` sentinel or cluster: one
    client reaches one server, and cachekit must follow the topology itself."""
    message = (
        f"a client was passed in, but redis.mode is {mode!r}: pass none (cachekit connects "
        "to the nodes itself), or use redis.mode = 'standalone' with that client"
    )
    return CacheConfigError([ConfigProblem(key="redis.mode", message=message, value=repr(mode))])


async def standalone_topology(client: Any, where: str) -> Topology:
    """One server: its role and version, and the replicas it lists (when INFO is allowed)."""
    fields = await hello(client)
    replicas: list[str] = []
    try:
        info = await client.info("replication")
    except rex.ResponseError:  # INFO may be refused to an ACL user
        info = {}
    for name, value in info.items():
        if name.startswith("slave") and isinstance(value, dict):
            replicas.append(f"replica  {value.get('ip')}:{value.get('port')}")
    role = role_of(fields) or "role not reported"
    version = (fields or {}).get("version")
    summary = f"standalone {where}: {role}" + (f", Redis {version}" if version else "")
    problems: tuple[str, ...] = ()
    if role == "replica":
        problems = (
            f"{where} is a read-only replica: point redis.url at the master, or set "
            "redis.mode = 'sentinel' to follow whichever server is master",
        )
    return Topology(mode="standalone", summary=summary, nodes=tuple(replicas), problems=problems)
