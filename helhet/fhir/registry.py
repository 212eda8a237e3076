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
    # When several apps serve one resource type (CarePlan: the individual plan and the recovery plan), each
    # handler names the category code its resources carry and the prefix of its ids; `register` then puts a
    # `SharedTypeHandler` in front that dispatches by them. A handler without them takes what no other claims.
    category: ClassVar[str] = ""
    id_prefix: ClassVar[str] = ""

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


def _category_codes(values: list[str]) -> set[str]:
    """Token search values or codings ("system|code", "code", comma-separated ORs) as bare codes."""
    return {value.rpartition("|")[2] for raw in values for value in raw.split(",") if value}


class SharedTypeHandler(ResourceHandler):
    """One resource type served by several handlers, dispatched by category (create, search) and id prefix (read)."""

    handlers: ClassVar[list[ResourceHandler]] = []

    @classmethod
    def interactions(cls) -> list[str]:
        return sorted({name for handler in cls.handlers for name in handler.interactions()})

    def _by_id(self, resource_id: str) -> ResourceHandler:
        for handler in self.handlers:
            if handler.id_prefix and resource_id.startswith(handler.id_prefix):
                return handler
        for handler in self.handlers:
            if not handler.id_prefix:
                return handler
        raise FhirError(404, "not-found", f"{self.resource_type}/{resource_id} is not known")

    def _by_category(self, codes: set[str]) -> list[ResourceHandler]:
        chosen = [h for h in self.handlers if h.category and h.category in codes]
        return chosen or [h for h in self.handlers if not h.category]

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        return self._by_id(resource_id).read(ctx, resource_id)

    def create(self, ctx: FhirContext, resource: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        codes = {str(coding.get("code", "")) for concept in resource.get("category") or [] if isinstance(concept, dict)
                 for coding in concept.get("coding") or [] if isinstance(coding, dict)}
        chosen = self._by_category(codes)
        if not chosen:
            known = ", ".join(h.category for h in self.handlers if h.category)
            raise FhirError(400, "invalid", f"{self.resource_type}.category must carry one of: {known}",
                            expression=[f"{self.resource_type}.category"])
        return chosen[0].create(ctx, resource)

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        if "category" in params:
            chosen = self._by_category(_category_codes(params["category"]))
        else:
            chosen = list(self.handlers)
        # One page across the handlers in turn: each handler's total first, then the slice that falls in it.
        resources: list[dict[str, Any]] = []
        total = 0
        for handler in chosen:
            own = {k: v for k, v in params.items() if k != "category" or "category" in handler.search_params}
            handler_total = handler.search(ctx, own, offset=0, count=0).total
            start = max(0, offset - total)
            wanted = count - len(resources)
            if wanted > 0 and start < handler_total:
                resources += handler.search(ctx, own, offset=start, count=wanted).resources
            total += handler_total
        return SearchResult(resources, total)


HANDLERS: dict[str, ResourceHandler] = {}
# A processor for POST /fhir (transaction bundles), set by the app that owns bulk exchange.
BUNDLE_PROCESSOR: list[Any] = []


def register(cls: type[ResourceHandler]) -> type[ResourceHandler]:
    if not cls.resource_type:
        raise ValueError(f"{cls.__name__} has no resource_type")
    existing = HANDLERS.get(cls.resource_type)
    if existing is None or type(existing) is cls:
        HANDLERS[cls.resource_type] = cls()
        return cls
    # A second handler for the type: dispatch between them (see ResourceHandler.category / id_prefix).
    handlers = [*existing.handlers] if isinstance(existing, SharedTypeHandler) else [existing]
    handlers = [h for h in handlers if type(h) is not cls] + [cls()]
    params: dict[str, str] = {"category": "token"}
    for handler in handlers:
        params.update(handler.search_params)
    shared = type(f"Shared{cls.resource_type}Handler", (SharedTypeHandler,),
                  {"resource_type": cls.resource_type, "search_params": params, "handlers": handlers})
    HANDLERS[cls.resource_type] = shared()
    return cls


def paginate(queryset: QuerySet[Any], *, offset: int, count: int) -> tuple[list[Any], int]:
    total = queryset.count()
    return list(queryset[offset: offset + count]), total
