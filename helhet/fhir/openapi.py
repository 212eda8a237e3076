"""OpenAPI 3.1 description of the FHIR API, generated from the handler registry.

Every registered ``ResourceHandler`` appears with the interactions it implements (read,
search-type, create, operations) and its search parameters, so a new resource type in
any app's ``fhir_resources.py`` is described without touching this file. Resource
schemas are the top-level element lists of the fhir.resources R4B models (property
names, types where primitive, descriptions); nested elements are left open.
Published at ``GET /fhir/openapi.json``.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from helhet.fhir.registry import BUNDLE_PROCESSOR, HANDLERS, ResourceHandler

FHIR_JSON = "application/fhir+json"
_SCHEMA_KEYS = ("type", "items", "anyOf", "pattern", "minLength", "maxLength", "enum", "const", "format",
                "description", "title", "minimum", "maximum")
_PARAM_DESCRIPTIONS = {
    "token": "FHIR token search: `system|code`, `|code` or `code`",
    "reference": "FHIR reference: `Type/id` or `id`",
    "date": "FHIR date search: `YYYY-MM-DD`, optionally prefixed with eq, ne, gt, lt, ge, le; repeat for a range",
    "string": "FHIR string search (case-insensitive, contains)",
    "uri": "canonical URL (a `|version` suffix is ignored)",
    "number": "number",
    "quantity": "FHIR quantity search",
}


def _clean(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _clean(v) for k, v in schema.items() if k in _SCHEMA_KEYS}
    if isinstance(schema, list):
        return [_clean(v) for v in schema]
    return schema


@cache
def resource_schema(resource_type: str) -> dict[str, Any]:
    """The top level of the R4B model of a resource type as JSON Schema (open where nested)."""
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
        model = getattr(module, resource_type)
        raw = model.model_json_schema()
    except (ImportError, AttributeError, TypeError, ValueError):
        return {"type": "object", "required": ["resourceType"],
                "properties": {"resourceType": {"const": resource_type}}}
    properties = {
        name: _clean(value) for name, value in raw.get("properties", {}).items()
        if name != "fhir_comments" and not name.endswith("__ext")
    }
    properties["resourceType"] = {"const": resource_type}
    return {"type": "object", "description": _clean(raw.get("description", "")).split("\n\n", 1)[-1],
            "required": ["resourceType"], "properties": properties}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(schema_name: str) -> dict[str, Any]:
    return {FHIR_JSON: {"schema": _ref(schema_name)}, "application/json": {"schema": _ref(schema_name)}}


def _errors(*codes: int) -> dict[str, Any]:
    meanings = {400: "invalid request (OperationOutcome names the problem)", 401: "missing or invalid Bearer token",
                403: "no care relationship with the person, or the role does not allow it (audited)",
                404: "not found", 405: "interaction not supported", 409: "duplicate (same identifier)",
                413: "body too large", 422: "well-formed but cannot be processed (unknown codes, values out of range)",
                500: "internal error (logged), as an OperationOutcome"}
    return {str(code): {"description": meanings[code], "content": _content("OperationOutcome")} for code in codes}


def _search_parameters(handler: ResourceHandler) -> list[dict[str, Any]]:
    parameters = []
    for name, kind in handler.search_params.items():
        parameters.append({
            "name": name, "in": "query", "required": False, "description": _PARAM_DESCRIPTIONS.get(kind, kind),
            "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": True,
        })
    parameters.append({"name": "_count", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 500},
                       "description": "page size (default 50, at most 500)"})
    parameters.append({"name": "_offset", "in": "query", "schema": {"type": "integer", "minimum": 0},
                       "description": "index of the first match to return"})
    return parameters


def _paths_for(resource_type: str, handler: ResourceHandler) -> dict[str, Any]:
    interactions = handler.interactions()
    paths: dict[str, Any] = {}
    type_path: dict[str, Any] = {}
    tag = [resource_type]
    if "search-type" in interactions:
        type_path["get"] = {
            "tags": tag, "operationId": f"search{resource_type}", "summary": f"Search {resource_type}",
            "parameters": _search_parameters(handler),
            "responses": {"200": {"description": "searchset Bundle", "content": _content("Bundle")},
                          **_errors(400, 401, 403, 500)},
        }
    if "create" in interactions:
        type_path["post"] = {
            "tags": tag, "operationId": f"create{resource_type}", "summary": f"Create {resource_type}",
            "requestBody": {"required": True, "content": _content(resource_type)},
            "responses": {
                "201": {"description": f"created; Location header names the new {resource_type}. The body is the "
                                       "stored resource, or a collection Bundle with it, the resources derived from "
                                       "it and an OperationOutcome with warnings",
                        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                        "content": {FHIR_JSON: {"schema": {"oneOf": [_ref(resource_type), _ref("Bundle")]}}}},
                **_errors(400, 401, 403, 409, 413, 422, 500),
            },
        }
    if type_path:
        paths[f"/{resource_type}"] = type_path
    if "read" in interactions:
        paths[f"/{resource_type}/{{id}}"] = {"get": {
            "tags": tag, "operationId": f"read{resource_type}", "summary": f"Read {resource_type}",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9\\-.]{1,64}$"}}],
            "responses": {"200": {"description": resource_type, "content": _content(resource_type)},
                          **_errors(401, 403, 404, 500)},
        }}
    if type(handler).operation is not ResourceHandler.operation:
        paths[f"/{resource_type}/${{operation}}"] = {"post": {
            "tags": tag, "operationId": f"operation{resource_type}", "summary": f"Operations on {resource_type}",
            "parameters": [{"name": "operation", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[a-z][a-z-]*$"}}],
            "requestBody": {"required": False, "content": _content("Parameters")},
            "responses": {"200": {"description": "operation result", "content": _content("Resource")},
                          **_errors(400, 401, 403, 404, 500)},
        }}
    return paths


def openapi_document(server_url: str = "/fhir") -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/metadata": {"get": {
            "tags": ["CapabilityStatement"], "operationId": "capabilities", "security": [],
            "summary": "CapabilityStatement: the resource types, interactions and search parameters supported",
            "responses": {"200": {"description": "CapabilityStatement", "content": _content("CapabilityStatement")}},
        }},
    }
    if BUNDLE_PROCESSOR:
        paths["/"] = {"post": {
            "tags": ["Bundle"], "operationId": "transaction", "summary": "Process a transaction Bundle",
            "requestBody": {"required": True, "content": _content("Bundle")},
            "responses": {"200": {"description": "transaction-response Bundle", "content": _content("Bundle")},
                          **_errors(400, 401, 403, 422, 500)},
        }}
    schema_names = {"Bundle", "OperationOutcome", "CapabilityStatement", "Parameters"}
    for resource_type, handler in sorted(HANDLERS.items()):
        paths.update(_paths_for(resource_type, handler))
        schema_names.add(resource_type)
    schemas: dict[str, Any] = {name: resource_schema(name) for name in sorted(schema_names)}
    schemas["Resource"] = {"type": "object", "required": ["resourceType"],
                           "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Helhet FHIR R4 API",
            "version": "0.1.0",
            "description": "FHIR R4 (4.0.1) REST API. Every request needs a Bearer token issued to a client system "
                           "(`helhet apiclient`); access to a person's data follows the same care-relationship "
                           "rules as the user interface and is audited. Errors are OperationOutcome resources.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "tags": [{"name": name} for name in sorted(HANDLERS)],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "token issued with `helhet apiclient`"}},
            "schemas": schemas,
        },
    }


@require_GET
def openapi_view(request: HttpRequest) -> HttpResponse:
    import json

    document = openapi_document(request.build_absolute_uri("/fhir/").rstrip("/"))
    return HttpResponse(json.dumps(document, ensure_ascii=False), content_type="application/json")
