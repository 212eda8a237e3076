"""GET /fhir/openapi.json: the OpenAPI description generated from the FHIR handler registry."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from helhet.fhir.openapi import openapi_document
from helhet.fhir.registry import HANDLERS, FhirContext, ResourceHandler, SearchResult

pytestmark = pytest.mark.django_db
METHODS = {"get", "post", "put", "delete", "patch"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_served_and_consistent_with_the_capability_statement():
    response = Client().get("/fhir/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1") and document["servers"][0]["url"].endswith("/fhir")
    statement = Client().get("/fhir/metadata").json()
    for resource in statement["rest"][0]["resource"]:
        kind = resource["type"]
        codes = {i["code"] for i in resource["interaction"]}
        assert ("get" in document["paths"].get(f"/{kind}", {})) == ("search-type" in codes), kind
        assert ("post" in document["paths"].get(f"/{kind}", {})) == ("create" in codes), kind
        assert (f"/{kind}/{{id}}" in document["paths"]) == ("read" in codes), kind
        if "search-type" in codes:
            names = {p["name"] for p in document["paths"][f"/{kind}"]["get"]["parameters"]}
            assert {p["name"] for p in resource["searchParam"]} <= names


def test_structure_is_well_formed():
    document = openapi_document()
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    operation_ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in METHODS
            assert operation["responses"], (path, method)
            operation_ids.append(operation["operationId"])
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in ("query", "path") and "schema" in parameter
                if parameter["in"] == "path":
                    assert parameter["required"] and "{" + parameter["name"] + "}" in path
    assert len(operation_ids) == len(set(operation_ids))
    qr = schemas["QuestionnaireResponse"]
    assert {"questionnaire", "subject", "authored", "item", "identifier"} <= set(qr["properties"])
    assert qr["properties"]["resourceType"] == {"const": "QuestionnaireResponse"}
    create = document["paths"]["/QuestionnaireResponse"]["post"]["responses"]
    assert {"201", "400", "403", "409", "422"} <= set(create)


def test_a_newly_registered_handler_appears_without_editing_openapi():
    class ThingHandler(ResourceHandler):
        resource_type = "Device"
        search_params = {"serial": "string"}

        def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int,
                   count: int) -> SearchResult:
            return SearchResult([], 0)

    HANDLERS["Device"] = ThingHandler()
    try:
        document = openapi_document()
    finally:
        del HANDLERS["Device"]
    assert "get" in document["paths"]["/Device"] and "/Device/{id}" not in document["paths"]
    assert [p["name"] for p in document["paths"]["/Device"]["get"]["parameters"]][0] == "serial"
    assert "Device" in document["components"]["schemas"]
