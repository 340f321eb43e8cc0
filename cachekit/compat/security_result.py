"""``SecurityValidationResult``: the original's verdict on a live Redis connection.

The fields, the 0-100 score and the "secure" rule are the original's. What goes into
them is cachekit's: the connection's own TLS state, the credentials and TLS files as the
connection loads them, and the posture findings (``cachekit.config.posture``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["CRITICAL", "SecurityValidationResult"]

#: Vulnerabilities that make a connection insecure whatever its score.
CRITICAL: Final = (
    "No authentication configured",
    "Unencrypted connection in production",
    "Invalid or expired certificates",
    "Weak cipher suites",
)


@dataclass
class SecurityValidationResult:
    """The security of one connection: what is configured, what was found, a score."""

    is_secure: bool
    auth_configured: bool
    tls_enabled: bool
    acl_enabled: bool
    certificate_valid: bool
    vulnerabilities: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    security_score: int = 0
    detailed_checks: dict[str, Any] = field(default_factory=dict)
    connection_encrypted: bool = False
    auth_method: str | None = None
    tls_version: str | None = None
    cipher_suite: str | None = None
    certificate_expiry_days: int | None = None

    def __post_init__(self) -> None:
        self.score()

    def score(self) -> None:
        """Compute ``security_score`` (unless one was given) and ``is_secure``."""
        if self.security_score == 0:
            points = 0
            if self.auth_configured:
                points += 20 + (10 if self.acl_enabled else 0)
            if self.tls_enabled:
                points += 25 + (10 if self.certificate_valid else 0)
                points += 5 if self.connection_encrypted else 0
            days = self.certificate_expiry_days
            if days is not None:
                points += 15 if days > 90 else 10 if days > 30 else 5 if days > 7 else 0
            points -= min(len(self.vulnerabilities) * 5, 15)
            self.security_score = max(0, min(100, points))
        critical = any(v.startswith(CRITICAL) for v in self.vulnerabilities)
        self.is_secure = self.security_score >= 70 and not critical

    def get_security_summary(self) -> str:
        """Status, score, level, vulnerabilities and recommendations as text."""
        status = "SECURE" if self.is_secure else "INSECURE"
        score = self.security_score
        level = "HIGH" if score >= 80 else "MEDIUM" if score >= 60 else "LOW"
        lines = [f"Security Status: {status} (Score: {score}/100, Level: {level})"]
        if self.vulnerabilities:
            lines += ["", f"Vulnerabilities ({len(self.vulnerabilities)}):"]
            lines += [f"  - {v}" for v in self.vulnerabilities]
        if self.recommendations:
            lines += ["", f"Recommendations ({len(self.recommendations)}):"]
            lines += [f"  - {r}" for r in self.recommendations]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (no secrets: the result never holds any)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
