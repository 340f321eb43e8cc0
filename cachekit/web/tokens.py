"""``TokenRule``: who may call the service's mutating endpoints (no web framework needed)."""

from __future__ import annotations

import hmac
from typing import Final

from cachekit.config.urls import is_loopback
from cachekit.errors import CacheConfigError, ConfigProblem

#: Environments whose mutating endpoints may run without a token (on a loopback host only).
OPEN_ENVIRONMENTS: Final = frozenset({"development", "testing"})


class TokenRule:
    """Who may call the mutating endpoints: holders of ``server.token``, or anyone when
    no token is set in ``development``/``testing`` on a loopback host (``open``).

    ``refusal`` says why a service must not start: no token, and not such a place.
    The token never appears in ``repr`` or messages.
    """

    __slots__ = ("_token", "environment", "host", "open", "refusal")

    def __init__(self, token: str | None, *, environment: str, host: str) -> None:
        self._token = None if token is None else token.encode("utf-8")
        self.environment = environment
        self.host = host
        self.open = token is None and environment in OPEN_ENVIRONMENTS and is_loopback(host)
        self.refusal: str | None = None
        if token is None and not self.open:
            self.refusal = (
                "not set, and the service has mutating endpoints: they may run without a "
                "token only in the development and testing environments on a loopback host, "
                f"and this is environment {environment!r} on host {host!r}. Set "
                "CACHEKIT_SERVER__TOKEN, or token under [<env>.server] in .secrets.toml"
            )

    @property
    def mode(self) -> str:
        """``"token"``, ``"open"`` (no token needed) or ``"refused"`` (no writes possible)."""
        if self._token is not None:
            return "token"
        return "open" if self.open else "refused"

    def enforce(self) -> None:
        """Raise ``CacheConfigError`` naming ``server.token`` when writes cannot be served."""
        if self.refusal is not None:
            raise CacheConfigError([ConfigProblem(key="server.token", message=self.refusal)])

    def warning(self) -> str | None:
        """The warning to log at start when writes are open."""
        if not self.open:
            return None
        return (
            "server.token is not set: mutating endpoints accept requests without a token "
            f"(allowed only in development/testing on loopback; environment "
            f"{self.environment!r}, host {self.host!r})"
        )

    def check(self, authorization: str | None) -> str | None:
        """None when a request with this ``Authorization`` header may write, else why not."""
        if self._token is None:
            return None if self.open else "server.token is not set, so writes are refused"
        if not authorization:
            return "missing bearer token: send 'Authorization: Bearer <server.token>'"
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            return "expected 'Authorization: Bearer <server.token>'"
        # Starlette decodes headers as latin-1: encoding back gives the bytes sent.
        if not hmac.compare_digest(value.encode("latin-1"), self._token):
            return "invalid bearer token"
        return None

    def __repr__(self) -> str:
        return (
            f"TokenRule(mode={self.mode!r}, environment={self.environment!r}, host={self.host!r})"
        )
