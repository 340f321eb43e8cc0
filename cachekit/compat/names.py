"""The original's flat parameter names (``redis_url=``, ``l1_cache_size=``, ...) as config keys.

One table (``LEGACY_KEYS``) maps every flat name the original's constructors, factory
and configuration dicts used onto a config key; ``cachekit.compat.params.build_config``
lays them over a preset through the one validation path. Rules the table cannot express:

- AI settings (``operation_ttls``, ``text_hash_threshold``, ``text_size_tiers``,
  ``max_text_length``, an ``ai_config`` table, any ``ai.*`` key) turn the AI layer on,
  or are refused where the cache built is not an AI cache: never accepted and ignored;
- the size of a disabled memory tier (``enable_l1_cache=False, l1_cache_size=0``) is
  not a setting (in cachekit ``memory.max_entries`` also sizes the standby cache used
  during an outage, which keeps the preset's size);
- ``min_tls_version`` may be the original's ``ssl.TLSVersion`` number (771, 772);
- ``enable_smart_promotion=True`` is what cachekit always does; ``False`` is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cachekit.compat.security_config import retry_cap
from cachekit.config.tree import flatten
from cachekit.errors import CacheConfigError, ConfigProblem

# The original's flat parameter names, mapped onto config keys.
LEGACY_KEYS: Final[dict[str, str]] = {
    "redis_url": "redis.url",
    "default_ttl": "ttl.default",
    "enable_l1_cache": "memory.enabled",
    "l1_cache_size": "memory.max_entries",
    "memory_cache_size": "memory.max_entries",
    "compression_threshold": "compression.threshold",
    "compression_level": "compression.level",
    "compression_algorithm": "compression.algorithm",
    "fail_on_connection_error": "redis.fail_on_connection_error",
    "max_connections": "redis.max_connections",
    "connection_timeout": "redis.connect_timeout",
    "socket_timeout": "redis.socket_timeout",
    "max_retries": "redis.retries",
    "retry_delay": "redis.retry_backoff_base",
    "redis_password": "redis.password",
    "redis_auth": "redis.password",
    "acl_username": "redis.username",
    "acl_password": "redis.password",
    "use_tls": "security.use_tls",
    "tls_cert_path": "security.tls_cert_path",
    "tls_key_path": "security.tls_key_path",
    "tls_ca_path": "security.tls_ca_path",
    "verify_certificates": "security.verify_certificates",
    "min_tls_version": "security.min_tls_version",
    "enable_monitoring": "monitoring.enabled",
    "enable_ai_cache": "ai.enabled",
    "text_hash_threshold": "ai.text_hash_threshold",
    "max_text_length": "ai.max_text_length",
    "operation_ttls": "ai.operation_ttls",
    "text_size_tiers": "ai.size_tiers",
}
#: Parameters that shape an object rather than the config.
OBJECT_PARAMS: Final = frozenset({"hash_algorithm", "performance_monitor", "security_config"})
_TLS_NUMBERS: Final = {771: "TLSv1.2", 772: "TLSv1.3"}
#: The original's ``AICacheConfig`` fields (``ai_config``, ``with_ai_features``) as config keys.
AI_FIELDS: Final = {
    "text_hash_threshold": "ai.text_hash_threshold",
    "max_text_length": "ai.max_text_length",
    "operation_ttls": "ai.operation_ttls",
    "text_size_tiers": "ai.size_tiers",
}


def _refuse(key: str, message: str, value: Any = None) -> CacheConfigError:
    shown = None if value is None else repr(value)
    return CacheConfigError([ConfigProblem(key=key, message=message, value=shown)])


def _promotion(value: Any) -> None:
    if value is False:
        raise _refuse(
            "enable_smart_promotion",
            "cachekit always copies Redis hits into the memory tier (with their remaining "
            "TTL); turn the memory tier off instead (enable_l1_cache=False)",
            value,
        )


def _ai_table(table: Any) -> dict[str, Any]:
    """Config keys of the original's ``ai_config`` (a dict or an ``AICacheConfig``)."""
    if table is None:
        return {}
    data = dict(table) if isinstance(table, Mapping) else dict(vars(table))
    out: dict[str, Any] = {"ai.enabled": True}
    for name, value in data.items():
        if name.startswith("_") or value is None:
            continue
        if name == "enable_smart_promotion":
            _promotion(value)
        elif name == "hash_algorithm":
            continue  # an object parameter of the AI cache, checked where it is built
        elif name in AI_FIELDS:
            out[AI_FIELDS[name]] = dict(value) if isinstance(value, Mapping) else value
        else:
            out[f"ai.{name}"] = value  # validation names it, with a did-you-mean
    return out


def legacy_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    """Config overrides from the original's flat parameters (None means "not given")."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or name in OBJECT_PARAMS or name in {"environment", "preset"}:
            continue
        if name == "ai_config":
            out.update(_ai_table(value))
        elif name == "enable_smart_promotion":
            _promotion(value)
        elif name == "cipher_suites":
            raise _refuse(
                "cipher_suites",
                "not supported: cachekit uses the ssl module's ciphers for the minimum TLS "
                "version (set min_tls_version)",
            )
        elif name == "min_tls_version" and isinstance(value, int) and not isinstance(value, bool):
            out["security.min_tls_version"] = _TLS_NUMBERS.get(value, value)
        else:
            target = LEGACY_KEYS.get(name, name)
            out[target] = dict(value) if isinstance(value, Mapping) and "." in target else value
    delay = params.get("retry_delay")
    if delay is not None:
        out["redis.retry_backoff_cap"] = retry_cap(delay, params.get("max_retries"))
    if params.get("memory_cache_size") is not None:  # the AI cache's name wins over l1's
        out["memory.max_entries"] = params["memory_cache_size"]
    if out.get("memory.enabled") is False:
        out.pop("memory.max_entries", None)
    return out


def ai_keys(overrides: Mapping[str, Any]) -> list[str]:
    """The AI settings among ``overrides`` (dotted or nested), ``ai.enabled`` aside."""
    found = []
    for key in flatten(dict(overrides)):
        if key.startswith("ai.") and key != "ai.enabled":
            found.append(key)
    return found
