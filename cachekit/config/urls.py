"""Redis URLs: the one parser, and what counts as loopback.

Every reader of a URL (validation, masking, posture, credentials, the connection, the
server's token rule) uses ``parse_redis_url``, so they cannot disagree about where the
host or the password is. A host name is never resolved, so a name that resolves to
loopback still counts as remote. The forms::

    redis://[[username][:password]@]host[:port][/db][?db=N&username=U&password=P]
    rediss://...                      the same, over TLS
    unix://[[username][:password]@]/path/to/socket[?db=N&username=U&password=P]
    redis+sentinel://[[username][:password]@]host[:port][,host[:port]...][/service[/db]][?...]
    redis+cluster://[[username][:password]@]host[:port][,host[:port]...][/0][?...]
    rediss+sentinel://..., rediss+cluster://...   the same, over TLS (to every node)

A ``+sentinel`` URL lists the sentinels (port 26379 unless given) and names the master's
service; a ``+cluster`` URL lists seed nodes (any of them will do; the rest are found).
The credentials in the URL are those of the data nodes (the master and replicas, or the
cluster nodes); a sentinel's own password is ``redis.sentinel_password``. A ``redis://`` URL
may list several hosts too, for ``redis.mode = "sentinel"`` or ``"cluster"``.

Rules where URLs are ambiguous or redis-py guesses: the userinfo ends at the *last* ``@``
before the query, so a raw ``@``, ``/`` or ``#`` in a password is read as part of it
(``?`` and ``&`` must be percent-encoded); ``#`` starts no fragment; query values are
percent-decoded and ``+`` stays a plus. The port must be 1-65535 (default 6379), the
host must be given (``redis://`` alone is an error), the database a number. Only ``db``,
``username`` and ``password`` may appear in the query: timeouts, pool sizes and TLS
options come from cachekit's settings, so a URL cannot quietly override them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote, unquote

from cachekit.errors import CacheConfigError, ConfigProblem

REDIS_SCHEMES: Final = frozenset(
    {
        "redis",
        "rediss",
        "unix",
        "redis+sentinel",
        "rediss+sentinel",
        "redis+cluster",
        "rediss+cluster",
    }
)
"""URL schemes validation accepts (``rediss`` is TLS; ``+sentinel`` / ``+cluster`` name the
topology, see ``RedisURL.mode``)."""
MODES: Final = ("standalone", "sentinel", "cluster")
"""The topologies cachekit talks to (``redis.mode``)."""

DEFAULT_PORT: Final = 6379
SENTINEL_PORT: Final = 26379
QUERY_PARAMETERS: Final = ("db", "username", "password")
"""Query parameters a Redis URL may carry; ``username`` and ``password`` are secrets."""

_LOCAL_NAMES: Final = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)
_HOST_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_SCHEME = re.compile(r"[A-Za-z0-9_.+-]+")
_DB_PATH = re.compile(r"/?(?P<db>[0-9]*)/?")
_SECRET_QUERY = re.compile(r"(?i)(?P<lead>[?&](?:password|username)=)[^&]*")
MASK: Final = "***"


class RedisURLError(ValueError):
    """A Redis URL that cannot be read; the message never contains its secrets."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` names and loopback addresses (``127.0.0.0/8``, ``::1``).

    Only the name given counts: ``0.0.0.0`` and an empty name are not loopback.
    """
    if not host:
        return False
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, repr=False)
class RedisURL:
    """A parsed Redis URL. Holds the password: show it with ``masked()`` only."""

    scheme: str
    host: str | None
    """The (first) host (IPv6 without brackets); None for a unix socket."""
    port: int | None
    path: str | None
    """The socket path of a ``unix://`` URL."""
    db: int
    username: str | None
    password: str | None
    hosts: tuple[tuple[str, int], ...] = ()
    """Every ``(host, port)`` listed (sentinels or cluster seeds); empty for a socket."""
    service: str | None = None
    """The master's service name of a ``+sentinel`` URL (None: not in the URL)."""

    @property
    def tls(self) -> bool:
        """Whether the connections use TLS (``rediss://``, ``rediss+...://``)."""
        return self.scheme.startswith("rediss")

    @property
    def mode(self) -> str | None:
        """``"sentinel"`` or ``"cluster"`` when the scheme names a topology, else None."""
        _, plus, mode = self.scheme.partition("+")
        return mode if plus else None

    @property
    def base_scheme(self) -> str:
        """The scheme of one node: ``redis``, ``rediss`` or ``unix``."""
        return self.scheme.partition("+")[0]

    @property
    def local(self) -> bool:
        """Whether it points at this machine: a unix socket or loopback hosts only."""
        if self.scheme == "unix":
            return True
        return all(is_loopback(host) for host, _ in self.hosts or ((self.host or "", 0),))

    @property
    def where(self) -> str:
        """``host:port`` (comma-separated when several) or ``unix:<path>``, for messages."""
        if self.host is None:
            return f"unix:{self.path}"
        return ",".join(node_where(h, p) for h, p in self.hosts or ((self.host, self.port),))

    def connection_url(self) -> str:
        """The URL without credentials, for redis-py (credentials go as keyword arguments,
        so nothing in the URL can override them)."""
        if self.scheme == "unix":
            return f"unix://{quote(self.path or '')}?db={self.db}"
        service = f"/{self.service}" if self.service else ""
        return f"{self.scheme}://{self.where}{service}/{self.db}"

    def node_url(self, host: str, port: int) -> str:
        """The credential-free URL of one node (a master, replica or cluster node)."""
        return f"{self.base_scheme}://{node_where(host, port)}/{self.db}"

    def __repr__(self) -> str:
        secret = "None" if self.password is None else repr(MASK)
        return (
            f"RedisURL({self.connection_url()}, "
            f"username={self.username!r}, password={secret})"
        )


def node_where(host: str, port: int | None) -> str:
    """``host:port`` of one node, an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split(url: str) -> tuple[str, str | None, str, str | None]:
    """``(scheme, userinfo, host part, query)`` of a URL, textually (no checks)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise RedisURLError("not a URL: expected redis://host:port/db (or rediss://, unix://)")
    before, has_query, query = rest.partition("?")
    userinfo, at, hostpart = before.rpartition("@")
    return scheme.lower(), userinfo if at else None, hostpart, query if has_query else None


def _port(text: str) -> int:
    # The port's text is never quoted: a password that lost its "@" may have landed here.
    if not (text.isascii() and text.isdigit()):
        raise RedisURLError("the port is not a number: expected 1-65535")
    if not 1 <= int(text) <= 65535:
        raise RedisURLError("the port is out of range: expected 1-65535")
    return int(text)


def _host_port(authority: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    if authority.startswith("["):
        inside, closed, after = authority[1:].partition("]")
        if not closed:
            raise RedisURLError("unclosed '[' in the host: an IPv6 address needs '[...]'")
        try:
            ipaddress.IPv6Address(inside.split("%", 1)[0])
        except ValueError:
            raise RedisURLError("not an IPv6 address inside '[...]'") from None
        if after and not after.startswith(":"):
            raise RedisURLError("unexpected text after ']' in the host")
        host, port_text = inside, after[1:] if after else None
    else:
        host, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
        if ":" in port_text_raw:
            raise RedisURLError("more than one ':' in the host: an IPv6 address needs '[...]'")
        if not host:
            raise RedisURLError("no host: give one, e.g. redis://localhost:6379/0")
        if not _HOST_NAME.fullmatch(host):
            raise RedisURLError("the host holds characters a host name cannot have")
    return host, default_port if port_text is None else _port(port_text)


def _query(query: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in query.split("&"):
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = unquote(name)
        if name not in QUERY_PARAMETERS:
            shown = name if _HOST_NAME.fullmatch(name) and len(name) <= 40 else "(not shown)"
            raise RedisURLError(
                f"unsupported query parameter {shown!r}: a Redis URL may carry only "
                f"{', '.join(QUERY_PARAMETERS)} (timeouts, pool size and TLS are "
                "redis.* and security.* settings)"
            )
        if not eq:
            raise RedisURLError(f"query parameter {name!r} has no value")
        if name in found:
            raise RedisURLError(f"query parameter {name!r} is given twice")
        found[name] = unquote(value)
    return found


def _both(name: str, in_userinfo: str | None, in_query: str | None) -> str | None:
    if in_userinfo and in_query and in_userinfo != in_query:
        raise RedisURLError(f"two different {name}s in the URL (userinfo and ?{name}=)")
    return in_userinfo or in_query or None


def _parse(url: str) -> RedisURL:
    if not isinstance(url, str):
        raise RedisURLError(f"expected a str, got {type(url).__name__}")
    scheme, userinfo, hostpart, query = _split(url)
    if scheme not in REDIS_SCHEMES:
        shown = scheme if _SCHEME.fullmatch(scheme) and len(scheme) <= 20 else "(not shown)"
        raise RedisURLError(
            f"unknown scheme {shown!r}: use redis://, rediss://, unix://, "
            "redis+sentinel:// or redis+cluster:// (rediss+... over TLS)"
        )
    user = password = None
    if userinfo is not None:
        name, colon, secret = userinfo.partition(":")
        user, password = unquote(name) or None, (unquote(secret) if colon else "") or None
    params = _query(query) if query is not None else {}
    user = _both("username", user, params.get("username"))
    password = _both("password", password, params.get("password"))
    if scheme == "unix":
        host_name, slash, path = hostpart.partition("/")
        if host_name not in ("", "localhost"):
            raise RedisURLError("a unix:// URL names a socket path: unix:///path/to/redis.sock")
        if not path:
            raise RedisURLError("no socket path: unix:///path/to/redis.sock")
        host, port, socket_path, path_db = None, None, unquote(slash + path), ""
        hosts: tuple[tuple[str, int], ...] = ()
        service = None
    else:
        authority, slash, path = hostpart.partition("/")
        sentinel = scheme.endswith("+sentinel")
        default = SENTINEL_PORT if sentinel else DEFAULT_PORT
        hosts = tuple(_host_port(part, default) for part in authority.split(","))
        host, port = hosts[0]
        socket_path = None
        service, rest = _service(path) if sentinel else (None, slash + path)
        match = _DB_PATH.fullmatch(rest)
        if match is None:
            what = "/service/db, e.g. /mymaster/0" if sentinel else "the database number, e.g. /0"
            raise RedisURLError(f"the path must be {what}")
        path_db = match["db"]
    query_db = params.get("db")
    if query_db is not None and not query_db.isdigit():
        raise RedisURLError("?db= must be a database number")
    if path_db and query_db is not None and int(path_db) != int(query_db):
        raise RedisURLError("two different databases in the URL (path and ?db=)")
    db = int(query_db or path_db or 0)
    if scheme.endswith("+cluster") and db != 0:
        raise RedisURLError("a cluster has database 0 only: drop the /db or use /0")
    return RedisURL(scheme, host, port, socket_path, db, user, password, hosts, service)


def _service(path: str) -> tuple[str | None, str]:
    """The service name leading a ``+sentinel`` URL's path, and the rest (the database)."""
    name, slash, rest = path.partition("/")
    if not name or name.isdigit():  # no service, or only a database: the service is a setting
        return None, "/" + path
    if not _HOST_NAME.fullmatch(unquote(name)):
        raise RedisURLError("the service name holds characters a sentinel name cannot have")
    return unquote(name), slash + rest


def parse_redis_url(url: str) -> RedisURL:
    """The parts of a Redis URL, or ``CacheConfigError`` naming ``redis.url`` (masked)."""
    try:
        return _parse(url)
    except RedisURLError as exc:
        raise CacheConfigError(
            [ConfigProblem(key="redis.url", message=str(exc), value=repr(mask_url(url)))]
        ) from None


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable Redis URL (no secrets in the text), or None."""
    try:
        _parse(url)
    except RedisURLError as exc:
        return str(exc)
    return None


def mask_url(url: str) -> str:
    """``url`` with every secret replaced by ``***``: the password of its userinfo (the
    whole userinfo when it has no ``:``), and ``password=`` / ``username=`` query values.

    Works on URLs that do not parse too: then everything up to the last ``@`` is hidden.
    """
    if not isinstance(url, str) or not url:
        return url
    masked = _SECRET_QUERY.sub(rf"\g<lead>{MASK}", url)
    try:
        scheme, userinfo, _, query = _split(masked)
    except RedisURLError:
        return MASK + masked[masked.rfind("@") :] if "@" in masked else masked
    start = len(scheme) + len("://")
    if query is not None and "@" in query:
        # An "@" after the "?" may end a userinfo whose password holds a raw "?".
        return masked[:start] + MASK + masked[masked.rfind("@") :]
    if userinfo is not None:
        name, colon, _ = userinfo.partition(":")
        shown = f"{name}:{MASK}" if colon else MASK
        masked = masked[:start] + shown + masked[start + len(userinfo) :]
    return masked


def endpoint(url: str) -> tuple[str, str | None, bool]:
    """``(scheme, host, local)`` of a Redis URL; ``local`` for a socket, or when every host
    listed is loopback; ``host`` is the first host.

    Raises ``ValueError`` (``RedisURLError``) for a URL that does not parse.
    """
    parsed = _parse(url)
    return parsed.scheme, parsed.host, parsed.local


def scheme_mode(url: str) -> Literal["sentinel", "cluster"] | None:
    """The topology a URL's scheme names (``redis+sentinel://``...), or None."""
    if not isinstance(url, str):
        return None
    mode = url.partition("://")[0].lower().partition("+")[2]
    if mode == "sentinel":
        return "sentinel"
    return "cluster" if mode == "cluster" else None


def uses_tls(url: str) -> bool:
    """Whether a Redis URL asks for TLS (``rediss://``, ``rediss+sentinel://``, ...)."""
    if not isinstance(url, str):
        return False
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower().partition("+")[0] == "rediss"


def userinfo(url: str) -> tuple[str | None, str | None]:
    """The ``(username, password)`` a URL carries, in its userinfo or its query,
    percent-decoded (None: not given, or a URL that does not parse)."""
    try:
        parsed = _parse(url)
    except RedisURLError:
        return None, None
    return parsed.username, parsed.password
