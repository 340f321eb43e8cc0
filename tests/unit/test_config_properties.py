"""Property tests of settings resolution: any layers give a config or a ``CacheConfigError``."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cachekit.config.masking import is_secret
from cachekit.config.model import CacheConfig
from cachekit.config.settings import resolve_settings
from cachekit.config.validation import schema_leaves
from cachekit.errors import CacheConfigError

REAL_KEYS = [key for key, _ in schema_leaves()] + [
    "ai.operation_ttls.qa",
    "ai.size_tiers",
    "redis",
    "preset",
    "environment",
]
BARE_KEY = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8),
    st.text(max_size=4),
)
DOTTED_KEY = st.one_of(
    st.sampled_from(REAL_KEYS),
    st.lists(BARE_KEY, min_size=1, max_size=3).map(".".join),
    st.sampled_from(REAL_KEYS).flatmap(lambda key: BARE_KEY.map(lambda extra: f"{key}.{extra}")),
)
SCALAR = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-5, max_value=30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "redis://h:6379/0", "rediss://[::1", "zstd", "lz4", "none", "_base"]),
    st.booleans(),
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(BARE_KEY, inner, max_size=3),
    ),
    max_leaves=4,
)
TABLE = st.dictionaries(DOTTED_KEY, VALUE, max_size=4)
ENV_NAME = st.sampled_from(["development", "production", "staging", "ai-production", "testing"])
ENV_VALUE = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-10, max_value=10**6).map(str),
    st.sampled_from(
        ["true", "false", "[1, 2]", "{a = 1}", "2024-01-01", "@str 5", "@int x", "1.5"]
    ),
)
ENVIRON = st.dictionaries(
    DOTTED_KEY.map(lambda key: "CACHEKIT_" + key.upper().replace(".", "__")),
    ENV_VALUE,
    max_size=4,
)


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes, plus DEL, which TOML wants escaped)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_key(key: str) -> str:
    """A TOML key: bare when it can be, else a quoted basic string."""
    bare = key.replace("_", "").replace("-", "")
    return key if bare.isascii() and bare.isalnum() else toml_string(key)


def toml_value(value: Any) -> str:
    """An inline TOML value for a scalar, list or table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    items = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
    return "{" + items + "}"


def nest(table: dict[str, Any]) -> dict[str, Any]:
    """Turn dotted keys into nested tables; a later key that clashes replaces the earlier."""
    out: dict[str, Any] = {}
    for dotted, value in table.items():
        *parents, last = dotted.split(".")
        node = out
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value
    return out


def toml_document(sections: dict[str, dict[str, Any]]) -> str:
    """A settings file: one ``[section]`` per environment, keys as inline values."""
    lines: list[str] = []
    for section, table in sections.items():
        lines.append(f"[{toml_key(section)}]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in nest(table).items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    environment=ENV_NAME,
    default=TABLE,
    env_section=TABLE,
    secrets_default=TABLE,
    secrets_env=TABLE,
    environ=ENVIRON,
)
def test_resolve_settings_gives_config_or_config_error(
    environment: str,
    default: dict[str, Any],
    env_section: dict[str, Any],
    secrets_default: dict[str, Any],
    secrets_env: dict[str, Any],
    environ: dict[str, str],
) -> None:
    """Random layers resolve to a ``CacheConfig`` or raise ``CacheConfigError``, nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "settings.toml").write_text(
            toml_document({"default": default, environment: env_section}), encoding="utf-8"
        )
        (root / ".secrets.toml").write_text(
            toml_document({"default": secrets_default, environment: secrets_env}),
            encoding="utf-8",
        )
        try:
            resolved = resolve_settings(environ={"CACHEKIT_ENV": environment, **environ}, root=root)
        except CacheConfigError as exc:
            assert exc.problems
            for problem in exc.problems:
                if is_secret(problem.key) and problem.value is not None:
                    assert set(problem.value.replace("***", "")) <= set("[]', ")
        else:
            event("valid config")
            assert isinstance(resolved.config, CacheConfig)
            assert resolved.config.environment == environment
