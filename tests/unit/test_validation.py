"""Tests of ``cachekit.config.validation``: every error path, reported together, secrets masked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cachekit.config.model import CacheConfig
from cachekit.config.settings import resolve_settings
from cachekit.config.validation import build_config, schema_leaves
from cachekit.errors import CacheConfigError, CacheError, ConfigProblem
from tests.certs import write_pki

CANARY = "canary-Pa55word-8c1f"


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return the path."""
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(
    tmp_path: Path, environ: dict[str, str] | None = None, **kwargs: Any
) -> dict[str, ConfigProblem]:
    """Resolve from ``tmp_path``, expect failure, and return the problems by key."""
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ=environ or {}, root=tmp_path, **kwargs)
    return {p.key: p for p in info.value.problems}


def test_cache_config_error_is_cache_error() -> None:
    """``CacheConfigError`` sits under the one root exception (and ``ValueError``)."""
    assert issubclass(CacheConfigError, CacheError)
    assert issubclass(CacheConfigError, ValueError)


def test_build_config_unknown_key_suggests_name(tmp_path: Path) -> None:
    """A typo'd key is an error naming key, value, file, section and the likely key."""
    write(tmp_path / "settings.toml", '[default.redis]\nurll = "redis://typo:6379/0"\n')
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ={}, root=tmp_path)
    (problem,) = info.value.problems
    assert problem.key == "redis.urll"
    assert problem.source == "settings.toml [default]"
    assert "did you mean 'redis.url'" in problem.message
    assert problem.value == "'redis://typo:6379/0'"
    text = str(info.value)
    for part in ("redis.urll", "settings.toml", "[default]", "redis.url", "redis://typo:6379/0"):
        assert part in text


def test_build_config_unknown_section_suggests_name(tmp_path: Path) -> None:
    """A typo'd section is an unknown top-level key with a suggestion."""
    write(tmp_path / "settings.toml", "[production.memroy]\nenabled = true\n")
    problems = problems_of(tmp_path, {"CACHEKIT_ENV": "production"})
    assert "did you mean 'memory'" in problems["memroy"].message
    assert problems["memroy"].source == "settings.toml [production]"


def test_build_config_unknown_key_from_env_var_names_variable(tmp_path: Path) -> None:
    """An unknown key set by a variable names that variable as its source."""
    problems = problems_of(tmp_path, {"CACHEKIT_REDIS__MAX_CONNECTION": "5"})
    problem = problems["redis.max_connection"]
    assert problem.source == "CACHEKIT_REDIS__MAX_CONNECTION"
    assert "did you mean 'redis.max_connections'" in problem.message


def test_build_config_wrong_type(tmp_path: Path) -> None:
    """A value of the wrong type is an error with key, value and layer."""
    write(tmp_path / "settings.toml", '[default.redis]\nmax_connections = "many"\n')
    problem = problems_of(tmp_path)["redis.max_connections"]
    assert "Expected `int`" in problem.message
    assert problem.value == "'many'"
    assert problem.source == "settings.toml [default]"


def test_build_config_bool_is_not_int(tmp_path: Path) -> None:
    """A bool is not accepted where a number is expected."""
    problem = problems_of(tmp_path, {"CACHEKIT_COMPRESSION__LEVEL": "true"})["compression.level"]
    assert problem.source == "CACHEKIT_COMPRESSION__LEVEL"


def test_build_config_section_must_be_table(tmp_path: Path) -> None:
    """A scalar where a section belongs is an error."""
    write(tmp_path / "settings.toml", '[default]\nredis = "redis://x"\n')
    problem = problems_of(tmp_path)["redis"]
    assert "expected a table" in problem.message


@pytest.mark.parametrize(
    ("dotted", "raw"),
    [
        ("redis.max_connections", "0"),
        ("ttl.default", "-1"),
        ("redis.socket_timeout", "0"),
        ("monitoring.invalidation_pattern_share", "1.5"),
        ("redis.retries", "-2"),
    ],
)
def test_build_config_out_of_range(tmp_path: Path, dotted: str, raw: str) -> None:
    """A value outside its range is an error naming the key and the variable."""
    var = "CACHEKIT_" + dotted.upper().replace(".", "__")
    problem = problems_of(tmp_path, {var: raw})[dotted]
    assert problem.source == var
    assert problem.message.startswith("invalid value: Expected")


def test_build_config_operation_name_checked(tmp_path: Path) -> None:
    """Operation names in the TTL table must be plain names; their TTLs positive."""
    write(
        tmp_path / "settings.toml",
        '[default.ai.operation_ttls]\n"bad name" = 10\nqa = 0\n',
    )
    problems = problems_of(tmp_path)
    assert "invalid name" in problems["ai.operation_ttls.bad name"].message
    assert "invalid value" in problems["ai.operation_ttls.qa"].message


def test_build_config_tls_files_contradict_plain_url(tmp_path: Path) -> None:
    """TLS files with a ``redis://`` URL are a contradiction."""
    ca = write(tmp_path / "ca.pem", "ca")
    write(
        tmp_path / "settings.toml",
        f'[default.redis]\nurl = "redis://h:6379/0"\n\n[default.security]\ntls_ca_path = "{ca}"\n',
    )
    problem = problems_of(tmp_path)["redis.url"]
    assert "security.tls_ca_path" in problem.message
    assert "rediss://" in problem.message
    assert problem.source == "settings.toml [default]"


def test_build_config_use_tls_contradicts_plain_url(tmp_path: Path) -> None:
    """``security.use_tls`` with a ``redis://`` URL is a contradiction."""
    problem = problems_of(
        tmp_path,
        {"CACHEKIT_REDIS__URL": "redis://h:6379/0", "CACHEKIT_SECURITY__USE_TLS": "true"},
    )["redis.url"]
    assert "security.use_tls" in problem.message
    assert problem.source == "CACHEKIT_REDIS__URL"


def test_build_config_tls_files_with_tls_url_valid(tmp_path: Path) -> None:
    """TLS files with a ``rediss://`` URL are accepted."""
    pki = write_pki(tmp_path)
    paths = {"ca": pki.ca, "cert": pki.client_cert, "key": pki.client_key}
    resolved = resolve_settings(
        environ={},
        root=tmp_path,
        overrides={
            "redis.url": "rediss://h:6380/0",
            "security": {
                "use_tls": True,
                "tls_ca_path": str(paths["ca"]),
                "tls_cert_path": str(paths["cert"]),
                "tls_key_path": str(paths["key"]),
            },
        },
    )
    assert resolved.config.security.tls_cert_path == paths["cert"]


def test_build_config_missing_tls_file(tmp_path: Path) -> None:
    """A TLS file that does not exist is an error."""
    problem = problems_of(
        tmp_path,
        overrides={"redis.url": "rediss://h", "security.tls_ca_path": str(tmp_path / "no.pem")},
    )["security.tls_ca_path"]
    assert problem.message == "file does not exist"
    assert problem.source == "code override"


def test_build_config_tls_path_too_long_is_config_error(tmp_path: Path) -> None:
    """A TLS path the OS rejects as too long is a config error, not an ``OSError``."""
    problem = problems_of(
        tmp_path, overrides={"redis.url": "rediss://h", "security.tls_ca_path": "x" * 300}
    )["security.tls_ca_path"]
    assert problem.message == "cannot read the file: File name too long"


def test_build_config_cert_without_key(tmp_path: Path) -> None:
    """A client certificate without its key is an error."""
    cert = write(tmp_path / "cert.pem", "cert")
    problem = problems_of(
        tmp_path, overrides={"redis.url": "rediss://h", "security.tls_cert_path": str(cert)}
    )["security.tls_cert_path"]
    assert "together" in problem.message


@pytest.mark.parametrize("url", ["http://h:6379", "redis://[::1", "rediss://[oops/0"])
def test_build_config_bad_redis_url(tmp_path: Path, url: str) -> None:
    """A URL of another scheme, or one that does not parse, is a config error."""
    problem = problems_of(tmp_path, {"CACHEKIT_REDIS__URL": url})["redis.url"]
    assert problem.source == "CACHEKIT_REDIS__URL"


def test_build_config_algorithm_table_is_config_error(tmp_path: Path) -> None:
    """A table where the algorithm name belongs is a config error, not a ``TypeError``."""
    write(tmp_path / "settings.toml", "[default.compression.algorithm]\nname = 1\n")
    problem = problems_of(tmp_path)["compression.algorithm"]
    assert problem.source == "settings.toml [default]"


def test_build_config_size_tiers_must_increase(tmp_path: Path) -> None:
    """Size tiers that do not increase are an error."""
    write(tmp_path / "settings.toml", "[default.ai.size_tiers]\nsmall = 5000\nmedium = 2000\n")
    problem = problems_of(tmp_path)["ai.size_tiers"]
    assert "small < medium < large" in problem.message
    assert problem.source is not None
    assert "settings.toml [default]" in problem.source


def test_build_config_unknown_compression_algorithm(tmp_path: Path) -> None:
    """An unknown compression algorithm is an error naming the value and its layer."""
    write(tmp_path / "settings.toml", '[default.compression]\nalgorithm = "brotli"\n')
    problem = problems_of(tmp_path)["compression.algorithm"]
    assert "invalid value" in problem.message
    assert problem.value == "'brotli'"
    assert problem.source == "settings.toml [default]"


@pytest.mark.parametrize(
    ("algorithm", "level"), [("zlib", 12), ("zlib", -1), ("zstd", 23), ("lz4", 17)]
)
def test_build_config_compression_level_out_of_range(
    tmp_path: Path, algorithm: str, level: int
) -> None:
    """A level the algorithm does not accept is an error naming the accepted range."""
    problem = problems_of(
        tmp_path, overrides={"compression": {"algorithm": algorithm, "level": level}}
    )["compression.level"]
    assert f"{algorithm} accepts levels" in problem.message
    assert problem.value == repr(level)


@pytest.mark.parametrize(
    ("algorithm", "level"), [("zstd", 22), ("zlib", 0), ("lz4", 16), ("none", 0)]
)
def test_build_config_compression_level_in_range(
    tmp_path: Path, algorithm: str, level: int
) -> None:
    """The edge levels each algorithm accepts are valid."""
    overrides = {"compression": {"algorithm": algorithm, "level": level}}
    config = resolve_settings(environ={}, root=tmp_path, overrides=overrides).config
    assert config.compression.level == level


def test_build_config_backoff_base_above_cap(tmp_path: Path) -> None:
    """A retry backoff base above its cap is an error."""
    problems = problems_of(tmp_path, overrides={"redis.retry_backoff_base": 2.0})
    assert "retry_backoff_cap" in problems["redis.retry_backoff_base"].message


def test_build_config_thresholds_must_increase(tmp_path: Path) -> None:
    """A warning threshold at or above its critical threshold is an error."""
    problems = problems_of(tmp_path, overrides={"monitoring.memory_warning_bytes": 104857600})
    assert "memory_critical_bytes" in problems["monitoring.memory_warning_bytes"].message


def test_build_config_no_tier_left(tmp_path: Path) -> None:
    """An enabled cache with no Redis URL and no memory tier is an error."""
    problems = problems_of(tmp_path, overrides={"memory.enabled": False})
    assert "no tier left" in problems["memory.enabled"].message


def test_build_config_top_level_key_outside_section(tmp_path: Path) -> None:
    """A key outside any ``[default]``/``[<env>]`` section is an error naming the file."""
    write(tmp_path / "settings.toml", "ttl = 5\n")
    problem = problems_of(tmp_path)["ttl"]
    assert problem.source == "settings.toml"
    assert "[default]" in problem.message


def test_build_config_unreadable_toml(tmp_path: Path) -> None:
    """A settings file that is not TOML is an error naming the file."""
    write(tmp_path / "settings.toml", "[default\n")
    problem = problems_of(tmp_path)["(file)"]
    assert problem.source == str(tmp_path / "settings.toml")


def test_build_config_bad_env_value(tmp_path: Path) -> None:
    """A variable value that does not parse to a plain value is an error naming the variable."""
    problems = problems_of(tmp_path, {"CACHEKIT_TTL__DEFAULT": "2024-01-01"})
    assert problems["ttl.default"].source == "CACHEKIT_TTL__DEFAULT"


def test_build_config_empty_variable_segment(tmp_path: Path) -> None:
    """A variable name with an empty segment is an error naming the variable."""
    problems = problems_of(tmp_path, {"CACHEKIT_REDIS____URL": "redis://h"})
    assert problems["CACHEKIT_REDIS____URL"].source == "CACHEKIT_REDIS____URL"


def test_build_config_missing_key_reported() -> None:
    """A required key that no layer sets is reported as missing."""
    with pytest.raises(CacheConfigError) as info:
        build_config({"preset": "x", "environment": "dev"}, {})
    keys = {p.key for p in info.value.problems}
    assert {"ttl", "redis", "enabled"} <= keys
    assert all(p.source is None for p in info.value.problems)


def test_build_config_reports_all_problems_together(tmp_path: Path) -> None:
    """Problems from files, variables and overrides arrive in one ``CacheConfigError``."""
    write(
        tmp_path / "settings.toml",
        '[default.redis]\nurll = "redis://x"\nmax_connections = 0\n\n'
        '[default.compression]\nalgorithm = "zlib"\nlevel = 12\n',
    )
    write(tmp_path / ".secrets.toml", "[default.ai.size_tiers]\nsmall = 9000\n")
    environ = {"CACHEKIT_TTL__DEFAULT": "soon", "CACHEKIT_PRESET": "simple"}
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ=environ, root=tmp_path, overrides={"monitoring.enabled": "yes"})
    by_key = {p.key: p for p in info.value.problems}
    assert set(by_key) == {
        "redis.urll",
        "redis.max_connections",
        "compression.level",
        "ai.size_tiers",
        "ttl.default",
        "monitoring.enabled",
    }
    assert ".secrets.toml [default]" in (by_key["ai.size_tiers"].source or "")
    assert by_key["ttl.default"].source == "CACHEKIT_TTL__DEFAULT"
    assert by_key["monitoring.enabled"].source == "code override"
    assert str(info.value).startswith("6 configuration problems:")


def test_build_config_masks_password(tmp_path: Path) -> None:
    """The password value never appears in an error, whatever else is wrong."""
    write(
        tmp_path / "settings.toml",
        f'password = "{CANARY}"\n\n[default.redis]\nurl = "http://user:{CANARY}@h:1/0"\n'
        "max_connections = 0\n",
    )
    write(tmp_path / ".secrets.toml", "[default.redis]\npassword = 123456789\n")
    environ = {"CACHEKIT_SECURITY__SIGNING_KEYS": f'["{CANARY}"]'}
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ=environ, root=tmp_path)
    text = str(info.value) + repr(info.value.problems)
    assert CANARY not in text
    assert "123456789" not in text
    by_key = {p.key: p for p in info.value.problems}
    assert by_key["redis.password"].value == "'***'"
    assert by_key["password"].value == "***"
    assert "***" in (by_key["redis.url"].value or "")


def test_build_config_masks_env_password(tmp_path: Path) -> None:
    """A valid password from a variable stays out of errors about other keys."""
    environ = {"CACHEKIT_REDIS__PASSWORD": CANARY, "CACHEKIT_REDIS__RETRIES": "-1"}
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ=environ, root=tmp_path)
    assert CANARY not in str(info.value)


def test_cache_config_repr_masks_password(tmp_path: Path) -> None:
    """The resolved config's repr masks the password and the URL's userinfo."""
    config = resolve_settings(
        environ={
            "CACHEKIT_REDIS__PASSWORD": CANARY,
            "CACHEKIT_REDIS__URL": f"redis://u:{CANARY}@h:6379/0",
        },
        root=tmp_path,
    ).config
    assert CANARY not in repr(config)
    assert CANARY not in repr(config.redis)


def test_schema_leaves_cover_model() -> None:
    """``schema_leaves`` lists every dotted leaf, with name-keyed tables as one leaf."""
    leaves = dict(schema_leaves())
    assert "redis.url" in leaves
    assert "ai.size_tiers.small" in leaves
    assert "ai.operation_ttls" in leaves
    assert "ai.size_tiers" not in leaves
    assert set(CacheConfig.__struct_fields__) <= {k.split(".")[0] for k in leaves}
