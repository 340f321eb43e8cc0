"""Tests of the security settings: credentials, TLS file checks, the manager, error mapping."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from redis import exceptions as rex

from cachekit import (
    CacheConfig,
    CacheConfigBuilder,
    CacheConfigError,
    CacheSecurityError,
    CacheUnavailableError,
    RedisCacheSecurityManager,
    SecurityConfig,
)
from cachekit.backends.redis.connection import Endpoint
from cachekit.backends.redis.errors import map_redis_errors, scrub
from cachekit.config.credentials import tls_file_problems
from tests.certs import write_pki

SECRET = "s3cret-Manager-pw-77"


def _kwargs(config: CacheConfig) -> dict[str, Any]:
    """The redis-py keyword arguments the stack's connection gets from ``config``."""
    return Endpoint.from_config(config).kwargs()


def build(preset: str = "simple", **dotted: Any) -> Any:
    """A config from ``preset`` with dotted overrides."""
    return CacheConfigBuilder().with_preset(preset).with_overrides(dotted).build()


def problems(**dotted: Any) -> dict[str, str]:
    """Problem messages by key of a config that must be refused."""
    with pytest.raises(CacheConfigError) as info:
        build(**dotted)
    assert SECRET not in str(info.value)
    return {p.key: p.message for p in info.value.problems}


# -- SecurityConfig and credentials ------------------------------------------------------------


def test_security_config_seed_constructor_masks_password() -> None:
    """The original docs' ``SecurityConfig(username=..., password=..., use_tls=True)`` works."""
    config = SecurityConfig(username="cache_user", password=SECRET, use_tls=True)
    assert (config.username, config.password, config.use_tls) == ("cache_user", SECRET, True)
    assert SECRET not in repr(config) and SECRET not in str(config)
    assert "password='***'" in repr(config)


def test_security_config_reaches_connection_through_factory_builder() -> None:
    """A ``SecurityConfig`` given to the builder sets the ACL user of the connection."""
    security = SecurityConfig(username="cache_user", password=SECRET, use_tls=True)
    config = (
        CacheConfigBuilder()
        .for_environment("production")
        .with_redis("rediss://cache.internal:6380/0")
        .with_security(security)
        .build()
    )
    kwargs = _kwargs(config)
    assert (kwargs["username"], kwargs["password"]) == ("cache_user", SECRET)
    assert (kwargs["ssl_cert_reqs"], kwargs["ssl_check_hostname"]) == ("required", True)
    assert config.security.posture == "strict"  # a SecurityConfig's defaults do not reset it


def test_security_credentials_either_name_or_url() -> None:
    """security.* and redis.* are one setting; the URL's userinfo counts too."""
    for dotted in (
        {"security.username": "u", "security.password": SECRET},
        {"redis.username": "u", "redis.password": SECRET},
        {"security.username": "u", "redis.password": SECRET},
        {"redis.url": f"redis://u:{SECRET}@localhost:6379/0"},
        {"redis.url": f"redis://u:{SECRET}@localhost:6379/0", "security.password": SECRET},
    ):
        kwargs = _kwargs(build(**{"redis.url": "redis://localhost:6379/0", **dotted}))
        assert (kwargs["username"], kwargs["password"]) == ("u", SECRET), dotted


def test_security_credentials_contradictions_are_errors() -> None:
    """Two different values for one credential are refused, without printing either."""
    found = problems(**{"security.password": SECRET, "redis.password": SECRET + "x"})
    assert "contradicts redis.password" in found["security.password"]
    found = problems(**{"security.username": "a", "redis.username": "b"})
    assert "contradicts redis.username" in found["security.username"]
    found = problems(
        **{"redis.url": f"redis://u:{SECRET}@localhost/0", "redis.password": "other-password"}
    )
    assert "the password in the URL contradicts redis.password" in found["redis.url"]


# -- TLS files ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One CA with server and client certificates, written as files."""
    return write_pki(tmp_path_factory.mktemp("pki"))


def test_security_tls_files_valid(pki: Any) -> None:
    """A real CA, certificate and matching key pass every check."""
    assert tls_file_problems(pki.ca, pki.client_cert, pki.client_key) == []
    assert tls_file_problems(pki.ca, pki.server, pki.server) == []  # combined PEM


def test_security_tls_files_not_pem(pki: Any, tmp_path: Path) -> None:
    """Text that is not a certificate, a corrupt certificate and binary data are named."""
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    binary = tmp_path / "cert.der"
    binary.write_bytes(b"\x30\x82\x01\xff\x00")
    found = dict(tls_file_problems(str(junk), str(broken), pki.client_key))
    assert found["security.tls_ca_path"].startswith("not a PEM CA certificate bundle")
    assert found["security.tls_cert_path"].startswith("certificate does not parse")
    found = dict(tls_file_problems(None, str(binary), str(junk)))
    assert "binary content" in found["security.tls_cert_path"]
    assert found["security.tls_key_path"] == "no PEM private key in the file"


def test_security_tls_files_key_mismatch(pki: Any, tmp_path: Path) -> None:
    """A key that belongs to another certificate is named as a mismatch."""
    other = write_pki(tmp_path, prefix="other-")
    found = dict(tls_file_problems(None, pki.client_cert, other.client_key))
    assert found == {
        "security.tls_key_path": "private key does not match the certificate in "
        "security.tls_cert_path"
    }


def test_security_tls_files_encrypted_key(pki: Any, tmp_path: Path) -> None:
    """A passphrase-protected key is refused up front (it would prompt on the terminal)."""
    key = serialization.load_pem_private_key(Path(pki.client_key).read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    found = dict(tls_file_problems(None, pki.client_cert, str(encrypted)))
    assert "encrypted with a passphrase" in found["security.tls_key_path"]


def test_security_tls_files_unreadable(tmp_path: Path) -> None:
    """Missing files, directories and unusable paths are config problems, not exceptions."""
    found = dict(tls_file_problems(str(tmp_path / "none.pem"), str(tmp_path), "bad\0path"))
    assert found == {
        "security.tls_ca_path": "file does not exist",
        "security.tls_cert_path": "is a directory, not a PEM file",
        "security.tls_key_path": "not a usable file path",
    }


def test_security_tls_files_checked_at_validation(pki: Any) -> None:
    """Validation (and so ``cachekit config validate``) runs the file checks."""
    found = problems(
        **{
            "redis.url": "rediss://localhost:6380/0",
            "security.tls_ca_path": pki.client_key,
            "security.tls_cert_path": pki.client_cert,
            "security.tls_key_path": pki.server,
        }
    )
    assert "not a PEM CA certificate bundle" in found["security.tls_ca_path"]
    assert "does not match" in found["security.tls_key_path"]


# -- the manager ----------------------------------------------------------------------------------


def test_security_manager_seed_example() -> None:
    """``RedisCacheSecurityManager(security_config)`` from the original docs reports safely."""
    manager = RedisCacheSecurityManager(
        SecurityConfig(username="cache_user", password=SECRET, use_tls=True)
    )
    status = manager.get_security_status()
    assert status["tls"] is True
    assert status["authentication"] == "ACL user 'cache_user'"
    assert status["password"] == "***"
    report = manager.generate_security_report()
    assert "authentication: ACL user 'cache_user'" in report
    for text in (repr(manager), repr(status), report):
        assert SECRET not in text


def test_security_manager_connection_kwargs_and_context(pki: Any) -> None:
    """The manager builds the redis-py TLS/credential kwargs and a matching SSLContext."""
    security = SecurityConfig(
        tls_ca_path=pki.ca,
        tls_cert_path=pki.client_cert,
        tls_key_path=pki.client_key,
        min_tls_version="TLSv1.3",
        username="u",
        password=SECRET,
    )
    manager = RedisCacheSecurityManager(security, redis_url="rediss://127.0.0.1:6380/0")
    kwargs = manager.connection_kwargs()
    assert kwargs["ssl_ca_certs"] == pki.ca
    assert kwargs["ssl_min_version"] == ssl.TLSVersion.TLSv1_3
    assert (kwargs["username"], kwargs["password"]) == ("u", SECRET)
    context = manager.ssl_context()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert manager.validate() == []
    assert manager.is_secure


def test_security_manager_validate_lists_findings(pki: Any, tmp_path: Path) -> None:
    """validate() names file problems, the plaintext URL and posture findings, errors first."""
    other = write_pki(tmp_path, prefix="other-")
    security = SecurityConfig(
        use_tls=True,
        tls_cert_path=pki.client_cert,
        tls_key_path=other.client_key,
        posture="strict",
    )
    manager = RedisCacheSecurityManager(security, redis_url="redis://cache.internal:6379/0")
    rules = [(f.rule, f.severity) for f in manager.validate()]
    assert rules[:2] == [("tls-files", "error"), ("tls-url", "error")]
    assert ("plaintext-remote", "error") in rules
    assert not manager.is_secure
    assert any("use rediss://" in line for line in manager.get_security_recommendations())


def test_security_manager_is_secure_judges_by_strict_rules() -> None:
    """is_secure applies the strict rules whatever the configured posture and waivers."""
    relaxed = SecurityConfig(posture="relaxed", allow_insecure=True)
    remote = RedisCacheSecurityManager(relaxed, redis_url="redis://cache.internal:6379/0")
    assert [f.severity for f in remote.validate()] == ["note", "note"]
    assert remote.is_secure is False
    local = RedisCacheSecurityManager(relaxed, redis_url="redis://localhost:6379/0")
    assert local.is_secure is True
    tls = RedisCacheSecurityManager(
        SecurityConfig(password=SECRET), redis_url="rediss://cache.internal:6380/0"
    )
    assert tls.is_secure is True


def test_security_manager_from_config_status(pki: Any) -> None:
    """From a resolved config the status shows the masked URL, the user and the entry mode."""
    config = build(
        **{
            "redis.url": f"rediss://app:{SECRET}@cache.internal:6380/0",
            "security.tls_ca_path": pki.ca,
            "security.signing_keys": ["signing-key-0123456789"],
        }
    )
    status = RedisCacheSecurityManager.from_config(config).get_security_status()
    assert status["redis_url"] == "rediss://app:***@cache.internal:6380/0"
    assert status["authentication"] == "ACL user 'app'"
    assert status["entries"] == "signed (HMAC-SHA256, 1 key(s))"
    assert (status["local"], status["secure"]) == (False, True)
    assert SECRET not in repr(status)


# -- error mapping ---------------------------------------------------------------------------


def _raise_mapped(exc: BaseException, **hints: Any) -> CacheUnavailableError:
    with pytest.raises(CacheUnavailableError) as info, map_redis_errors("PING", **hints):
        raise exc
    return info.value


def test_security_errors_name_the_cause() -> None:
    """Each security failure maps to CacheSecurityError naming its cause."""
    cases = {
        "permission denied by the server's ACL": rex.NoPermissionError(
            "this user has no permissions to access one of the keys used as arguments"
        ),
        "authentication failed": rex.AuthenticationError(
            "invalid username-password pair or user is disabled."
        ),
        "authentication required": rex.AuthenticationError("Authentication required."),
        "TLS version refused": rex.ConnectionError(
            "Error 1 connecting to h:1. [SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert "
            "protocol version"
        ),
    }
    for cause, exc in cases.items():
        error = _raise_mapped(exc)
        assert isinstance(error, CacheSecurityError)
        assert cause in str(error)
        assert error.__cause__ is exc


def test_security_errors_certificate_from_context() -> None:
    """A certificate failure found only in the exception context is still named."""
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed: Hostname mismatch")
        except ssl.SSLError as inner:
            raise rex.ConnectionError("Error connecting") from inner
    except rex.ConnectionError as exc:
        error = _raise_mapped(exc)
    assert isinstance(error, CacheSecurityError)
    assert "hostname mismatch" in str(error)


def test_security_errors_connect_hints() -> None:
    """A reset at connect names the likely cause: TLS port, or a missing client certificate."""
    reset = rex.ConnectionError("Error while reading from h:1 : (104, 'Connection reset by peer')")
    assert "may expect TLS" in str(_raise_mapped(reset, tls=False, client_cert=False))
    assert "client certificate" in str(_raise_mapped(reset, tls=True, client_cert=False))
    assert "(" not in str(_raise_mapped(reset, tls=True, client_cert=True)).split(":")[0]
    assert "may" not in str(_raise_mapped(reset))


def test_security_errors_scrub_secrets() -> None:
    """URL passwords and password= fragments never reach a cachekit error message."""
    exc = rex.ConnectionError(f"cannot reach redis://u:{SECRET}@h:1/0 with password={SECRET}")
    error = _raise_mapped(exc)
    assert SECRET not in str(error)
    assert "redis://u:***@h:1/0" in str(error)
    assert scrub(f"token: {SECRET}") == "token: ***"
