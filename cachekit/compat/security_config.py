"""The original's ``SecurityConfig`` (``redis_auth``, ``acl_username``, timeouts, retries)
as a subclass of the core ``security`` section, and ``create_security_config_from_env``.

An instance *is* a core ``SecurityConfig``: the original's names are folded into the core
fields at construction (``redis_auth`` → ``password``, ``acl_username``/``acl_password``
→ ``username``/``password``, ``min_tls_version=771`` → ``"TLSv1.2"``), so it goes
wherever the core section goes. The connection settings the original kept here
(``connection_timeout``, ``socket_timeout``, ``max_retries``, ``retry_delay``) belong to
the ``redis`` section in cachekit; ``redis_overrides()`` gives them as config keys, and
the builder, the factory and the flat constructors apply them. Left ``None`` they come
from the preset, like every other default.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from cachekit.config.model import SecurityConfig as CoreSecurityConfig
from cachekit.config.settings import environ_or_process
from cachekit.errors import CacheConfigError, ConfigProblem

__all__ = ["SecurityConfig", "create_security_config_from_env"]

_TLS_VERSIONS: Final = {
    ssl.TLSVersion.TLSv1_2.value: "TLSv1.2",
    ssl.TLSVersion.TLSv1_3.value: "TLSv1.3",
}
# The original's connection fields, as keys of the redis section.
_REDIS_KEYS: Final = {
    "connection_timeout": "redis.connect_timeout",
    "socket_timeout": "redis.socket_timeout",
    "max_retries": "redis.retries",
    "retry_delay": "redis.retry_backoff_base",
}
#: Fields this class adds to the core section (not settings keys of ``security``).
EXTRA_FIELDS: Final = frozenset(
    {
        "redis_auth",
        "acl_username",
        "acl_password",
        "cipher_suites",
        "enable_security_monitoring",
        "log_security_events",
        *_REDIS_KEYS,
    }
)


class _Meta(type(CoreSecurityConfig)):  # type: ignore[misc]
    def __instancecheck__(cls, instance: Any) -> bool:
        # A core section (``config.security``) counts as one of these.
        if cls is SecurityConfig:
            return isinstance(instance, CoreSecurityConfig)
        return bool(super().__instancecheck__(instance))


def _problem(key: str, message: str, value: Any = None) -> ConfigProblem:
    shown = None if value is None else repr(value)
    return ConfigProblem(key=f"security.{key}", message=message, value=shown)


class SecurityConfig(CoreSecurityConfig, metaclass=_Meta, frozen=True, kw_only=True):
    """Redis security settings under the original's names and cachekit's.

    ``SecurityConfig(redis_auth="pw")`` is a password without a user (legacy ``AUTH``),
    ``SecurityConfig(acl_username="app", acl_password="pw")`` an ACL user, and
    ``SecurityConfig(username=..., password=..., use_tls=True)`` the same under cachekit's
    names. TLS files must exist at construction (whether they load and match is checked
    by validation); a username without a password, a non-positive timeout, a negative
    retry count and ``cipher_suites`` (cachekit keeps the ``ssl`` defaults of the TLS
    version) raise ``CacheConfigError``.
    """

    min_tls_version: Any = "TLSv1.2"
    redis_auth: str | None = None
    acl_username: str | None = None
    acl_password: str | None = None
    cipher_suites: list[str] | None = None
    connection_timeout: float | None = None
    socket_timeout: float | None = None
    max_retries: int | None = None
    retry_delay: float | None = None
    enable_security_monitoring: bool = True
    log_security_events: bool = True

    def __post_init__(self) -> None:
        problems: list[ConfigProblem] = []
        set_ = msgspec.structs.force_setattr
        version = self.min_tls_version
        if isinstance(version, int) and not isinstance(version, bool):
            if version not in _TLS_VERSIONS:
                problems.append(_problem("min_tls_version", "use TLS 1.2 or 1.3", version))
            else:
                set_(self, "min_tls_version", _TLS_VERSIONS[version])
        elif version not in _TLS_VERSIONS.values():
            problems.append(_problem("min_tls_version", "use 'TLSv1.2' or 'TLSv1.3'", version))
        if self.acl_username and not self.acl_password:
            problems.append(_problem("acl_password", "required when acl_username is given"))
        user: str | None
        password: str | None
        if self.acl_username and self.acl_password:
            user, password = self.acl_username, self.acl_password
        else:
            user, password = self.username, self.redis_auth or self.acl_password
        for name, given, folded in (
            ("username", self.username, user),
            ("password", self.password, password),
        ):
            if given is not None and folded is not None and given != folded:
                problems.append(_problem(name, "given twice with different values"))
        user, password = self.username or user, self.password or password
        set_(self, "username", user)
        set_(self, "password", password)
        if password is not None:
            if user is not None:
                set_(self, "acl_username", user)
                set_(self, "acl_password", password)
            else:
                set_(self, "redis_auth", password)
        for name in ("connection_timeout", "socket_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                problems.append(_problem(name, "must be > 0 seconds", value))
        if self.max_retries is not None and self.max_retries < 0:
            problems.append(_problem("max_retries", "must be >= 0", self.max_retries))
        if self.retry_delay is not None and self.retry_delay < 0:
            problems.append(_problem("retry_delay", "must be >= 0 seconds", self.retry_delay))
        if self.cipher_suites is not None:
            problems.append(
                _problem(
                    "cipher_suites",
                    "not supported: cachekit uses the ssl module's ciphers for the minimum "
                    "TLS version (set min_tls_version instead)",
                )
            )
        for name in ("tls_ca_path", "tls_cert_path", "tls_key_path"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                problems.append(_problem(name, "file not found", path))
        if problems:
            raise CacheConfigError(problems)

    def __repr__(self) -> str:
        core = super().__repr__()
        extra = f", acl_username={self.acl_username!r}" if self.acl_username else ""
        return core[:-1] + extra + f", security_level={self.security_level!r})"

    @property
    def has_authentication(self) -> bool:
        """Whether a password (with or without an ACL user) is configured."""
        return bool(self.password)

    @property
    def security_level(self) -> str:
        """``HIGH`` (TLS, verified, authenticated), ``MEDIUM`` (TLS or auth) or ``LOW``."""
        if self.use_tls and self.has_authentication and self.verify_certificates:
            return "HIGH"
        if self.use_tls or self.has_authentication:
            return "MEDIUM"
        return "LOW"

    def core(self) -> CoreSecurityConfig:
        """The plain core section (the original's extra fields dropped)."""
        names = [f.name for f in msgspec.structs.fields(CoreSecurityConfig)]
        return CoreSecurityConfig(**{name: getattr(self, name) for name in names})

    def redis_overrides(self) -> dict[str, Any]:
        """The connection settings given here, as ``redis.*`` config keys (``retry_delay``
        doubles per retry as in the original: it is the backoff base, and the cap is the
        last retry's delay)."""
        out = {
            key: getattr(self, name)
            for name, key in _REDIS_KEYS.items()
            if getattr(self, name) is not None
        }
        if self.retry_delay is not None:
            out["redis.retry_backoff_cap"] = retry_cap(self.retry_delay, self.max_retries)
        return out


def retry_cap(delay: float, retries: int | None) -> float:
    """The longest wait of the original's schedule: ``delay * 2 ** (retries - 1)``."""
    return float(delay * 2 ** max(0, (retries or 1) - 1))


def redis_overrides_of(security: CoreSecurityConfig | None) -> dict[str, Any]:
    """``redis_overrides()`` of the original's ``SecurityConfig``; empty for a core one."""
    if isinstance(security, CoreSecurityConfig) and type(security) is not CoreSecurityConfig:
        return getattr(security, "redis_overrides", dict)()
    return {}


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in {"true", "1", "yes", "on"}


def create_security_config_from_env(
    environ: Mapping[str, str] | None = None,
) -> SecurityConfig | None:
    """The original's ``REDIS_*`` security variables as a ``SecurityConfig``.

    ``REDIS_AUTH``, ``REDIS_USE_TLS``, ``REDIS_TLS_CERT_PATH``, ``REDIS_TLS_KEY_PATH``,
    ``REDIS_TLS_CA_PATH``, ``REDIS_ACL_USERNAME``, ``REDIS_ACL_PASSWORD``,
    ``REDIS_VERIFY_CERTIFICATES``, ``REDIS_CONNECTION_TIMEOUT``, ``REDIS_MAX_RETRIES``,
    ``REDIS_RETRY_DELAY``. None when none of ``REDIS_AUTH``, ``REDIS_USE_TLS``,
    ``REDIS_ACL_USERNAME``, ``REDIS_ACL_PASSWORD`` is set. ``environ`` defaults to the
    process environment; a number that does not parse is a ``CacheConfigError``.
    """
    env = environ_or_process(environ)
    if not any(
        env.get(name)
        for name in ("REDIS_AUTH", "REDIS_USE_TLS", "REDIS_ACL_USERNAME", "REDIS_ACL_PASSWORD")
    ):
        return None
    numbers: dict[str, Any] = {}
    for name, field, kind in (
        ("REDIS_CONNECTION_TIMEOUT", "connection_timeout", float),
        ("REDIS_MAX_RETRIES", "max_retries", int),
        ("REDIS_RETRY_DELAY", "retry_delay", float),
    ):
        raw = env.get(name)
        if raw is None:
            continue
        try:
            numbers[field] = kind(raw)
        except ValueError:
            raise CacheConfigError(
                [ConfigProblem(key=name, message=f"not a {kind.__name__}", value=repr(raw))]
            ) from None
    return SecurityConfig(
        redis_auth=env.get("REDIS_AUTH") or None,
        use_tls=_flag(env.get("REDIS_USE_TLS"), False),
        tls_cert_path=env.get("REDIS_TLS_CERT_PATH") or None,
        tls_key_path=env.get("REDIS_TLS_KEY_PATH") or None,
        tls_ca_path=env.get("REDIS_TLS_CA_PATH") or None,
        acl_username=env.get("REDIS_ACL_USERNAME") or None,
        acl_password=env.get("REDIS_ACL_PASSWORD") or None,
        verify_certificates=_flag(env.get("REDIS_VERIFY_CERTIFICATES"), True),
        **numbers,
    )
