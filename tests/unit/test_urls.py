"""The one Redis URL parser: every form, the errors it names, masking, and its readers
(validation, posture, credentials, the connection) agreeing on host and password."""

from __future__ import annotations

import io

import msgspec
import pytest

from cachekit import CacheConfigBuilder, CacheConfigError, CacheFactory, resolve
from cachekit.backends.redis.connection import Endpoint
from cachekit.cli.main import main
from cachekit.compat.ai_config import AIResponseCacheConfig
from cachekit.config.masking import mask_tree
from cachekit.config.posture import evaluate
from cachekit.config.settings import resolve_settings
from cachekit.config.urls import (
    RedisURL,
    endpoint,
    mask_url,
    parse_redis_url,
    url_problem,
    userinfo,
)

SECRET = "Pw-s3cr3t-9f2a"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", ("redis", "localhost", 6379, None, 0, None, None)),
        ("REDIS://h:7000/3", ("redis", "h", 7000, None, 3, None, None)),
        ("rediss://u:p@h:6380/2", ("rediss", "h", 6380, None, 2, "u", "p")),
        ("redis://[::1]:7001/1", ("redis", "::1", 7001, None, 1, None, None)),
        ("redis://h/?db=4", ("redis", "h", 6379, None, 4, None, None)),
        ("redis://h:1/0?password=S3cr3t", ("redis", "h", 1, None, 0, None, "S3cr3t")),
        ("redis://h?username=app&password=a%26b", ("redis", "h", 6379, None, 0, "app", "a&b")),
        ("redis://u:Pw/x@h", ("redis", "h", 6379, None, 0, "u", "Pw/x")),
        ("redis://u:P#w@h:6379/0", ("redis", "h", 6379, None, 0, "u", "P#w")),
        ("redis://u:p@ss@h", ("redis", "h", 6379, None, 0, "u", "p@ss")),
        ("redis://:a+b%40c@h", ("redis", "h", 6379, None, 0, None, "a+b@c")),
        ("unix:///tmp/redis.sock?db=2", ("unix", None, None, "/tmp/redis.sock", 2, None, None)),
        ("unix://:pw@/run/r.sock", ("unix", None, None, "/run/r.sock", 0, None, "pw")),
    ],
)
def test_urls_parse_every_form(url: str, expected: tuple[object, ...]) -> None:
    """Scheme, host, port, socket path, database and credentials of each URL form."""
    got = parse_redis_url(url)
    assert (got.scheme, got.host, got.port, got.path, got.db, got.username, got.password) == (
        expected
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h:99999", "out of range"),
        ("redis://h:-1", "not a number"),
        ("redis://h:0", "out of range"),
        ("redis://h:", "not a number"),
        ("redis://", "no host"),
        ("redis://:6379/0", "no host"),
        ("http://h:80", "unknown scheme 'http'"),
        ("localhost:6379", "not a URL"),
        ("redis://h/db1", "database number"),
        ("redis://h?socket_timeout=1", "unsupported query parameter 'socket_timeout'"),
        ("redis://h?ssl_cert_reqs=none", "unsupported query parameter"),
        ("redis://h?password", "has no value"),
        ("redis://h?db=1&db=2", "given twice"),
        ("redis://h/1?db=2", "two different databases"),
        ("redis://:a@h?password=b", "two different passwords"),
        ("redis://[::1:6379", "unclosed '['"),
        ("redis://::1:6379", "IPv6"),
        ("redis://h st", "cannot have"),
        ("unix://", "no socket path"),
    ],
)
def test_urls_refuse_what_redis_py_would_misread(url: str, message: str) -> None:
    """Malformed URLs, bad ports, empty hosts, unknown schemes and ambiguous queries are
    ``CacheConfigError``s naming ``redis.url``."""
    assert message in (url_problem(url) or "")
    with pytest.raises(CacheConfigError, match=r"redis\.url") as info:
        parse_redis_url(url)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        f"redis://u:{SECRET}?x@h",  # a raw "?" in the password ends the userinfo early
        f"redis://u:{SECRET}@h:99999",
        f"redis://h:6379/0?password={SECRET}&db=x",
        f"http://u:{SECRET}@h",
    ],
)
def test_urls_errors_never_show_the_password(url: str) -> None:
    """Whatever is wrong with a URL, the error names the problem without its secret."""
    with pytest.raises(CacheConfigError) as info:
        parse_redis_url(url)
    assert SECRET not in str(info.value)
    assert SECRET not in mask_url(url)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://u:pw@h:1/0", "redis://u:***@h:1/0"),
        ("redis://:pw@h", "redis://:***@h"),
        ("redis://justapassword@h", "redis://***@h"),
        ("redis://h:1/0?password=S3cr3t", "redis://h:1/0?password=***"),
        ("redis://h?db=1&username=app&password=x", "redis://h?db=1&username=***&password=***"),
        ("redis://u:Pw/x@h", "redis://u:***@h"),
        ("redis://u:P#w@h:6379/0", "redis://u:***@h:6379/0"),
        ("redis://u:P?w@h", "redis://***@h"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("", ""),
    ],
)
def test_urls_mask_every_secret(url: str, masked: str) -> None:
    """Userinfo passwords (raw ``/``, ``#``, ``?`` in them too) and query secrets are masked."""
    assert mask_url(url) == masked


def test_urls_connection_url_carries_no_credentials() -> None:
    """What redis-py gets is host, port and database only; credentials go as arguments."""
    parsed = parse_redis_url(f"rediss://app:{SECRET}@[::1]:7000/3?username=app")
    assert parsed.connection_url() == "rediss://[::1]:7000/3"
    assert SECRET not in repr(parsed) and isinstance(parsed, RedisURL)
    assert parse_redis_url("unix:///tmp/r s.sock").connection_url() == "unix:///tmp/r%20s.sock?db=0"


def test_urls_readers_agree_on_query_credentials() -> None:
    """Credentials, posture and the connection all see a password given in the query."""
    url = f"redis://cache.internal:6379/0?username=app&password={SECRET}"
    assert userinfo(url) == ("app", SECRET)
    assert endpoint(url) == ("redis", "cache.internal", False)
    config = (
        CacheConfigBuilder()
        .with_preset("simple")
        .with_overrides({"redis.url": url, "security.posture": "strict",
                         "security.allow_insecure": True})
        .build()
    )
    endpoint_ = Endpoint.from_config(config)
    kwargs = endpoint_.kwargs()
    assert (kwargs["username"], kwargs["password"]) == ("app", SECRET)
    assert endpoint_.url == "redis://cache.internal:6379/0"
    rules = {f.rule for f in evaluate(config.to_dict())}
    assert "unauthenticated-remote" not in rules and "plaintext-remote" in rules
    assert SECRET not in str(mask_tree(config.to_dict())) and SECRET not in repr(config)


def test_urls_raw_slash_password_reaches_the_right_host() -> None:
    """``redis://u:Pw/x@h``: the connection goes to ``h`` with password ``Pw/x``."""
    config = CacheConfigBuilder().with_preset("simple").with_overrides(
        {"redis.url": "redis://u:Pw/x@cachehost:6380/1"}
    ).build()
    endpoint_ = Endpoint.from_config(config)
    assert endpoint_.url == "redis://cachehost:6380/1"
    assert endpoint_.kwargs()["password"] == "Pw/x"
    pool = endpoint_.client().connection_pool
    assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"]) == ("cachehost", 6380)
    assert pool.connection_kwargs["db"] == 1 and pool.connection_kwargs["password"] == "Pw/x"


def test_urls_validation_names_key_and_layer() -> None:
    """A bad port in an environment variable is one problem naming redis.url and its layer."""
    with pytest.raises(CacheConfigError) as info:
        resolve_settings(environ={"CACHEKIT_REDIS__URL": "redis://h:99999"}, use_files=False)
    (problem,) = [p for p in info.value.problems if p.key == "redis.url"]
    assert problem.source == "CACHEKIT_REDIS__URL" and "out of range" in problem.message


def test_urls_bad_port_in_cache_factory_is_a_config_error() -> None:
    """``CacheFactory.for_web_app(redis_url="redis://h:99999")`` raises CacheConfigError."""
    with pytest.raises(CacheConfigError, match=r"redis\.url.*out of range"):
        CacheFactory.for_web_app(redis_url="redis://h:99999")


def test_urls_bad_port_in_resolve_is_a_config_error() -> None:
    """``resolve()`` on such a URL raises CacheConfigError, not redis-py's ValueError."""
    with pytest.raises(CacheConfigError, match=r"redis\.url"):
        resolve(overrides={"redis.url": "redis://h:99999"}, environ={})
    with pytest.raises(CacheConfigError, match=r"redis\.url"):
        resolve(overrides={"redis.url": "redis://"}, environ={})


def test_urls_bad_port_in_ai_config_validate_is_reported() -> None:
    """``AIResponseCacheConfig(redis_url=...99999).validate()`` reports redis.url."""
    result = AIResponseCacheConfig(redis_url="redis://localhost:99999").validate()
    assert not result.is_valid
    assert any("redis.url" in error for error in result.errors)


def test_urls_unvalidated_config_fails_at_the_endpoint() -> None:
    """A config built around validation (``msgspec.structs.replace``) still gets a
    CacheConfigError naming redis.url when the connection reads the URL."""
    config = CacheConfigBuilder().with_preset("simple").build()
    bad = msgspec.structs.replace(
        config, redis=msgspec.structs.replace(config.redis, url="redis://h:-1")
    )
    with pytest.raises(CacheConfigError, match=r"redis\.url"):
        Endpoint.from_config(bad)


def test_urls_cli_validate_exits_2_naming_redis_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cachekit config validate`` with ``redis://h:99999`` exits 2 naming redis.url."""
    monkeypatch.setenv("CACHEKIT_SETTINGS_ROOT", str(tmp_path))
    monkeypatch.setenv("CACHEKIT_REDIS__URL", "redis://h:99999")
    assert main(["config", "validate"], out=io.StringIO()) == 2
    assert "redis.url" in capsys.readouterr().err
