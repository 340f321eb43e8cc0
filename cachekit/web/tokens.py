"""``TokenRule``: who may do what on the service (no web framework needed).

Scopes: ``read`` (GET a value, batch-get), ``write`` (PUT, DELETE) in a namespace, and
``admin``: the ops endpoints (``/cache/config``, ``/cache/stats``, ``/cache/status``,
``/cache/invalidate``) and routes guarded by ``require_token``. ``server.token`` holds every
scope in every namespace; each ``server.tokens.<name>`` grant holds its scopes in its
namespaces (``"*"``: all). ``server.auth = "writes"`` leaves reads open; ``"all"`` (the
default outside development/testing) asks a token of reads too. ``/livez`` and ``/readyz``
are always open.

With no token at all the service is ``open`` (everything allowed), and only in the
``development`` and ``testing`` environments on a loopback host; elsewhere it must not
start (``refusal``). Outside those environments a token shorter than ``MIN_TOKEN_LENGTH``
is refused by validation. A missing or wrong token is a 401, a token without the scope
or namespace a 403. Tokens never appear in ``repr`` or messages.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, Literal

from cachekit.config.model import MIN_TOKEN_LENGTH, OPEN_ENVIRONMENTS
from cachekit.config.urls import is_loopback
from cachekit.errors import CacheConfigError, ConfigProblem

if TYPE_CHECKING:
    from cachekit.config.model import ServerConfig, TokenGrant

__all__ = ["MIN_TOKEN_LENGTH", "OPEN_ENVIRONMENTS", "Denial", "Scope", "TokenRule"]

Scope = Literal["read", "write", "admin"]
_ALL: Final = frozenset({"read", "write", "admin"})


class Denial:
    """Why a request may not proceed: ``status`` 401 (no usable token) or 403 (a token
    without the scope or namespace), and a reason that names no secret."""

    __slots__ = ("reason", "status")

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"Denial({self.status}, {self.reason!r})"


class _Grant:
    __slots__ = ("name", "namespaces", "scopes", "secret")

    def __init__(
        self, name: str, secret: str, namespaces: Iterable[str], scopes: Iterable[str]
    ) -> None:
        self.name = name
        self.secret = secret.encode("utf-8")
        found = frozenset(namespaces)
        self.namespaces: frozenset[str] | None = None if "*" in found else found
        self.scopes = frozenset(scopes)

    def allows(self, scope: str, namespace: str | None) -> bool:
        if scope not in self.scopes:
            return False
        if scope == "admin" or self.namespaces is None:
            return True
        return namespace is not None and namespace in self.namespaces


class TokenRule:
    """Who may do what: ``authorize(header, scope, namespace)`` says no with a ``Denial``.

    ``token`` is the admin token (``server.token``), ``grants`` the named ones
    (``server.tokens``), ``auth`` what needs a token. ``refusal`` says why a service must
    not start: no token at all, and not development/testing on a loopback host.
    """

    __slots__ = ("_grants", "auth", "environment", "host", "open", "refusal")

    def __init__(
        self,
        token: str | None,
        *,
        environment: str,
        host: str,
        grants: Mapping[str, TokenGrant] | None = None,
        auth: str = "writes",
    ) -> None:
        self._grants: list[_Grant] = []
        if token is not None:
            self._grants.append(_Grant("server.token", token, ("*",), _ALL))
        for name, grant in (grants or {}).items():
            self._grants.append(_Grant(name, grant.token, grant.namespaces, grant.scopes))
        self.environment = environment
        self.host = host
        self.auth = auth
        self.open = not self._grants and environment in OPEN_ENVIRONMENTS and is_loopback(host)
        self.refusal: str | None = None
        if not self._grants and not self.open:
            self.refusal = (
                "not set, and the service has endpoints that need a token: they may run "
                "without one only in the development and testing environments on a loopback "
                f"host, and this is environment {environment!r} on host {host!r}. Set "
                "CACHEKIT_SERVER__TOKEN (or server.tokens), or token under [<env>.server] "
                "in .secrets.toml"
            )

    @classmethod
    def from_config(
        cls, server: ServerConfig, *, environment: str, host: str | None = None
    ) -> TokenRule:
        """The rule of a ``[server]`` section (``host`` defaults to ``server.host``)."""
        return cls(
            server.token,
            environment=environment,
            host=host or server.host,
            grants=server.tokens,
            auth=server.auth,
        )

    @property
    def mode(self) -> str:
        """``"token"``, ``"open"`` (no token needed) or ``"refused"`` (nothing allowed)."""
        if self._grants:
            return "token"
        return "open" if self.open else "refused"

    def enforce(self) -> None:
        """Raise ``CacheConfigError`` naming ``server.token`` when the service cannot serve."""
        if self.refusal is not None:
            raise CacheConfigError([ConfigProblem(key="server.token", message=self.refusal)])

    def warning(self) -> str | None:
        """The warning to log at start when everything is open."""
        if not self.open:
            return None
        return (
            "server.token is not set: mutating and ops endpoints accept requests without a "
            f"token (allowed only in development/testing on loopback; environment "
            f"{self.environment!r}, host {self.host!r})"
        )

    def needs_token(self, scope: str) -> bool:
        """Whether requests of ``scope`` need a token under this rule."""
        return not self.open and (scope != "read" or self.auth == "all")

    def authorize(
        self, authorization: str | None, scope: str, namespace: str | None = None
    ) -> Denial | None:
        """None when a request with this ``Authorization`` header may act in ``scope``
        (on ``namespace`` for reads and writes), else the ``Denial``."""
        if not self.needs_token(scope):
            return None
        if not self._grants:
            return Denial(401, "no token is configured (server.token), so this is refused")
        if not authorization:
            return Denial(401, "missing bearer token: send 'Authorization: Bearer <token>'")
        kind, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if kind.lower() != "bearer" or not value:
            return Denial(401, "expected 'Authorization: Bearer <token>'")
        # Starlette decodes headers as latin-1: encoding back gives the bytes sent.
        sent = value.encode("latin-1", "replace")
        matched = None
        for grant in self._grants:  # compare with every token: the time says nothing
            if hmac.compare_digest(sent, grant.secret) and matched is None:
                matched = grant
        if matched is None:
            return Denial(401, "invalid bearer token")
        if not matched.allows(scope, namespace):
            where = "" if scope == "admin" or namespace is None else f" on namespace {namespace!r}"
            return Denial(403, f"token {matched.name!r} has no {scope!r} scope{where}")
        return None

    def check(self, authorization: str | None) -> str | None:
        """None when this ``Authorization`` header may call admin routes, else why not."""
        denial = self.authorize(authorization, "admin")
        return None if denial is None else denial.reason

    def __repr__(self) -> str:
        return (
            f"TokenRule(mode={self.mode!r}, auth={self.auth!r}, environment="
            f"{self.environment!r}, host={self.host!r}, tokens={len(self._grants)})"
        )
