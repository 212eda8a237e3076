"""FHIR errors as OperationOutcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Issue:
    severity: str  # fatal | error | warning | information
    code: str  # FHIR issue-type: invalid, structure, required, value, not-found, forbidden, duplicate ...
    diagnostics: str
    expression: list[str] = field(default_factory=list)

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = self.expression
        return issue


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue.as_fhir() for issue in issues]}


class FhirError(Exception):
    """A request that cannot be served; becomes an HTTP 4xx with an OperationOutcome."""

    def __init__(self, status: int, code: str, diagnostics: str, *, expression: list[str] | None = None,
                 issues: list[Issue] | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.issues = issues or [Issue("error", code, diagnostics, expression or [])]


def invalid(diagnostics: str, *, expression: list[str] | None = None) -> FhirError:
    return FhirError(400, "invalid", diagnostics, expression=expression)


def not_found(resource_type: str, resource_id: str) -> FhirError:
    return FhirError(404, "not-found", f"{resource_type}/{resource_id} is not known")
