"""TLS, mutual TLS and ACL users against a real ``redis-server`` in TLS mode.

Certificates are made at test time (``trustme``). Three servers serve the module: ``plain``
verifies nothing of the client, ``mutual`` wants a client certificate and has only an ACL
user restricted to the cache's key prefix, ``mismatch`` presents a certificate for another
host name. Every failure is checked twice: strict mode raises an error naming the cause,
the default mode degrades with that cause in ``health()``, both within the connect timeout.
"""

from __future__ import annotations

import asyncio
import io
import os
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from cachekit import (
    CacheConfig,
    CacheSecurityError,
    CacheUnavailableError,
    RedisCacheSecurityManager,
    resolve,
)
from cachekit.backends.redis.backend import RedisBackend
from cachekit.cli.check import run_check
from cachekit.config.settings import load_config
from cachekit.protocol import CacheInterface
from tests.certs import TLSFiles, write_ca, write_pki
from tests.redis_server import RedisServer, redis_binary

USER = "cache_user"
PASSWORD = "tls-acl-Pa55-9f3e"
NAMESPACE = "secure"
ENVIRONMENT = "production"
PREFIX = f"{NAMESPACE}:{ENVIRONMENT}:"
CONNECT_TIMEOUT = 3.0
MARGIN = 1.5


@dataclass(frozen=True)
class Servers:
    """The module's PKI and servers."""

    pki: TLSFiles
    other_ca: str  # a CA that signed none of the servers' certificates
    plain: RedisServer  # TLS, no client certificate asked, default user
    mutual: RedisServer  # mutual TLS, only the ACL user (prefix-restricted)
    mismatch: RedisServer  # a certificate for another host name


def _tls_args(pki: TLSFiles, server_pem: str, auth_clients: str) -> list[str]:
    return [
        "--tls-cert-file", server_pem,
        "--tls-key-file", server_pem,
        "--tls-ca-cert-file", pki.ca,
        "--tls-auth-clients", auth_clients,
    ]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A TLS server, a mutual-TLS server with a prefix-restricted ACL user, a mismatched one."""
    if redis_binary() is None:
        if os.environ.get("CACHEKIT_REQUIRE_REDIS") == "1":
            pytest.fail("CACHEKIT_REQUIRE_REDIS=1 but redis-server is not installed")
        pytest.skip("redis-server is not installed")
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    pki = write_pki(directory, ca=ca)
    other_ca = write_ca(trustme.CA(), directory / "other-ca.pem")
    wrong_host = write_pki(directory, ca=ca, server_names=("other.invalid",), prefix="wrong-")
    acl = [
        "--user", "default", "off",
        "--user", USER, "on", f">{PASSWORD}", f"~{PREFIX}*", "+@all", "-@dangerous",
    ]
    started: list[RedisServer] = []
    try:
        for args in (
            _tls_args(pki, pki.server, "no"),
            _tls_args(pki, pki.server, "yes") + acl,
            _tls_args(pki, wrong_host.server, "no"),
        ):
            started.append(RedisServer(args, tls=True).start())
        yield Servers(pki, other_ca, *started)
    finally:
        for server in started:
            server.cleanup()


def write_settings(
    root: Path,
    url: str,
    *,
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    password: str | None = None,
    strict: bool = False,
    namespace: str = NAMESPACE,
    min_tls_version: str = "TLSv1.2",
    verify: bool = True,
    environment: str = ENVIRONMENT,
) -> dict[str, str]:
    """settings.toml (URL, TLS files), .secrets.toml (password); returns the env vars (user)."""
    security = [
        f'min_tls_version = "{min_tls_version}"',
        f"verify_certificates = {'true' if verify else 'false'}",
    ]
    for name, value in (("tls_ca_path", ca), ("tls_cert_path", cert), ("tls_key_path", key)):
        if value is not None:
            security.append(f'{name} = "{value}"')
    (root / "settings.toml").write_text(
        f'[default]\nnamespace = "{namespace}"\n\n'
        f'[default.redis]\nurl = "{url}"\nconnect_timeout = {CONNECT_TIMEOUT}\n'
        f"fail_on_connection_error = {'true' if strict else 'false'}\n\n"
        "[default.security]\n" + "\n".join(security) + "\n"
        # A section of the environment's name: an environment without a preset of its name
        # (staging) needs one, or CACHEKIT_ENV is taken for a typo.
        f"\n[{environment}]\n"
    )
    if password is None:
        return {"CACHEKIT_ENV": environment}
    (root / ".secrets.toml").write_text(f'[default.security]\npassword = "{password}"\n')
    return {"CACHEKIT_SECURITY__USERNAME": USER, "CACHEKIT_ENV": environment}


def config_for(tmp_path: Path, url: str, **settings: Any) -> CacheConfig:
    """The config the settings layers in ``tmp_path`` resolve to."""
    environ = write_settings(tmp_path, url, **settings)
    return load_config(environ=environ, root=tmp_path)


def full_settings(servers: Servers, **changes: Any) -> dict[str, Any]:
    """Settings for the mutual-TLS ACL server: CA, client certificate and password."""
    settings: dict[str, Any] = {
        "ca": servers.pki.ca,
        "cert": servers.pki.client_cert,
        "key": servers.pki.client_key,
        "password": PASSWORD,
    }
    settings.update(changes)
    return settings


async def settle_tls_close() -> None:
    """Let TLS sessions that redis-py closed without waiting finish their close_notify.

    redis-py answers an error reply during connect (wrong password) with
    ``disconnect(nowait=True)``: the TLS shutdown then completes a few milliseconds later
    on the event loop. An application's loop keeps running; a test's loop closes at once
    and would leave the socket for the garbage collector (a ResourceWarning).
    """
    await asyncio.sleep(0.1)


def redis_backend(cache: CacheInterface) -> RedisBackend:
    """The ``RedisBackend`` inside a resolved stack."""
    layer: Any = cache
    while not isinstance(layer, RedisBackend):
        layer = getattr(layer, "far", None) or layer.inner
    return layer


async def connect_failure(config: CacheConfig) -> tuple[str, float, CacheInterface]:
    """Connect in strict mode; the error message, the seconds it took and the cache."""
    cache = resolve(config)
    started = time.perf_counter()
    try:
        with pytest.raises(CacheUnavailableError) as info:
            await cache.connect()
    finally:
        elapsed = time.perf_counter() - started
        await cache.aclose()
        await settle_tls_close()
    return str(info.value), elapsed, cache


async def degraded_reasons(config: CacheConfig) -> tuple[str, float]:
    """Connect in default mode: the health reasons (joined) and the seconds connect took."""
    cache = resolve(config)
    try:
        started = time.perf_counter()
        assert await cache.connect() is False
        elapsed = time.perf_counter() - started
        report = await cache.health()
        assert report.status == "degraded"
        await cache.set("k", "still served")
        assert await cache.get("k") == "still served"
    finally:
        await cache.aclose()
        await settle_tls_close()
    return " ".join(report.reasons), elapsed


# -- success ------------------------------------------------------------------------------------


async def test_security_tls_server_verified_round_trip(servers: Servers, tmp_path: Path) -> None:
    """A rediss:// URL with the test CA round-trips values; the peer certificate was verified."""
    config = config_for(tmp_path, servers.plain.url, ca=servers.pki.ca)
    async with resolve(config) as cache:
        await cache.set("k", {"v": 1})
        assert await cache.get("k") == {"v": 1}
        pool = redis_backend(cache).client.connection_pool
        conn = await pool.get_connection()
        try:
            tls = conn._writer.get_extra_info("ssl_object")
            assert ("IP Address", "127.0.0.1") in tls.getpeercert()["subjectAltName"]
        finally:
            await pool.release(conn)


async def test_security_tls_acceptance_mutual_tls_acl_round_trip(
    servers: Servers, tmp_path: Path
) -> None:
    """Acceptance: CA, client certificate and ACL user from settings round-trip values."""
    config = config_for(tmp_path, servers.mutual.url, **full_settings(servers))
    assert config.redis.password is None and config.security.password == PASSWORD
    async with resolve(config) as cache:
        assert (await cache.health()).status == "ok"
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
        client = redis_backend(cache).client
        assert await client.acl_whoami() == USER


async def test_security_tls_acceptance_different_ca_fails_fast(
    servers: Servers, tmp_path: Path
) -> None:
    """Acceptance: the same settings with another CA fail naming certificate verification."""
    config = config_for(
        tmp_path, servers.mutual.url, **full_settings(servers, ca=servers.other_ca, strict=True)
    )
    message, elapsed, _ = await connect_failure(config)
    assert "TLS certificate verification failed" in message
    assert "not signed by a trusted CA" in message
    assert elapsed < CONNECT_TIMEOUT + MARGIN


async def test_security_tls_acl_user_can_run_every_cache_command(
    servers: Servers, tmp_path: Path
) -> None:
    """'+@all -@dangerous' on the cache prefix suffices: batch calls, SCAN+UNLINK clear, probe."""
    config = config_for(tmp_path, servers.mutual.url, **full_settings(servers))
    async with resolve(config) as cache:
        await cache.set_many({"a": 1, "b": 2}, ttl=60)
        assert await cache.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
        assert await cache.exists("a")
        assert await cache.delete("a")
        assert await cache.delete_many(["b"]) == 1
        await cache.set("c", 3)
        await cache.clear()
        assert not await cache.exists("c")
        assert (await cache.health()).status == "ok"
        assert redis_backend(cache).corrupt_entries == 0


async def test_security_tls_min_version_reaches_socket(
    servers: Servers, tmp_path: Path, redis_server_factory: Any
) -> None:
    """min_tls_version reaches the handshake: TLSv1.3 is used, and refused by a 1.2-only server."""
    config = config_for(tmp_path, servers.plain.url, ca=servers.pki.ca, min_tls_version="TLSv1.3")
    async with resolve(config) as cache:
        pool = redis_backend(cache).client.connection_pool
        conn = await pool.get_connection()
        try:
            assert conn._writer.get_extra_info("ssl_object").version() == "TLSv1.3"
        finally:
            await pool.release(conn)
    old = redis_server_factory(
        *_tls_args(servers.pki, servers.pki.server, "no"), "--tls-protocols", "TLSv1.2", tls=True
    )
    config = config_for(
        tmp_path, old.url, ca=servers.pki.ca, min_tls_version="TLSv1.3", strict=True
    )
    message, _, _ = await connect_failure(config)
    assert "TLS version refused" in message


async def test_security_tls_verify_certificates_reaches_socket(
    servers: Servers, tmp_path: Path
) -> None:
    """verify_certificates = false (relaxed environments only) accepts an unknown CA."""
    settings = {"ca": servers.other_ca, "environment": "staging", "strict": True}
    unverified = config_for(tmp_path, servers.plain.url, verify=False, **settings)
    async with resolve(unverified) as cache:
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
    verified = config_for(tmp_path, servers.plain.url, **settings)
    message, _, _ = await connect_failure(verified)
    assert "TLS certificate verification failed" in message


async def test_security_tls_cachekit_check_over_tls(servers: Servers, tmp_path: Path) -> None:
    """``cachekit check`` round-trips through the mutual-TLS ACL server."""
    config = config_for(tmp_path, servers.mutual.url, **full_settings(servers))
    out = io.StringIO()
    assert await run_check(config, out) == 0, out.getvalue()
    assert "ok: round trip" in out.getvalue()


async def test_security_manager_create_secure_connection(servers: Servers, tmp_path: Path) -> None:
    """The manager's connection carries TLS, client certificate and ACL user; errors name causes."""
    config = config_for(tmp_path, servers.mutual.url, **full_settings(servers))
    manager = RedisCacheSecurityManager(config)
    client = await manager.create_secure_connection()
    try:
        assert await client.acl_whoami() == USER
    finally:
        await client.aclose()
    status = manager.get_security_status()
    assert status["authentication"] == f"ACL user {USER!r} + client certificate"
    assert status["secure"] is True
    with pytest.raises(CacheSecurityError, match="hostname mismatch"):
        await manager.create_secure_connection(servers.mismatch.url)
    await settle_tls_close()


# -- failures: strict mode names the cause, default mode degrades with it --------------------

FAILURES = {
    "unknown CA": ("mutual", {"ca": "other"}, "TLS certificate verification failed"),
    "hostname mismatch": ("mismatch", {}, "hostname mismatch"),
    "missing client certificate": ("mutual", {"cert": None, "key": None}, "client certificate"),
    "wrong password": ("mutual", {"password": "not-the-password"}, "authentication failed"),
    "no password": ("mutual", {"password": None}, "authentication required"),
    "plaintext on the TLS port": ("plain-as-redis", {}, "the port may expect TLS"),
}


def failure_config(servers: Servers, tmp_path: Path, case: str, strict: bool) -> CacheConfig:
    """The config of one failure case."""
    target, changes, _ = FAILURES[case]
    if target == "plain-as-redis":
        url = servers.plain.url.replace("rediss://", "redis://")
        return config_for(tmp_path, url, strict=strict)
    changes = {k: servers.other_ca if v == "other" else v for k, v in changes.items()}
    server = servers.mutual if target == "mutual" else servers.mismatch
    return config_for(tmp_path, server.url, **full_settings(servers, strict=strict, **changes))


@pytest.mark.parametrize("case", sorted(FAILURES))
async def test_security_tls_failure_strict_names_cause(
    servers: Servers, tmp_path: Path, case: str
) -> None:
    """Strict mode: connect raises an error naming the cause, within the connect timeout."""
    message, elapsed, _ = await connect_failure(failure_config(servers, tmp_path, case, True))
    assert FAILURES[case][2] in message
    assert elapsed < CONNECT_TIMEOUT + MARGIN
    assert PASSWORD not in message


@pytest.mark.parametrize("case", sorted(FAILURES))
async def test_security_tls_failure_default_degrades_with_cause(
    servers: Servers, tmp_path: Path, case: str
) -> None:
    """Default mode: connect returns False at once, health is degraded naming the cause."""
    reasons, elapsed = await degraded_reasons(failure_config(servers, tmp_path, case, False))
    assert FAILURES[case][2] in reasons
    assert elapsed < CONNECT_TIMEOUT + MARGIN
    assert PASSWORD not in reasons


async def test_security_tls_security_failures_are_security_errors(
    servers: Servers, tmp_path: Path
) -> None:
    """Certificate and authentication failures raise ``CacheSecurityError`` in strict mode."""
    for case in ("unknown CA", "hostname mismatch", "wrong password"):
        cache = resolve(failure_config(servers, tmp_path, case, True))
        try:
            with pytest.raises(CacheSecurityError):
                await cache.connect()
        finally:
            await cache.aclose()
            await settle_tls_close()


async def test_security_tls_acl_noperm_strict(servers: Servers, tmp_path: Path) -> None:
    """Keys outside the ACL user's prefix: strict mode raises naming the ACL permission."""
    config = config_for(
        tmp_path, servers.mutual.url, **full_settings(servers, strict=True, namespace="other")
    )
    cache = resolve(config)
    try:
        assert await cache.connect() is True  # PING is allowed; the keys are not
        started = time.perf_counter()
        with pytest.raises(CacheSecurityError, match="permission denied by the server's ACL"):
            await cache.get("k")
        assert time.perf_counter() - started < CONNECT_TIMEOUT + MARGIN
    finally:
        await cache.aclose()


async def test_security_tls_acl_noperm_degrades(servers: Servers, tmp_path: Path) -> None:
    """Keys outside the ACL user's prefix: default mode serves from memory, health names ACL."""
    config = config_for(tmp_path, servers.mutual.url, **full_settings(servers, namespace="other"))
    cache = resolve(config)
    try:
        await cache.connect()
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
        report = await cache.health()
        assert report.status == "degraded"
        assert "permission denied by the server's ACL" in " ".join(report.reasons)
    finally:
        await cache.aclose()


def test_security_tls_ssl_context_matches_settings(servers: Servers, tmp_path: Path) -> None:
    """The manager's SSLContext carries the configured verification and minimum version."""
    config = config_for(
        tmp_path, servers.mutual.url, **full_settings(servers, min_tls_version="TLSv1.3")
    )
    context = RedisCacheSecurityManager(config).ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3


# The commands cachekit runs, and nothing else (CLIENT SETINFO, which redis-py sends on
# Redis >= 7.2, may be refused: redis-py ignores that error).
MINIMAL_ACL = (
    "+ping", "+hello", "+auth", "+client|setname",
    "+get", "+set", "+mget", "+pttl", "+exists", "+unlink", "+scan",
)


async def test_security_acl_minimal_command_list_suffices(redis_server_factory: Any) -> None:
    """An ACL user allowed exactly the documented commands on the prefix runs the whole API."""
    server = redis_server_factory(
        "--user", "default", "off",
        "--user", USER, "on", f">{PASSWORD}", f"~{PREFIX}*", "resetchannels", *MINIMAL_ACL,
    )
    from cachekit import CacheConfigBuilder

    config = (
        CacheConfigBuilder()
        .for_environment(ENVIRONMENT)
        .with_redis(f"redis://127.0.0.1:{server.port}/0", username=USER, password=PASSWORD)
        .with_overrides({"namespace": NAMESPACE, "redis.fail_on_connection_error": True})
        .with_ai_features()
        .build()
    )
    async with resolve(config) as cache:
        await cache.set_many({"a": 1, "b": 2})
        assert await cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
        assert await cache.exists("a") and await cache.delete("a")
        assert await cache.delete_many(["b"]) == 1
        key = cache.build_key("some text", "summarize")
        await cache.set(key, {"summary": "s"})
        await cache.invalidate_pattern("some")  # type: ignore[attr-defined]  # SCAN + UNLINK
        await cache.clear()
        assert await cache.get(key) is None
        assert (await cache.health()).status == "ok"
