"""CarePlan is served by two apps (individual plan, recovery plan): the registry dispatches by category and id."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from helhet.fhir import registry
from helhet.fhir.errors import not_found
from helhet.fhir.models import ApiClient
from helhet.recovery import services
from helhet.recovery.fhir_resources import CAREPLAN_CATEGORY_SYSTEM, RecoveryCarePlanHandler


class FakeIndividualPlanHandler(registry.ResourceHandler):
    """Stands in for the pathways app's CarePlan (no category/prefix: it takes what no other handler claims)."""

    resource_type = "CarePlan"
    search_params = {"patient": "reference"}
    created: list[dict[str, Any]] = []

    def read(self, ctx: registry.FhirContext, resource_id: str) -> dict[str, Any]:
        if resource_id != "ip-1":
            raise not_found("CarePlan", resource_id)
        return {"resourceType": "CarePlan", "id": "ip-1", "status": "active", "intent": "plan",
                "subject": {"reference": "Patient/x"}}

    def search(self, ctx: registry.FhirContext, params: dict[str, list[str]], *, offset: int,
               count: int) -> registry.SearchResult:
        assert "category" not in params  # stripped: this handler does not declare it
        items = [self.read(ctx, "ip-1")]
        return registry.SearchResult(items[offset: offset + count], len(items))

    def create(self, ctx: registry.FhirContext, resource: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        self.created.append(resource)
        return {**resource, "id": "ip-2"}, []


@pytest.fixture
def shared():
    saved = dict(registry.HANDLERS)
    # A registry where CarePlan has exactly the recovery handler and the stand-in (whatever else is installed).
    registry.HANDLERS.pop("CarePlan", None)
    registry.register(RecoveryCarePlanHandler)
    registry.register(FakeIndividualPlanHandler)
    yield registry.HANDLERS["CarePlan"]
    registry.HANDLERS.clear()
    registry.HANDLERS.update(saved)


def _api(user):
    _client, token = ApiClient.issue(name="shared", user=user)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_registering_a_second_handler_makes_a_dispatcher(shared):
    assert isinstance(shared, registry.SharedTypeHandler)
    assert {type(h) for h in shared.handlers} == {RecoveryCarePlanHandler, FakeIndividualPlanHandler}
    assert "category" in shared.search_params and "status" in shared.search_params


def test_read_create_and_search_go_to_the_right_handler(world, shared):
    plan = services.create_plan(user=world.clinician, person=world.person, created_on=dt.date.today())
    client = _api(world.clinician)
    assert client.get(f"/fhir/CarePlan/recovery-{plan.pk}").json()["id"] == f"recovery-{plan.pk}"
    assert client.get("/fhir/CarePlan/ip-1").json()["id"] == "ip-1"
    assert client.get("/fhir/CarePlan/ip-9").status_code == 404
    both = client.get("/fhir/CarePlan", {"patient": world.person.pid}).json()
    assert both["total"] == 2
    assert [e["resource"]["id"] for e in both["entry"]] == [f"recovery-{plan.pk}", "ip-1"]
    second_page = client.get("/fhir/CarePlan", {"patient": world.person.pid, "_count": 1, "_offset": 1}).json()
    assert [e["resource"]["id"] for e in second_page["entry"]] == ["ip-1"]
    recovery_only = client.get("/fhir/CarePlan", {"patient": world.person.pid,
                                                  "category": f"{CAREPLAN_CATEGORY_SYSTEM}|recovery-plan"}).json()
    assert [e["resource"]["id"] for e in recovery_only["entry"]] == [f"recovery-{plan.pk}"]
    body = {"resourceType": "CarePlan", "status": "active", "intent": "plan",
            "category": [{"coding": [{"code": "individual-plan"}]}], "subject": {"reference": "Patient/x"}}
    response = client.post("/fhir/CarePlan", json.dumps(body), content_type="application/fhir+json")
    assert response.status_code == 201 and response.json()["id"] == "ip-2"
    assert FakeIndividualPlanHandler.created[-1]["category"][0]["coding"][0]["code"] == "individual-plan"
