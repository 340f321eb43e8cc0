"""``CacheConfigBuilder``: the original fluent builder, over the same layered resolution.

Every ``with_*`` call records a code override; ``build()`` runs the one validation path
and returns the frozen ``CacheConfig``. Without ``from_environment()`` the builder uses
the preset and its own overrides only; ``from_environment()`` adds settings.toml,
.secrets.toml and ``CACHEKIT_*`` variables beneath them. The original's positional forms
(``with_redis(url, password, use_tls)``, ``with_security(cert, key)``), its AI option
names (``text_size_tiers``) and its JSON files (``from_file("cache.json")``,
``save_to_file``) work too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from cachekit.compat.names import AI_FIELDS, legacy_overrides
from cachekit.compat.security_config import redis_overrides_of
from cachekit.config.masking import is_secret
from cachekit.config.model import CacheConfig, SecurityConfig
from cachekit.config.presets import preset_names, read_preset
from cachekit.config.settings import ResolvedSettings, environ_or_process, resolve_settings
from cachekit.config.tree import flatten
from cachekit.errors import CacheConfigError, ConfigProblem

__all__ = ["CacheConfigBuilder", "Problems"]


class Problems(list[ConfigProblem]):
    """What ``validate()`` returns: the problems found (empty when valid), with the
    original's ``ValidationResult`` attributes (``is_valid``, ``errors``, ``warnings``)."""

    @property
    def is_valid(self) -> bool:
        """True when no problem was found."""
        return not self

    @property
    def errors(self) -> list[str]:
        """Each problem as one line."""
        return [str(problem) for problem in self]

    @property
    def warnings(self) -> list[str]:
        """Always empty: a setting is either valid or a problem."""
        return []


def _core_fields(security: SecurityConfig) -> dict[str, Any]:
    """The fields of a ``SecurityConfig`` set away from their defaults (core fields only:
    the original's ``redis_auth``, ``acl_*`` are folded into them)."""
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(SecurityConfig):
        value = getattr(security, field.name)
        if value != field.default:
            values[field.name] = value
    return values


class CacheConfigBuilder:
    """Fluent construction of a ``CacheConfig``; every method returns the builder."""

    def __init__(self) -> None:
        self._overrides: dict[str, Any] = {}
        self._environment: str | None = None
        self._preset: str | None = None
        self._environ: Mapping[str, str] = {}
        self._root: str | Path | None = None
        self._use_files = False
        self._files: tuple[str | Path, ...] = ()

    def _set(self, dotted: str, value: Any) -> CacheConfigBuilder:
        if value is not None:
            self._overrides[dotted] = value
        return self

    def for_environment(self, environment: str) -> CacheConfigBuilder:
        """Use ``environment``; its preset too when one has that name (e.g. ``production``)."""
        self._environment = environment
        if environment in preset_names():
            self._preset = environment
        return self

    def with_preset(self, name: str) -> CacheConfigBuilder:
        """Start from preset ``name`` regardless of the environment."""
        self._preset = name
        return self

    def with_redis(
        self,
        redis_url: str,
        password: str | None = None,
        use_tls: bool | None = None,
        *,
        username: str | None = None,
        max_connections: int | None = None,
        socket_timeout: float | None = None,
        connect_timeout: float | None = None,
        fail_on_connection_error: bool | None = None,
    ) -> CacheConfigBuilder:
        """Point the cache at Redis (``use_tls=True`` wants a ``rediss://`` URL)."""
        self._set("redis.url", redis_url)
        self._set("redis.password", password)
        self._set("redis.username", username)
        self._set("security.use_tls", use_tls or None)
        self._set("redis.max_connections", max_connections)
        self._set("redis.socket_timeout", socket_timeout)
        self._set("redis.connect_timeout", connect_timeout)
        return self._set("redis.fail_on_connection_error", fail_on_connection_error)

    def with_security(
        self,
        security: SecurityConfig | str | None = None,
        tls_key_path: str | None = None,
        **fields: Any,
    ) -> CacheConfigBuilder:
        """Set TLS / posture options from a ``SecurityConfig`` or keyword fields.

        Only the fields a ``SecurityConfig`` sets away from their defaults are applied, so
        ``SecurityConfig(username=..., password=...)`` does not reset the preset's posture
        or keys configured in other layers; keyword fields always apply. The original's
        form ``with_security(tls_cert_path, tls_key_path)`` turns ``use_tls`` on. The
        original ``SecurityConfig``'s timeouts and retries go to the ``redis`` section.
        """
        values: dict[str, Any] = {}
        if isinstance(security, str):
            fields["tls_cert_path"] = security
            security = None
        if tls_key_path is not None:
            fields["tls_key_path"] = tls_key_path
        if security is not None:
            values.update(_core_fields(security))
            for key, value in redis_overrides_of(security).items():
                self._set(key, value)
        if (fields.get("tls_cert_path") or fields.get("tls_key_path")) and "use_tls" not in fields:
            fields["use_tls"] = True
        values.update(fields)
        for key, value in values.items():
            self._set(f"security.{key}", value)
        return self

    def with_compression(
        self, threshold: int | None = None, level: int | None = None, algorithm: str | None = None
    ) -> CacheConfigBuilder:
        """Compression threshold (bytes), level and algorithm."""
        self._set("compression.threshold", threshold)
        self._set("compression.level", level)
        return self._set("compression.algorithm", algorithm)

    def with_memory_cache(
        self, size: int | None = None, *, max_bytes: int | None = None, enabled: bool = True
    ) -> CacheConfigBuilder:
        """Enable (or disable) the memory tier and bound it."""
        self._set("memory.enabled", enabled)
        if enabled:  # the size of a tier that is off is not a setting
            self._set("memory.max_entries", size)
        return self._set("memory.max_bytes", max_bytes)

    def with_ai_features(self, **fields: Any) -> CacheConfigBuilder:
        """Enable the AI layer; unset AI values come from the matching ``ai-*`` preset.

        Takes ``ai.*`` keys and the original's option names (``text_size_tiers``,
        ``enable_smart_promotion``; ``hash_algorithm`` only as ``"sha256"``: other hashes
        are a parameter of ``AIResponseCache``, not a setting).
        """
        ai_preset = "ai-production" if self._environment == "production" else "ai-development"
        ai_defaults, _ = read_preset(ai_preset)
        current = self._preset or ""
        if not current.startswith("ai-"):
            for key, value in ai_defaults.get("ai", {}).items():
                self._overrides[f"ai.{key}"] = value
        self._overrides["ai.enabled"] = True
        algorithm = fields.pop("hash_algorithm", None)
        if algorithm not in (None, "sha256"):
            raise CacheConfigError(
                [
                    ConfigProblem(
                        key="ai.hash_algorithm",
                        message="not a setting: pass hash_algorithm to AIResponseCache",
                        value=repr(algorithm),
                    )
                ]
            )
        for key, value in fields.items():
            if key in AI_FIELDS or key == "enable_smart_promotion":
                self._overrides.update(legacy_overrides({key: value}))
            else:
                self._set(f"ai.{key}", value)
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> CacheConfigBuilder:
        """Any keys, nested or dotted (``{"ttl.default": 60}``)."""
        self._overrides.update(overrides)
        return self

    def from_file(self, path: str | Path) -> CacheConfigBuilder:
        """Add a settings file: TOML as a layer (sectioned like settings.toml, or a flat
        table), or the original's JSON (flat names, ``ai_config``) as code overrides."""
        if Path(path).suffix.lower() != ".json":
            self._files = (*self._files, path)
            return self
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CacheConfigError(
                [ConfigProblem(key="file", message=f"cannot read JSON settings: {exc}")]
            ) from None
        if not isinstance(data, dict):
            raise CacheConfigError([ConfigProblem(key="file", message="JSON is not an object")])
        environment, preset = data.pop("environment", None), data.pop("preset", None)
        if environment is not None:
            self.for_environment(str(environment))
        if preset is not None:
            self.with_preset(str(preset))
        self._overrides.update(legacy_overrides(data))
        return self

    def from_environment(
        self, environ: Mapping[str, str] | None = None, *, root: str | Path | None = None
    ) -> CacheConfigBuilder:
        """Read settings.toml, .secrets.toml and ``CACHEKIT_*`` variables beneath the overrides."""
        self._environ = environ_or_process(environ)
        self._root = root
        self._use_files = True
        return self

    def resolve(self) -> ResolvedSettings:
        """The validated config and the source of each leaf."""
        return resolve_settings(
            environ=self._environ,
            environment=self._environment,
            preset=self._preset,
            overrides=self._overrides,
            root=self._root,
            use_files=self._use_files,
            extra_files=self._files,
        )

    def validate(self) -> Problems:
        """Every problem of the configuration so far (empty when it is valid)."""
        try:
            self.resolve()
        except CacheConfigError as exc:
            return Problems(exc.problems)
        return Problems()

    def build(self) -> CacheConfig:
        """The frozen ``CacheConfig``; raises ``CacheConfigError`` listing every problem."""
        return self.resolve().config

    def to_dict(self) -> dict[str, Any]:
        """The built config as a plain dict."""
        return self.build().to_dict()

    def save_to_file(self, file_path: str | Path, create_dirs: bool = True) -> None:
        """Write the settings this builder sets as a JSON file that ``from_file`` reads
        back; secrets (passwords, keys, tokens) are left out: keep them in .secrets.toml."""
        path = Path(file_path)
        if create_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
        given = flatten(msgspec.to_builtins(self._overrides))
        data: dict[str, Any] = {k: v for k, v in given.items() if not is_secret(k)}
        if self._environment is not None:
            data["environment"] = self._environment
        if self._preset is not None:
            data["preset"] = self._preset
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
