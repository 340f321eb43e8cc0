"""Turning merged settings into a ``CacheConfig``, reporting every problem at once.

Each leaf is checked against its annotated type on its own, so one run reports all
unknown keys (with a did-you-mean), wrong types and out-of-range values, followed by
the checks that span several keys. Messages name the dotted key, the value (secrets
masked) and the layer that set it.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator, Mapping
from difflib import get_close_matches
from typing import Any

import msgspec

from cachekit.config.credentials import credential_problems, tls_file_problems
from cachekit.config.masking import MASK, is_secret, looks_secret, mask_value
from cachekit.config.model import (
    COMPRESSION_LEVELS,
    MIN_TOKEN_LENGTH,
    OPEN_ENVIRONMENTS,
    CacheConfig,
)
from cachekit.config.posture import evaluate
from cachekit.config.tree import get
from cachekit.config.urls import MODES, endpoint, parse_redis_url, scheme_mode, url_problem
from cachekit.errors import CacheConfigError, ConfigProblem
from cachekit.extras import AESGCM_MODULE, missing

SECRETS_FILE = ".secrets.toml"

_HINTS: dict[type, dict[str, Any]] = {}


def struct_fields(cls: type[msgspec.Struct]) -> dict[str, Any]:
    """Annotated field types of a config Struct (cached)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
        _HINTS[cls] = {f: _HINTS[cls][f] for f in cls.__struct_fields__}
    return _HINTS[cls]


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _dict_value_type(tp: Any) -> tuple[Any, Any] | None:
    if typing.get_origin(tp) is dict:
        key_type, value_type = typing.get_args(tp)
        return key_type, value_type
    return None


def schema_leaves(
    cls: type[msgspec.Struct] = CacheConfig, prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    """Every leaf of the schema as ``(dotted_key, type)``; a name-keyed table counts as one leaf."""
    for name, tp in struct_fields(cls).items():
        if _is_struct(tp):
            yield from schema_leaves(tp, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", tp


def display(dotted: str, value: Any) -> str:
    """Short display form of a value, secrets masked."""
    text = repr(mask_value(dotted, value))
    return text if len(text) <= 80 else text[:77] + "..."


class _Checker:
    def __init__(self, sources: Mapping[str, str], *, posture: bool = True) -> None:
        self.sources = sources
        self.problems: list[ConfigProblem] = []
        self.posture = posture  # False: posture rules report nothing (``config show``)

    def source(self, dotted: str) -> str | None:
        if dotted in self.sources:
            return self.sources[dotted]
        below = sorted(k for k in self.sources if k.startswith(dotted + "."))
        # a table's leaves may come from several layers: name each one
        layers = list(dict.fromkeys(self.sources[k] for k in below))
        return ", ".join(layers) if layers else None

    def add(self, dotted: str, message: str, value: Any = ..., *, source: bool = True) -> None:
        origin = self.source(dotted) if source else None
        shown = None if value is ... else display(dotted, value)
        if shown is not None and origin is not None and SECRETS_FILE in origin:
            shown = repr(MASK)  # a mistyped secret key must not print its value
        self.problems.append(ConfigProblem(key=dotted, message=message, value=shown, source=origin))

    def struct(self, cls: type[msgspec.Struct], data: Any, prefix: str) -> None:
        dotted_self = prefix.rstrip(".")
        if not isinstance(data, dict):
            self.add(dotted_self, "expected a table", data)
            return
        fields = struct_fields(cls)
        defaults = {f.name for f in msgspec.structs.fields(cls) if f.required is False}
        for key, value in data.items():
            dotted = f"{prefix}{key}"
            if key not in fields:
                hint = get_close_matches(str(key), list(fields), n=1)
                suggestion = f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""
                # A mistyped secret key still holds a secret: never echo it.
                secretish = looks_secret(str(key)) or bool(hint and is_secret(prefix + hint[0]))
                self.add(dotted, f"unknown key{suggestion}", MASK if secretish else value)
                continue
            self.value(fields[key], value, dotted)
        for name in fields:
            if name not in data and name not in defaults:
                self.add(f"{prefix}{name}", "missing (no layer sets it)", source=False)

    def value(self, tp: Any, value: Any, dotted: str) -> None:
        if _is_struct(tp):
            self.struct(tp, value, dotted + ".")
            return
        mapping = _dict_value_type(tp)
        if mapping is not None and isinstance(value, dict):
            key_type, value_type = mapping
            for key, item in value.items():
                self.leaf(key_type, key, f"{dotted}.{key}", what="name")
                self.leaf(value_type, item, f"{dotted}.{key}")
            return
        self.leaf(tp, value, dotted)

    def leaf(self, tp: Any, value: Any, dotted: str, what: str = "value") -> None:
        try:
            msgspec.convert(value, tp)
        except msgspec.ValidationError as exc:
            message = str(exc).split(" - at ")[0]
            self.add(dotted, f"invalid {what}: {message}", value)


Rule = Callable[[dict[str, Any], _Checker], None]


def _check_compression(data: dict[str, Any], check: _Checker) -> None:
    algorithm = get(data, "compression.algorithm")
    level = get(data, "compression.level")
    if (
        isinstance(algorithm, str)
        and algorithm != "none"
        and algorithm in COMPRESSION_LEVELS
        and isinstance(level, int)
    ):
        low, high = COMPRESSION_LEVELS[algorithm]
        if not low <= level <= high:
            check.add(
                "compression.level",
                f"{algorithm} accepts levels {low}..{high}",
                level,
            )


def _check_tiers(data: dict[str, Any], check: _Checker) -> None:
    tiers = [get(data, f"ai.size_tiers.{t}") for t in ("small", "medium", "large")]
    if all(isinstance(t, int) for t in tiers) and not tiers[0] < tiers[1] < tiers[2]:
        check.add(
            "ai.size_tiers",
            "tiers must increase: small < medium < large",
            get(data, "ai.size_tiers"),
        )


def _check_redis(data: dict[str, Any], check: _Checker) -> None:
    url = get(data, "redis.url")
    if not isinstance(url, str):
        return
    problem = url_problem(url) if url else None
    if problem is not None:  # the parser the connection uses: a bad port is caught here
        check.add("redis.url", problem, url)
        return
    scheme = endpoint(url)[0].partition("+")[0] if url else ""
    tls_files = [
        k for k in ("tls_ca_path", "tls_cert_path", "tls_key_path") if get(data, f"security.{k}")
    ]
    if scheme in {"redis", "unix"} and (tls_files or get(data, "security.use_tls") is True):
        what = ", ".join(f"security.{k}" for k in tls_files) or "security.use_tls"
        check.add("redis.url", f"plaintext URL contradicts {what}: use rediss://", url)
    paths = [get(data, f"security.{k}") for k in ("tls_ca_path", "tls_cert_path", "tls_key_path")]
    if all(p is None or isinstance(p, str) for p in paths):
        # Loaded the way the connection loads them: PEM that parses, key matching the cert.
        for key, message in tls_file_problems(*paths):
            check.add(key, message, get(data, key))
    cert, key_file = get(data, "security.tls_cert_path"), get(data, "security.tls_key_path")
    if bool(cert) != bool(key_file):
        check.add("security.tls_cert_path", "client certificate and key must be set together", cert)
    enabled = get(data, "enabled")
    if enabled is True and not url and get(data, "memory.enabled") is False:
        check.add("memory.enabled", "no tier left: set redis.url or enable the memory tier", False)
    base, cap = get(data, "redis.retry_backoff_base"), get(data, "redis.retry_backoff_cap")
    if isinstance(base, (int, float)) and isinstance(cap, (int, float)) and base > cap:
        check.add("redis.retry_backoff_base", "must not exceed redis.retry_backoff_cap", base)


def _check_topology(data: dict[str, Any], check: _Checker) -> None:
    """The mode, the URL's form and the sentinel settings agree (``redis.mode``)."""
    url, mode = get(data, "redis.url"), get(data, "redis.mode")
    if not isinstance(url, str) or mode not in MODES:
        return
    master, read_from = get(data, "redis.sentinel_master"), get(data, "redis.read_from")
    if not url or url_problem(url) is not None:
        return
    parsed = parse_redis_url(url)
    named = scheme_mode(url)
    if named is not None and mode not in ("standalone", named):
        check.add(
            "redis.mode",
            f"contradicts redis.url, whose {parsed.scheme}:// scheme means {named!r}: "
            "set one of them",
            mode,
        )
        return
    topology = named or mode
    if topology == "standalone":
        if len(parsed.hosts) > 1:
            check.add(
                "redis.url",
                "lists several hosts, which only sentinels or cluster seeds may: set "
                "redis.mode = 'sentinel' or 'cluster' (or use redis+sentinel:// or "
                "redis+cluster://)",
                url,
            )
        if isinstance(master, str) and master:
            check.add(
                "redis.sentinel_master",
                "names a sentinel service but the mode is standalone: set "
                "redis.mode = 'sentinel' (or use a redis+sentinel:// URL)",
                master,
            )
    elif parsed.scheme == "unix":
        check.add("redis.url", f"a unix socket cannot reach a {topology}: use redis://", url)
        return
    if topology == "sentinel":
        if isinstance(master, str) and master and parsed.service and master != parsed.service:
            check.add(
                "redis.sentinel_master",
                f"contradicts the service {parsed.service!r} in redis.url: set one of them",
                master,
            )
        elif not parsed.service and not master:
            check.add(
                "redis.sentinel_master",
                "sentinel mode needs the master's service name: set redis.sentinel_master "
                "or name it in the URL (redis+sentinel://host:26379/mymaster/0)",
                master,
            )
    if topology == "cluster" and parsed.db != 0:
        check.add("redis.url", "a cluster has database 0 only: use /0", url)
    if read_from == "replica" and topology != "sentinel":
        check.add(
            "redis.read_from",
            f"reads from a replica need redis.mode = 'sentinel' (the mode is {topology!r})",
            read_from,
        )


def _check_thresholds(data: dict[str, Any], check: _Checker) -> None:
    for low, high in (
        ("monitoring.memory_warning_bytes", "monitoring.memory_critical_bytes"),
        ("monitoring.invalidation_warning_per_hour", "monitoring.invalidation_critical_per_hour"),
    ):
        lo, hi = get(data, low), get(data, high)
        if isinstance(lo, int) and isinstance(hi, int) and lo >= hi:
            check.add(low, f"must be below {high} ({hi})", lo)


def _check_server(data: dict[str, Any], check: _Checker) -> None:
    if get(data, "server.require_redis") is True and get(data, "redis.url") == "":
        check.add("server.require_redis", "needs redis.url: there is no Redis to require", True)
    environment = get(data, "environment")
    if isinstance(environment, str) and environment not in OPEN_ENVIRONMENTS:
        tokens = get(data, "server.tokens")
        found = [("server.token", get(data, "server.token"))]
        if isinstance(tokens, dict):
            found += [(f"server.tokens.{n}.token", get(g, "token")) for n, g in tokens.items()]
        for key, token in found:
            if isinstance(token, str) and len(token) < MIN_TOKEN_LENGTH:
                check.add(
                    key,
                    f"shorter than {MIN_TOKEN_LENGTH} characters, which environment "
                    f"{environment!r} refuses (only development and testing accept short "
                    "tokens): make one with python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'",
                    token,
                )
    if isinstance(tokens := get(data, "server.tokens"), dict):
        seen: dict[str, str] = {}
        for name, grant in tokens.items():
            token = get(grant, "token") if isinstance(grant, dict) else None
            if isinstance(token, str):
                if token in seen or token == get(data, "server.token"):
                    other = seen.get(token, "server.token")
                    check.add(f"server.tokens.{name}.token", f"the same token as {other}")
                seen.setdefault(token, f"server.tokens.{name}")


def _check_resilience(data: dict[str, Any], check: _Checker) -> None:
    base = get(data, "resilience.probe_backoff_base")
    cap = get(data, "resilience.probe_backoff_cap")
    if isinstance(base, (int, float)) and isinstance(cap, (int, float)) and base > cap:
        check.add(
            "resilience.probe_backoff_base", "must not exceed resilience.probe_backoff_cap", base
        )


def _check_security(data: dict[str, Any], check: _Checker) -> None:
    """Credentials set twice, encryption without its package, and the posture rules."""
    for key, message in credential_problems(data):
        check.add(key, message)
    keys = get(data, "security.encryption_keys")
    if isinstance(keys, (list, tuple)) and keys:
        absent = missing(AESGCM_MODULE, "encryption", "AES-GCM entry encryption")
        if absent:
            check.add("security.encryption_keys", absent, keys)
    if not check.posture:
        return
    for finding in evaluate(data):
        if finding.severity == "error":
            posture_source = check.source("security.posture") or "unknown"
            check.add(
                finding.key,
                f"posture rule '{finding.rule}' failed (security.posture = 'strict', from "
                f"{posture_source}): {finding.message}",
                get(data, finding.key) if finding.key == "redis.url" else ...,
            )


RULES: list[Rule] = [
    _check_compression,
    _check_tiers,
    _check_redis,
    _check_topology,
    _check_security,
    _check_thresholds,
    _check_server,
    _check_resilience,
]


def build_config(
    data: dict[str, Any],
    sources: Mapping[str, str],
    earlier: list[ConfigProblem] | None = None,
    *,
    posture: bool = True,
) -> CacheConfig:
    """Validate merged settings and return the frozen config, or raise ``CacheConfigError``.

    ``earlier`` carries problems found while loading, so everything is reported together.
    ``posture=False`` skips the posture rules (``cachekit config show`` prints a config
    that its preset refuses, with the findings on stderr).
    """
    check = _Checker(sources, posture=posture)
    check.problems.extend(earlier or [])
    check.struct(CacheConfig, data, "")
    for rule in RULES:
        rule(data, check)
    if check.problems:
        raise CacheConfigError(check.problems)
    try:
        return msgspec.convert(data, CacheConfig)
    except msgspec.ValidationError as exc:  # a gap in the leaf checks above
        raise CacheConfigError([ConfigProblem(key="(config)", message=str(exc))]) from None
