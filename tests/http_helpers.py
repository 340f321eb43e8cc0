"""Helpers for the HTTP tests: settings from a mapping, a free port, waiting for a port."""

from __future__ import annotations

import socket
import time
from typing import Any

from cachekit.config.settings import ResolvedSettings, resolve_settings


def settings(environment: str = "testing", **leaves: Any) -> ResolvedSettings:
    """Settings of ``environment`` with ``CACHEKIT_*`` variables from ``section__leaf=value``
    (no files read), so each leaf's source is its variable."""
    environ = {"CACHEKIT_ENV": environment}
    environ.update({f"CACHEKIT_{key.upper()}": str(value) for key, value in leaves.items()})
    return resolve_settings(environ=environ, use_files=False)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Block until 127.0.0.1:``port`` accepts connections (or raise after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
