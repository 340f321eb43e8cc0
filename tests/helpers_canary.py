"""The canaries of the secrets tests (tests/unit and tests/integration test_canary), the
capture they are looked for in, and the settings layers that carry them."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

FILE_PASSWORD = "cAnArY-file-pw-5d1e7a"
ENV_PASSWORD = "cAnArY-env-pw-9b3c21"
URL_PASSWORD = "cAnArY-url-pw-7f4e08"
QUERY_PASSWORD = "cAnArY-query-pw-3c5d91"
"""Given as ``?password=`` in the URL, which redis-py honours."""
ODD_PIECES = ("cAnArY-oddA", "cAnArY-oddB", "cAnArY-oddC", "cAnArY-oddD")
ODD_PASSWORD = "{}/{}#{}@{}".format(*ODD_PIECES)
"""Raw ``/``, ``#`` and ``@`` in URL userinfo: a parser that misreads them leaks a piece."""
FILE_KEY = "cAnArY-file-signing-key-0a9b8c"
ENV_KEY = "cAnArY-env-encryption-key-1d2e3f"
CANARIES = (
    FILE_PASSWORD, ENV_PASSWORD, URL_PASSWORD, QUERY_PASSWORD, *ODD_PIECES, FILE_KEY, ENV_KEY
)


class Capture:
    """Everything the test saw: text of objects, exceptions (whole chain), outputs."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *objects: Any) -> None:
        for obj in objects:
            if isinstance(obj, BaseException):
                self.exception(obj)
            else:
                self.texts += [str(obj), repr(obj)]

    def exception(self, exc: BaseException) -> None:
        self.texts.append("".join(traceback.format_exception(exc)))
        seen: set[int] = set()
        current: BaseException | None = exc
        stack = [exc]
        while stack:
            current = stack.pop()
            if current is None or id(current) in seen:
                continue
            seen.add(id(current))
            self.texts += [str(current), repr(current), repr(current.args)]
            stack += [current.__cause__, current.__context__]  # type: ignore[list-item]

    def leaks(self) -> list[tuple[str, str]]:
        return [(c, t[:200]) for t in self.texts for c in CANARIES if c in t]


def write_layers(root: Path, url: str, *, strict: bool) -> dict[str, str]:
    """Canaries in settings.toml/.secrets.toml (password, signing key); env vars returned."""
    (root / "settings.toml").write_text(
        "[default]\nnamespace = \"canary\"\n\n[default.redis]\n"
        f'url = "{url}"\nconnect_timeout = 2.0\n'
        f"fail_on_connection_error = {'true' if strict else 'false'}\n"
    )
    (root / ".secrets.toml").write_text(
        f'[default.redis]\npassword = "{FILE_PASSWORD}"\n\n'
        f'[default.security]\nsigning_keys = ["{FILE_KEY}"]\n'
    )
    return {"CACHEKIT_SECURITY__ENCRYPTION_KEYS": ENV_KEY}


def layers(tmp: Path, url: str, *, strict: bool, env_password: bool = False) -> dict[str, str]:
    """Write the layers and return the env mapping (optionally the env-var password too)."""
    environ = write_layers(tmp, url, strict=strict)
    if env_password:
        (tmp / ".secrets.toml").write_text(
            f'[default.security]\nsigning_keys = ["{FILE_KEY}"]\n'
        )
        environ["CACHEKIT_SECURITY__PASSWORD"] = ENV_PASSWORD
    return environ
