"""``ValidationResult``: what the original's ``validate()`` methods return.

One class for both of the original's results (``parameter_mapping.ValidationResult``
and ``config.ValidationResult``, exported as ``ConfigValidationResult``): valid unless
``errors``; warnings, advice, parameter conflicts and the parameter split on the side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ValidationResult"]


@dataclass
class ValidationResult:
    """Outcome of a validation: valid unless ``errors``; warnings and advice on the side."""

    is_valid: bool = True
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    parameter_conflicts: dict[str, str] = field(default_factory=dict)
    ai_specific_params: set[str] = field(default_factory=set)
    generic_params: set[str] = field(default_factory=set)
    context: dict[str, Any] = field(default_factory=dict)

    def add_error(self, message: str) -> None:
        """Record an error; the result is no longer valid."""
        self.errors.append(message)
        self.is_valid = False

    def add_warning(self, message: str) -> None:
        """Record a problem that does not stop the cache from working."""
        self.warnings.append(message)

    def add_recommendation(self, message: str) -> None:
        """Record a suggestion."""
        self.recommendations.append(message)

    def add_conflict(self, parameter: str, description: str) -> None:
        """Record two parameters that contradict each other (an error)."""
        self.parameter_conflicts[parameter] = description
        self.add_error(f"parameter conflict for {parameter!r}: {description}")
