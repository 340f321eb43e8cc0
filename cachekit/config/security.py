"""TLS, credentials and the security report: ``RedisCacheSecurityManager``.

The original's manager "validated certificates" by checking that files existed, and its
TLS settings never reached the connection. Here every option becomes a redis-py keyword
argument (``connection_security_kwargs``, used by ``cachekit.backends.redis.connection``), and
validation loads the files the way the connection will: PEM certificates that parse, a
private key that matches the certificate, a CA bundle that loads.

Credentials: ``security.username`` / ``security.password`` and ``redis.username`` /
``redis.password`` are one setting under two names (the former are the original's
``SecurityConfig`` fields); a password in the URL's userinfo counts too. Any one of them
may be set; two that disagree are a configuration error rather than a silent precedence.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from cachekit.config.masking import MASK, mask_url
from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.config.posture import Finding, endpoint, evaluate

if TYPE_CHECKING:
    import redis.asyncio as aioredis

TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_CERT_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL
)


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- credentials ------------------------------------------------------------------------------


def _url_userinfo(url: str) -> tuple[str | None, str | None]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return user, password


def credentials(config: CacheConfig) -> tuple[str | None, str | None]:
    """The ``(username, password)`` the connection authenticates with (None: not set)."""
    url_user, url_password = _url_userinfo(config.redis.url)
    user = config.security.username or config.redis.username or url_user
    password = config.security.password or config.redis.password or url_password
    return user, password


def credential_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(dotted key, message)`` for credentials set in two places with different values.

    Messages never contain the values.
    """
    problems = []
    url = _get(data, "redis.url")
    url_user, url_password = _url_userinfo(url) if isinstance(url, str) else (None, None)
    for field in ("username", "password"):
        in_security = _text(_get(data, f"security.{field}"))
        in_redis = _text(_get(data, f"redis.{field}"))
        if in_security and in_redis and in_security != in_redis:
            problems.append(
                (
                    f"security.{field}",
                    f"contradicts redis.{field} (one setting under two names): set it in one place",
                )
            )
        in_url = url_user if field == "username" else url_password
        configured = in_security or in_redis
        if in_url and configured and in_url != configured:
            where = "security." + field if in_security else "redis." + field
            problems.append(
                ("redis.url", f"the {field} in the URL contradicts {where}: set it in one place")
            )
    return problems


# -- TLS ----------------------------------------------------------------------------------------


def uses_tls(url: str) -> bool:
    """Whether a Redis URL asks for TLS (``rediss://``)."""
    return url.startswith("rediss://")


def connection_security_kwargs(config: CacheConfig) -> dict[str, Any]:
    """redis-py keyword arguments for credentials and TLS (they reach the socket).

    The result holds the password: hand it to redis-py, never log it.
    """
    kwargs: dict[str, Any] = {}
    user, password = credentials(config)
    if user is not None:
        kwargs["username"] = user
    if password is not None:
        kwargs["password"] = password
    sec = config.security
    if uses_tls(config.redis.url):
        kwargs["ssl_cert_reqs"] = "required" if sec.verify_certificates else "none"
        kwargs["ssl_check_hostname"] = sec.verify_certificates
        kwargs["ssl_min_version"] = TLS_VERSIONS[sec.min_tls_version]
        if sec.tls_ca_path:
            kwargs["ssl_ca_certs"] = sec.tls_ca_path
        if sec.tls_cert_path:
            kwargs["ssl_certfile"] = sec.tls_cert_path
        if sec.tls_key_path:
            kwargs["ssl_keyfile"] = sec.tls_key_path
    return kwargs


def _refuse_passphrase() -> bytes:
    # OpenSSL would otherwise prompt on the terminal for an encrypted key.
    raise ValueError("the private key is encrypted")


def build_ssl_context(sec: SecurityConfig) -> ssl.SSLContext:
    """The ``SSLContext`` the connection uses, built the way redis-py builds it.

    Raises ``ssl.SSLError`` / ``OSError`` / ``ValueError`` for files that do not load.
    """
    context = ssl.create_default_context()
    if not sec.verify_certificates:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if sec.tls_cert_path:
        context.load_cert_chain(sec.tls_cert_path, sec.tls_key_path, password=_refuse_passphrase)
    if sec.tls_ca_path:
        context.load_verify_locations(cafile=sec.tls_ca_path)
    context.minimum_version = TLS_VERSIONS[sec.min_tls_version]
    return context


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _read(key: str, path: str, problems: list[tuple[str, str]]) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii")
    except FileNotFoundError:
        problems.append((key, "file does not exist"))
    except IsADirectoryError:
        problems.append((key, "is a directory, not a PEM file"))
    except UnicodeDecodeError:
        problems.append((key, "not a PEM file (binary content; DER files need conversion to PEM)"))
    except OSError as exc:
        problems.append((key, f"cannot read the file: {exc.strerror or type(exc).__name__}"))
    except ValueError:  # e.g. a NUL byte in the path
        problems.append((key, "not a usable file path"))
    return None


def tls_file_problems(
    ca: str | None, cert: str | None, key: str | None
) -> list[tuple[str, str]]:
    """``(dotted key, message)`` for TLS files that will not load into the connection.

    Checks that each file is readable PEM, that the CA bundle and the client certificate
    parse as X.509 certificates, that the key is a private key without a passphrase, and
    that it matches the certificate.
    """
    problems: list[tuple[str, str]] = []
    if ca and _read("security.tls_ca_path", ca, problems) is not None:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            reason = _ssl_reason(exc)
            problems.append(("security.tls_ca_path", f"not a PEM CA certificate bundle ({reason})"))
    cert_text = _read("security.tls_cert_path", cert, problems) if cert else None
    key_text = _read("security.tls_key_path", key, problems) if key else None
    cert_ok = False
    if cert_text is not None:
        blocks = _CERT_BLOCK.findall(cert_text)
        if not blocks:
            problems.append(("security.tls_cert_path", "no PEM certificate in the file"))
        else:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
                    cadata="\n".join(blocks)
                )
                cert_ok = True
            except ssl.SSLError as exc:
                problems.append(
                    ("security.tls_cert_path", f"certificate does not parse ({_ssl_reason(exc)})")
                )
    key_ok = False
    if key_text is not None:
        if "PRIVATE KEY-----" not in key_text:
            problems.append(("security.tls_key_path", "no PEM private key in the file"))
        elif "ENCRYPTED" in key_text:
            problems.append(
                (
                    "security.tls_key_path",
                    "the private key is encrypted with a passphrase; give cachekit an "
                    "unencrypted key file (readable by the app only)",
                )
            )
        else:
            key_ok = True
    if cert_ok and key_ok and cert and key:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                cert, key, password=_refuse_passphrase
            )
        except ssl.SSLError as exc:
            reason = _ssl_reason(exc)
            if "MISMATCH" in reason.upper():
                message = "private key does not match the certificate in security.tls_cert_path"
            else:
                message = f"certificate and key do not load together ({reason})"
            problems.append(("security.tls_key_path", message))
        except (OSError, ValueError) as exc:
            problems.append(("security.tls_key_path", f"cannot load the key ({_ssl_reason(exc)})"))
    return problems


# -- the manager --------------------------------------------------------------------------------


class RedisCacheSecurityManager:
    """Builds the secure connection of a configuration, validates it, and reports on it.

    ``RedisCacheSecurityManager(security_config)`` takes a ``SecurityConfig`` (then the
    URL comes from ``redis_url=``) or a whole ``CacheConfig``. Reports never contain
    secrets: passwords and keys show as ``***``, URLs with the password masked.
    """

    def __init__(
        self,
        security_config: SecurityConfig | CacheConfig | None = None,
        *,
        redis_url: str | None = None,
    ) -> None:
        if isinstance(security_config, CacheConfig):
            self.config: CacheConfig | None = security_config
            self.security = security_config.security
            self.redis_url = security_config.redis.url if redis_url is None else redis_url
        else:
            self.config = None
            self.security = security_config or SecurityConfig()
            self.redis_url = redis_url or ""

    @classmethod
    def from_config(cls, config: CacheConfig) -> RedisCacheSecurityManager:
        """The manager of a resolved configuration."""
        return cls(config)

    def __repr__(self) -> str:
        url = mask_url(self.redis_url)
        return f"RedisCacheSecurityManager(url={url!r}, security={self.security!r})"

    # -- building ---------------------------------------------------------------------------
    def effective_config(self, redis_url: str | None = None) -> CacheConfig:
        """A validated ``CacheConfig`` for the connection (the ``simple`` preset's pool and
        timeouts when the manager was given a ``SecurityConfig`` only)."""
        url = self.redis_url if redis_url is None else redis_url
        if self.config is not None and url == self.config.redis.url:
            return self.config
        from cachekit.compat.builder import CacheConfigBuilder

        builder = CacheConfigBuilder()
        if self.config is not None:
            whole = self.config.to_dict()
            builder.for_environment(self.config.environment).with_preset(self.config.preset)
            return builder.with_overrides(
                {"redis": {**whole["redis"], "url": url}, "security": whole["security"]}
            ).build()
        return builder.with_preset("simple").with_redis(url).with_security(self.security).build()

    def connection_kwargs(self, redis_url: str | None = None) -> dict[str, Any]:
        """redis-py keyword arguments for credentials and TLS (holds the password)."""
        return connection_security_kwargs(self.effective_config(redis_url))

    def ssl_context(self) -> ssl.SSLContext:
        """The ``SSLContext`` the configured TLS options describe (raises if files do not load)."""
        return build_ssl_context(self.security)

    async def create_secure_connection(self, redis_url: str | None = None) -> aioredis.Redis:
        """A connected ``redis.asyncio`` client with the configured TLS and credentials.

        Raises ``CacheSecurityError`` naming the cause (certificate verification,
        authentication, permission) or ``CacheUnavailableError``; the client is closed then.
        """
        from cachekit.backends.redis.connection import make_client
        from cachekit.backends.redis.errors import connect_hints, map_redis_errors

        config = self.effective_config(redis_url)
        client = make_client(config)
        try:
            with map_redis_errors("PING", **connect_hints(config)):
                await client.ping()
        except BaseException:
            await client.aclose()
            raise
        return client

    # -- checking ---------------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        if self.config is not None:
            data = self.config.to_dict()
            data["redis"]["url"] = self.redis_url
            return data
        import msgspec

        return {
            "redis": {"url": self.redis_url},
            "security": msgspec.to_builtins(self.security),
        }

    def validate(self) -> list[Finding]:
        """Every problem of the TLS files, credentials and posture (errors first)."""
        data = self._data()
        sec = self.security
        files = tls_file_problems(sec.tls_ca_path, sec.tls_cert_path, sec.tls_key_path)
        found = [
            Finding(rule="tls-files", severity="error", key=key, message=message)
            for key, message in files
        ]
        found += [
            Finding(rule="credentials", severity="error", key=key, message=message)
            for key, message in credential_problems(data)
        ]
        if sec.use_tls and self.redis_url and not uses_tls(self.redis_url):
            found.append(
                Finding(
                    rule="tls-url",
                    severity="error",
                    key="redis.url",
                    message="security.use_tls = true but the URL is plaintext: use rediss://",
                )
            )
        found += evaluate(data)
        order = {"error": 0, "warning": 1, "note": 2}
        return sorted(found, key=lambda f: order[f.severity])

    @property
    def is_secure(self) -> bool:
        """True when validation finds no error and the connection would pass the strict
        posture without ``allow_insecure`` (loopback may be plaintext), whatever the
        configured posture."""
        if any(f.severity == "error" for f in self.validate()):
            return False
        data = self._data()
        data["security"] = {**data["security"], "posture": "strict", "allow_insecure": False}
        return not any(f.severity == "error" for f in evaluate(data))

    def get_security_recommendations(self) -> list[str]:
        """What to change, one line per finding that is not a note."""
        return [f"{f.key}: {f.message}" for f in self.validate() if f.severity != "note"]

    # -- reporting --------------------------------------------------------------------------
    def _credentials(self) -> tuple[str | None, str | None]:
        if self.config is not None and self.redis_url == self.config.redis.url:
            return credentials(self.config)
        url_user, url_password = _url_userinfo(self.redis_url)
        redis_user = self.config.redis.username if self.config is not None else None
        redis_password = self.config.redis.password if self.config is not None else None
        user = self.security.username or redis_user or url_user
        return user, self.security.password or redis_password or url_password

    def _authentication(self) -> str:
        user, password = self._credentials()
        tls = uses_tls(self.redis_url) or (not self.redis_url and self.security.use_tls)
        methods = []
        if password and user:
            methods.append(f"ACL user {user!r}")
        elif password:
            methods.append("password (AUTH)")
        if tls and self.security.tls_cert_path:
            methods.append("client certificate")
        return " + ".join(methods) or "none"

    def get_security_status(self) -> dict[str, Any]:
        """Current security settings and findings as a plain dict, secrets masked."""
        sec = self.security
        tls = uses_tls(self.redis_url) or (not self.redis_url and sec.use_tls)
        local: bool | None = None
        if self.redis_url:
            try:
                local = endpoint(self.redis_url)[2]
            except ValueError:
                local = None
        if sec.encryption_keys:
            entries = f"encrypted (AES-GCM, {len(sec.encryption_keys)} key(s))"
        elif sec.signing_keys:
            entries = f"signed (HMAC-SHA256, {len(sec.signing_keys)} key(s))"
        else:
            entries = "plain"
        findings = self.validate()
        return {
            "redis_url": mask_url(self.redis_url) or None,
            "local": local,
            "tls": tls,
            "verify_certificates": sec.verify_certificates if tls else None,
            "min_tls_version": sec.min_tls_version if tls else None,
            "ca_path": sec.tls_ca_path,
            "client_certificate": sec.tls_cert_path,
            "authentication": self._authentication(),
            "password": MASK if self._credentials()[1] else None,
            "posture": sec.posture,
            "allow_insecure": sec.allow_insecure,
            "entries": entries,
            "secure": self.is_secure,
            "findings": [str(f) for f in findings],
        }

    def generate_security_report(self) -> str:
        """A short human-readable report of ``get_security_status()``."""
        status = self.get_security_status()
        lines = ["cachekit security report"]
        for key, value in status.items():
            if key != "findings":
                lines.append(f"  {key}: {value}")
        lines.append("  findings:" if status["findings"] else "  findings: none")
        lines += [f"    - {f}" for f in status["findings"]]
        return "\n".join(lines) + "\n"
