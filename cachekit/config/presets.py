"""Preset files: where they live and how they read.

Presets are data (``environments/<name>.toml``). Every preset starts from
``_base.toml``; the ``[about]`` table of a preset describes it and is not config.
An installed wheel carries the files in ``cachekit/_environments``; a checkout uses the
repository's ``environments/``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

BASE = "_base"


def preset_dir() -> Path:
    """The folder holding the preset files."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_environments"
    if packaged.is_dir():
        return packaged
    return package.parent / "environments"


def preset_names() -> list[str]:
    """Names of every preset, sorted."""
    return sorted(p.stem for p in preset_dir().glob("*.toml") if not p.stem.startswith("_"))


def preset_path(name: str) -> Path:
    """Path of the preset file ``name`` (``_base`` included)."""
    return preset_dir() / f"{name}.toml"


def read_preset(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(config_data, about)`` of preset ``name``; raises ``KeyError`` if unknown."""
    path = preset_path(name)
    if name != BASE and name not in preset_names():
        raise KeyError(name)
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    about = data.pop("about", {})
    return data, about if isinstance(about, dict) else {}
