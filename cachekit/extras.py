"""Optional dependencies: what each extra provides, and the error when one is missing.

``import cachekit`` needs only the core dependencies. The HTTP service needs
``cachekit[server]`` (fastapi, uvicorn), cachekit's own OTLP exporters need
``cachekit[otlp]`` and AES-GCM entry encryption ``cachekit[encryption]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from cachekit.errors import MissingExtraError

AESGCM_MODULE = "cryptography.hazmat.primitives.ciphers.aead"
"""What AES-GCM entry encryption imports (``cachekit[encryption]``)."""


def install_hint(extra: str) -> str:
    """The command that installs ``extra``."""
    return f"pip install 'cachekit[{extra}]'"


def missing(module: str, extra: str, purpose: str) -> str | None:
    """Why ``purpose`` cannot run here (``module`` does not import), or None when it can."""
    try:
        importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        return f"{purpose} needs the '{package}' package: {install_hint(extra)}"
    return None


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise ``MissingExtraError`` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            f"{purpose} needs the '{extra}' extra ({exc.name} is not installed): "
            f"{install_hint(extra)}",
            name=exc.name,
        ) from exc
