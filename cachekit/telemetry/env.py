"""The standard ``OTEL_*`` variables, as one immutable view read at the config boundary.

``resolve`` hands the environment mapping in (``OtelEnv.from_environ``); nothing in
telemetry reads ``os.environ`` itself, and nothing reads it at import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final, Literal
from urllib.parse import unquote

from opentelemetry.sdk.trace import sampling

from cachekit.errors import CacheConfigError, ConfigProblem

logger = logging.getLogger("cachekit.telemetry")

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: Final[tuple[Signal, ...]] = ("traces", "metrics", "logs")
EXPORTERS: Final[dict[Signal, tuple[str, ...]]] = {
    "traces": ("otlp", "console", "none"),
    "metrics": ("otlp", "prometheus", "console", "none"),
    "logs": ("otlp", "console", "none"),
}


class OtelEnv:
    """The standard ``OTEL_*`` variables of one environment mapping (values never shown)."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = {
            k: v.strip() for k, v in (values or {}).items() if k.startswith("OTEL_") and v.strip()
        }

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OtelEnv:
        """Keep the ``OTEL_*`` entries of ``environ``; ``CacheConfigError`` naming the
        variable when an ``OTEL_<SIGNAL>_EXPORTER`` names an exporter cachekit lacks."""
        env = cls(environ)
        problems = env.problems()
        if problems:
            raise CacheConfigError(problems)
        return env

    def problems(self) -> list[ConfigProblem]:
        """What is wrong with the exporter variables (``otlp``, ``console``, ``none``, and
        ``prometheus`` for metrics)."""
        found = []
        for signal in SIGNALS:
            name = f"OTEL_{signal.upper()}_EXPORTER"
            raw = self.get(name)
            if raw is None:
                continue
            known = EXPORTERS[signal]
            for entry in (part.strip().lower() for part in raw.split(",")):
                if entry not in known:
                    message = f"unknown exporter; {name} may be {', '.join(known)}"
                    if entry == "prometheus":
                        message = f"prometheus exports metrics only; {name} may be " + ", ".join(
                            known
                        )
                    found.append(ConfigProblem(key=name, message=message, value=repr(entry)))
        return found

    def exporter_set(self, signal: Signal) -> bool:
        """Whether ``OTEL_<SIGNAL>_EXPORTER`` is set."""
        return self.get(f"OTEL_{signal.upper()}_EXPORTER") is not None

    def __repr__(self) -> str:  # header values may hold API keys: names only
        return f"OtelEnv({sorted(self._values)})"

    def get(self, name: str) -> str | None:
        """The value of ``name`` when set and not blank."""
        return self._values.get(name)

    @property
    def sdk_disabled(self) -> bool:
        """``OTEL_SDK_DISABLED=true``: every signal is a no-op."""
        return (self.get("OTEL_SDK_DISABLED") or "").lower() == "true"

    def otlp(self, signal: Signal, name: str) -> str | None:
        """``OTEL_EXPORTER_OTLP_<SIGNAL>_<NAME>``, else ``OTEL_EXPORTER_OTLP_<NAME>``."""
        return self.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{name}") or self.get(
            f"OTEL_EXPORTER_OTLP_{name}"
        )

    def exporter(self, signal: Signal) -> str:
        """``OTEL_<SIGNAL>_EXPORTER`` (first entry): ``otlp`` (default), ``console``,
        ``prometheus`` (metrics) or ``none``."""
        raw = self.get(f"OTEL_{signal.upper()}_EXPORTER") or "otlp"
        return raw.split(",")[0].strip().lower()

    def has_endpoint(self, signal: Signal) -> bool:
        """Whether an OTLP endpoint is configured for ``signal``."""
        return self.otlp(signal, "ENDPOINT") is not None

    def protocol(self, signal: Signal, default: str) -> str:
        """The OTLP protocol of ``signal``: the variables, else ``default``."""
        value = (self.otlp(signal, "PROTOCOL") or default).lower()
        if value not in {"grpc", "http/protobuf"}:
            logger.warning("cachekit: unsupported OTLP protocol %r, using %s", value, default)
            return default
        return value

    def headers(self, signal: Signal) -> dict[str, str]:
        """``key=value,key2=value2`` headers (URL-decoded) of ``signal``'s exporter."""
        out: dict[str, str] = {}
        for item in (self.otlp(signal, "HEADERS") or "").split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                out[unquote(name.strip()).lower()] = unquote(value.strip())
        return out

    def number(self, name: str, default: float) -> float:
        """A positive number variable, or ``default`` when unset or invalid (OTel's rule)."""
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value <= 0:
            logger.warning("cachekit: ignoring invalid %s, using %s", name, default)
            return default
        return value

    def resource_attributes(self) -> dict[str, str]:
        """``OTEL_RESOURCE_ATTRIBUTES`` plus ``service.name`` (``OTEL_SERVICE_NAME`` wins)."""
        attrs: dict[str, str] = {}
        for item in (self.get("OTEL_RESOURCE_ATTRIBUTES") or "").split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                attrs[unquote(name.strip())] = unquote(value.strip())
        service = self.get("OTEL_SERVICE_NAME")
        if service:
            attrs["service.name"] = service
        attrs.setdefault("service.name", "unknown_service")
        return attrs

    def sampler(self) -> sampling.Sampler:
        """The sampler ``OTEL_TRACES_SAMPLER`` (and ``_ARG``) names; parent-based on by default."""
        name = (self.get("OTEL_TRACES_SAMPLER") or "parentbased_always_on").lower()
        ratio = self.number("OTEL_TRACES_SAMPLER_ARG", 1.0)
        ratio = min(ratio, 1.0)
        samplers: dict[str, Callable[[], sampling.Sampler]] = {
            "always_on": lambda: sampling.ALWAYS_ON,
            "always_off": lambda: sampling.ALWAYS_OFF,
            "traceidratio": lambda: sampling.TraceIdRatioBased(ratio),
            "parentbased_always_on": lambda: sampling.ParentBased(sampling.ALWAYS_ON),
            "parentbased_always_off": lambda: sampling.ParentBased(sampling.ALWAYS_OFF),
            "parentbased_traceidratio": lambda: sampling.ParentBased(
                sampling.TraceIdRatioBased(ratio)
            ),
        }
        if name not in samplers:
            logger.warning("cachekit: unknown OTEL_TRACES_SAMPLER %r, using parent-based on", name)
            name = "parentbased_always_on"
        return samplers[name]()
