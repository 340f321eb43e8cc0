"""``SecurityConfig`` with the original's fields, ``RedisCacheSecurityManager`` with every
public method of the original, and ``create_security_config_from_env``."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from cachekit import (
    CacheConfigBuilder,
    CacheConfigError,
    CachePerformanceMonitor,
    RedisCacheSecurityManager,
    SecurityConfig,
    SecurityValidationResult,
    create_security_config_from_env,
)
from cachekit.config.model import SecurityConfig as CoreSecurityConfig
from tests.certs import write_pki
from tests.redis_server import RedisServer

SECRET = "s3cret-Compat-pw-42"


def test_security_config_original_fields_fold_into_the_core_ones() -> None:
    """``redis_auth`` is a password without a user; ``acl_*`` an ACL user."""
    auth = SecurityConfig(redis_auth=SECRET)
    assert (auth.username, auth.password, auth.redis_auth) == (None, SECRET, SECRET)
    acl = SecurityConfig(acl_username="app", acl_password=SECRET)
    assert (acl.username, acl.password) == ("app", SECRET)
    seed = SecurityConfig(username="app", password=SECRET)
    assert (seed.acl_username, seed.acl_password) == ("app", SECRET)
    assert isinstance(acl, CoreSecurityConfig)
    assert isinstance(CoreSecurityConfig(), SecurityConfig)


def test_security_config_level_and_authentication() -> None:
    """``security_level`` and ``has_authentication`` follow the original's rules."""
    assert SecurityConfig().security_level == "LOW"
    assert SecurityConfig(redis_auth=SECRET).security_level == "MEDIUM"
    assert SecurityConfig(use_tls=True).security_level == "MEDIUM"
    high = SecurityConfig(use_tls=True, acl_username="app", acl_password=SECRET)
    assert high.security_level == "HIGH" and high.has_authentication
    assert not SecurityConfig().has_authentication


def test_security_config_connection_fields_and_tls_number() -> None:
    """Timeouts and retries become ``redis.*`` settings (the delay doubling up to the last
    retry's, as in the original); 772 is TLS 1.3."""
    security = SecurityConfig(
        connection_timeout=3, socket_timeout=2, max_retries=4, retry_delay=0.2, min_tls_version=772
    )
    assert security.min_tls_version == "TLSv1.3"
    assert security.redis_overrides() == {
        "redis.connect_timeout": 3,
        "redis.socket_timeout": 2,
        "redis.retries": 4,
        "redis.retry_backoff_base": 0.2,
        "redis.retry_backoff_cap": 1.6,
    }
    config = CacheConfigBuilder().with_preset("simple").with_security(security).build()
    assert (config.redis.connect_timeout, config.redis.retries) == (3, 4)
    assert config.security.min_tls_version == "TLSv1.3"


def test_security_config_checks_at_construction(tmp_path: Path) -> None:
    """Missing TLS files, a user without password, bad timeouts and cipher suites raise."""
    with pytest.raises(CacheConfigError) as info:
        SecurityConfig(use_tls=True, tls_cert_path=str(tmp_path / "nope.pem"))
    assert info.value.problems[0].key == "security.tls_cert_path"
    for bad in (
        {"acl_username": "app"},
        {"connection_timeout": 0},
        {"max_retries": -1},
        {"retry_delay": -1.0},
        {"cipher_suites": ["ECDHE-RSA-AES256-GCM-SHA384"]},
        {"min_tls_version": 769},
        {"redis_auth": "a", "password": "b"},
    ):
        with pytest.raises(CacheConfigError):
            SecurityConfig(**bad)


def test_security_config_repr_masks_every_secret() -> None:
    """Neither ``redis_auth`` nor ``acl_password`` shows in the repr."""
    for security in (
        SecurityConfig(redis_auth=SECRET),
        SecurityConfig(acl_username="u", acl_password=SECRET),
    ):
        assert SECRET not in repr(security) and "password='***'" in repr(security)


def test_create_security_config_from_env() -> None:
    """The original's ``REDIS_*`` variables give a SecurityConfig, none of them gives None."""
    assert create_security_config_from_env({}) is None
    security = create_security_config_from_env(
        {
            "REDIS_ACL_USERNAME": "app",
            "REDIS_ACL_PASSWORD": SECRET,
            "REDIS_CONNECTION_TIMEOUT": "7",
            "REDIS_MAX_RETRIES": "1",
            "REDIS_RETRY_DELAY": "0.5",
            "REDIS_VERIFY_CERTIFICATES": "false",
        }
    )
    assert security is not None
    assert (security.username, security.password) == ("app", SECRET)
    assert (security.connection_timeout, security.max_retries, security.retry_delay) == (7, 1, 0.5)
    assert security.verify_certificates is False
    with pytest.raises(CacheConfigError, match="REDIS_MAX_RETRIES"):
        create_security_config_from_env({"REDIS_AUTH": SECRET, "REDIS_MAX_RETRIES": "many"})


def test_security_manager_original_constructor_and_reports(tmp_path: Path) -> None:
    """``RedisCacheSecurityManager(config, performance_monitor)`` reports in the original's
    shape (and cachekit's), without secrets."""
    pki = write_pki(tmp_path)
    security = SecurityConfig(
        use_tls=True, tls_ca_path=pki.ca, acl_username="app", acl_password=SECRET
    )
    manager = RedisCacheSecurityManager(security, CachePerformanceMonitor())
    assert manager.config is security
    status = manager.get_security_status()
    assert status["security_level"] == "HIGH"
    assert status["configuration"] == {
        "has_authentication": True,
        "tls_enabled": True,
        "acl_configured": True,
        "certificate_verification": True,
        "connection_timeout": status["configuration"]["connection_timeout"],
        "max_retries": status["configuration"]["max_retries"],
    }
    assert status["last_validation"] is None and status["security_events_count"] == 0
    assert status["recommendations_count"] == len(manager.get_security_recommendations())
    report = manager.generate_security_report()
    for text in (repr(manager), repr(status), report):
        assert SECRET not in text
    assert isinstance(manager.ssl_context(), ssl.SSLContext)


def test_security_validation_result_score_and_summary() -> None:
    """The original's score: auth 20 (+10 ACL), TLS 25 (+10 valid cert, +5 encrypted)."""
    result = SecurityValidationResult(
        is_secure=False,
        auth_configured=True,
        tls_enabled=True,
        acl_enabled=True,
        certificate_valid=True,
        connection_encrypted=True,
    )
    assert (result.security_score, result.is_secure) == (70, True)
    weak = SecurityValidationResult(
        is_secure=True,
        auth_configured=False,
        tls_enabled=False,
        acl_enabled=False,
        certificate_valid=False,
        vulnerabilities=["No authentication configured"],
    )
    assert (weak.security_score, weak.is_secure) == (0, False)
    assert weak.get_security_summary().startswith("Security Status: INSECURE (Score: 0/100")
    assert weak.to_dict()["vulnerabilities"] == ["No authentication configured"]


@pytest.mark.redis
async def test_security_manager_live_methods(redis_server: RedisServer) -> None:
    """``create_secure_connection``, ``validate_connection_security`` and
    ``test_security_configuration`` against a real server."""
    monitor = CachePerformanceMonitor()
    manager = RedisCacheSecurityManager(SecurityConfig(), monitor, redis_url=redis_server.url)
    client = await manager.create_secure_connection()
    try:
        verdict = await manager.validate_connection_security(client)
    finally:
        await client.aclose()
    assert isinstance(verdict, SecurityValidationResult)
    assert verdict.detailed_checks["connectivity"] == "OK"
    assert verdict.connection_encrypted is False and verdict.is_secure is False
    assert "Unencrypted connection" in verdict.vulnerabilities
    status = manager.get_security_status()
    assert status["last_validation"]["security_score"] == verdict.security_score
    assert status["security_events_count"] == 2  # a connection, a validation
    assert "live validation:" in manager.generate_security_report(verdict)
    tested: dict[str, Any] = await manager.test_security_configuration(redis_server.url)
    assert tested["connection_successful"] and tested["authentication_working"]
    assert tested["encryption_active"] is False and tested["errors"] == []
    operations = monitor.get_performance_stats()["cache_operations"]["by_operation_type"]
    assert {"secure_connection_create", "security_validation"} <= set(operations)


@pytest.mark.redis
async def test_security_manager_unreachable_redis_gives_an_insecure_verdict() -> None:
    """A connection that fails is a verdict naming the failure, not an exception."""
    from tests.helpers_net import free_port

    manager = RedisCacheSecurityManager(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    verdict = await manager.validate_configuration()
    assert not verdict.is_secure and verdict.vulnerabilities[0].startswith("Connection failure")
    tested = await manager.test_security_configuration()
    assert tested["connection_successful"] is False and tested["errors"]
