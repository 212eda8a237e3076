"""FHIR resource handlers, registered by the domain apps in their `fhir_resources.py`.

A handler subclasses `ResourceHandler`, sets `resource_type` and `search_params`,
implements what it supports (`read`, `search`, `create`) and is registered with
`@register`. Each method receives a `FhirContext` (the calling user, for access
checks through `helhet.accounts.access`) and returns FHIR JSON as dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db.models import QuerySet

from helhet.accounts.models import User
from helhet.fhir.errors import FhirError


@dataclass
class FhirContext:
    user: User
    base_url: str
    channel: str = "fhir"
    warnings: list[Any] = field(default_factory=list)  # errors.Issue of severity warning, reported back


@dataclass
class SearchResult:
    resources: list[dict[str, Any]]
    total: int


class ResourceHandler:
    resource_type: ClassVar[str] = ""
    # name -> FHIR search param type (token, reference, date, string, uri)
    search_params: ClassVar[dict[str, str]] = {}
    profile: ClassVar[str | None] = None

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        raise FhirError(405, "not-supported", f"read is not supported for {self.resource_type}")

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        raise FhirError(405, "not-supported", f"search is not supported for {self.resource_type}")

    def create(self, ctx: FhirContext, resource: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Store the resource; return (stored resource, extra resources to report, e.g. derived Observations)."""
        raise FhirError(405, "not-supported", f"create is not supported for {self.resource_type}")

    def operation(self, ctx: FhirContext, name: str, params: dict[str, list[str]],
                  body: dict[str, Any] | None) -> dict[str, Any]:
        raise FhirError(404, "not-supported", f"operation ${name} is not supported for {self.resource_type}")

    @classmethod
    def interactions(cls) -> list[str]:
        supported = []
        for name in ("read", "search", "create"):
            if getattr(cls, name) is not getattr(ResourceHandler, name):
                supported.append("search-type" if name == "search" else name)
        return supported


HANDLERS: dict[str, ResourceHandler] = {}
# A processor for POST /fhir (transaction bundles), set by the app that owns bulk exchange.
BUNDLE_PROCESSOR: list[Any] = []


def register(cls: type[ResourceHandler]) -> type[ResourceHandler]:
    if not cls.resource_type:
        raise ValueError(f"{cls.__name__} has no resource_type")
    HANDLERS[cls.resource_type] = cls()
    return cls


def paginate(queryset: QuerySet[Any], *, offset: int, count: int) -> tuple[list[Any], int]:
    total = queryset.count()
    return list(queryset[offset: offset + count]), total
