"""FHIR R4 Goal and CarePlan (category recovery plan): read, search, create; checks, refusals, audit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.goal import Goal as FhirGoal

from helhet.audit.models import AuditEntry
from helhet.fhir.models import ApiClient
from helhet.fhir.registry import HANDLERS, SharedTypeHandler
from helhet.recovery import services
from helhet.recovery.fhir_resources import (
    CAREPLAN_CATEGORY_SYSTEM,
    EXT_BASELINE,
    EXT_LEVEL,
    EXT_WEIGHT,
    LIFE_AREA_SYSTEM,
)
from helhet.recovery.models import Goal, GoalStatus, Proposal, RecoveryPlan

TODAY = dt.date.today()


def _api(user) -> Client:
    _client, token = ApiClient.issue(name=f"api-{user.username}", user=user)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _post(client, resource_type, body):
    return client.post(f"/fhir/{resource_type}", json.dumps(body), content_type="application/fhir+json")


def _goal_body(pid, **extra):
    body = {
        "resourceType": "Goal", "lifecycleStatus": "active",
        "description": {"text": "Flytte i egen leilighet"},
        "category": [{"coding": [{"system": LIFE_AREA_SYSTEM, "code": "housing"}]}],
        "subject": {"reference": f"Patient/{pid}"},
        "target": [{"dueDate": (TODAY + dt.timedelta(days=90)).isoformat()}],
        "extension": [
            {"url": EXT_LEVEL, "extension": [{"url": "score", "valueInteger": 0},
                                             {"url": "description", "valueString": "Har leiekontrakt"}]},
            {"url": EXT_WEIGHT, "valueDecimal": 2},
            {"url": EXT_BASELINE, "valueInteger": -2},
        ],
    }
    body.update(extra)
    return body


@pytest.fixture
def plan(world):
    plan = services.create_plan(user=world.clinician, person=world.person, created_on=TODAY - dt.timedelta(days=20))
    goal = services.add_goal(user=world.clinician, person=world.person, plan=plan,
                             data={"text": "Jobbe", "life_area": "work", "staff_note": "STAFFNOTE",
                                   "level_expected": "To dager i uka"})
    services.record_review(user=world.clinician, person=world.person, plan=plan, reviewed_on=TODAY,
                           ratings={goal.pk: 1})
    return plan


def test_goal_read_maps_achievement_status_from_the_gas_rating(world, plan):
    goal = plan.goals.get()
    response = _api(world.clinician).get(f"/fhir/Goal/{goal.pk}")
    assert response.status_code == 200
    body = response.json()
    FhirGoal.model_validate(body)
    assert body["achievementStatus"]["coding"][0]["code"] == "achieved"  # +1 from baseline -1
    assert body["lifecycleStatus"] == "active" and body["subject"]["reference"] == f"Patient/{world.person.pid}"
    assert "STAFFNOTE" not in response.content.decode()
    levels = [e for e in body["extension"] if e["url"] == EXT_LEVEL]
    assert levels[0]["extension"][1]["valueString"] == "To dager i uka"
    entry = AuditEntry.objects.filter(person_pid=world.person.pid, resource=f"Goal/{goal.pk}").latest("seq")
    assert entry.channel == "fhir" and entry.outcome == "allowed"


def test_care_plan_read_and_search_by_category(world, plan):
    client = _api(world.clinician)
    response = client.get(f"/fhir/CarePlan/recovery-{plan.pk}")
    assert response.status_code == 200
    body = response.json()
    CarePlan.model_validate(body)
    assert body["category"][0]["coding"][0]["code"] == "recovery-plan"
    assert body["goal"] == [{"reference": f"Goal/{plan.goals.get().pk}"}]
    t_score = body["extension"][0]["extension"][0]["valueDecimal"]
    assert t_score == pytest.approx(60.0)
    found = client.get("/fhir/CarePlan", {"patient": f"Patient/{world.person.pid}",
                                          "category": f"{CAREPLAN_CATEGORY_SYSTEM}|recovery-plan"}).json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["id"] == f"recovery-{plan.pk}"
    assert client.get("/fhir/CarePlan", {"category": "individual-plan-of-someone-else",
                                         "patient": world.person.pid}).json()["total"] == 0


def test_goal_search_lists_only_visible_persons_and_is_audited(world, plan):
    services.add_goal(user=world.other_user, person=world.other, plan=None,
                      data={"text": "Olas mål", "life_area": "network"})
    own = _api(world.service_user).get("/fhir/Goal").json()
    assert [e["resource"]["description"]["text"] for e in own["entry"]] == ["Jobbe"]
    staff = _api(world.clinician).get("/fhir/Goal", {"lifecycle-status": "proposed"}).json()
    assert [e["resource"]["description"]["text"] for e in staff["entry"]] == ["Olas mål"]
    assert AuditEntry.objects.filter(resource="Goal search", action="list").exists()


def test_clinician_creates_a_goal_through_the_api(world, plan):
    response = _post(_api(world.clinician), "Goal", _goal_body(world.person.pid))
    assert response.status_code == 201, response.content
    goal = Goal.objects.get(pk=int(response.json()["id"]))
    assert (goal.plan, goal.weight, goal.baseline, goal.level_expected, goal.by_person) == (
        plan, 2.0, -2, "Har leiekontrakt", False)
    assert response["Location"].endswith(f"/fhir/Goal/{goal.pk}")


def test_the_persons_goal_through_the_api_is_a_proposal(world, plan):
    response = _post(_api(world.service_user), "Goal", _goal_body(world.person.pid, lifecycleStatus="proposed"))
    assert response.status_code == 201, response.content
    goal = Goal.objects.get(pk=int(response.json()["id"]))
    assert (goal.by_person, goal.proposal, goal.status) == (True, Proposal.PENDING, GoalStatus.PROPOSED)
    assert response.json()["expressedBy"] == {"reference": f"Patient/{world.person.pid}"}


@pytest.mark.parametrize("change,code,status", [
    ({"extension": [{"url": EXT_WEIGHT, "valueDecimal": 0}]}, "invalid", 400),
    ({"extension": [{"url": EXT_WEIGHT, "valueDecimal": -2}]}, "invalid", 400),
    ({"extension": [{"url": EXT_LEVEL, "extension": [{"url": "score", "valueInteger": 3}]}]}, "invalid", 400),
    ({"extension": [{"url": EXT_BASELINE, "valueInteger": 1}]}, "invalid", 400),
    ({"category": [{"coding": [{"system": LIFE_AREA_SYSTEM, "code": "moon"}]}]}, "invalid", 400),
    ({"lifecycleStatus": "completed"}, "invalid", 400),
    ({"lifecycleStatus": "not-a-status"}, "invalid", 400),
    ({"description": "not an object"}, "structure", 400),
    ({"subject": {"reference": "Group/1"}}, "required", 400),
])
def test_bad_goals_are_refused_with_an_operation_outcome(world, plan, change, code, status):
    before = Goal.objects.count()
    response = _post(_api(world.clinician), "Goal", _goal_body(world.person.pid, **change))
    assert response.status_code == status, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == code
    assert Goal.objects.count() == before


def test_refusals_through_the_api_are_audited(world, plan):
    client = _api(world.service_user)
    response = _post(client, "Goal", _goal_body(world.person.pid, lifecycleStatus="active"))
    assert response.status_code == 403 and response.json()["issue"][0]["code"] == "forbidden"
    response = _post(client, "Goal", _goal_body(world.person.pid, lifecycleStatus="proposed",
                                                extension=[{"url": EXT_WEIGHT, "valueDecimal": 0}]))
    assert response.status_code == 400
    denied = AuditEntry.objects.filter(person_pid=world.person.pid, outcome="denied", channel="fhir")
    assert denied.count() == 2


def test_nobody_reads_or_writes_another_persons_plan_through_the_api(world, plan):
    goal = plan.goals.get()
    client = _api(world.other_user)
    assert client.get(f"/fhir/Goal/{goal.pk}").status_code == 403
    assert client.get(f"/fhir/CarePlan/recovery-{plan.pk}").status_code == 403
    before = Goal.objects.count()
    assert _post(client, "Goal", _goal_body(world.person.pid, lifecycleStatus="proposed")).status_code == 403
    assert Goal.objects.count() == before
    assert client.get("/fhir/Goal", {"patient": world.person.pid}).json()["total"] == 0
    assert AuditEntry.objects.filter(person_pid=world.person.pid, outcome="denied").count() == 3


def test_care_plan_create_and_refusals(world):
    client = _api(world.clinician)
    body = {"resourceType": "CarePlan", "status": "active", "intent": "plan",
            "category": [{"coding": [{"system": CAREPLAN_CATEGORY_SYSTEM, "code": "recovery-plan"}]}],
            "subject": {"reference": f"Patient/{world.person.pid}"}, "created": TODAY.isoformat()}
    response = _post(client, "CarePlan", body)
    assert response.status_code == 201, response.content
    assert response.json()["id"].startswith("recovery-")
    assert RecoveryPlan.objects.filter(person=world.person).count() == 1
    again = _post(client, "CarePlan", body)  # one active recovery plan per person
    assert again.status_code == 400 and RecoveryPlan.objects.count() == 1
    future = _post(client, "CarePlan", {**body, "created": (TODAY + dt.timedelta(days=3)).isoformat()})
    assert future.status_code == 400
    by_person = _post(_api(world.service_user), "CarePlan", body)
    assert by_person.status_code == 403


def test_goal_achievement_in_progress_before_a_review(world):
    plan = services.create_plan(user=world.clinician, person=world.person)
    goal = services.add_goal(user=world.clinician, person=world.person, plan=plan,
                             data={"text": "Ny", "life_area": "finances"})
    body = _api(world.clinician).get(f"/fhir/Goal/{goal.pk}").json()
    assert body["achievementStatus"]["coding"][0]["code"] == "in-progress"


def test_care_plan_is_in_the_capability_statement():
    statement = Client().get("/fhir/metadata").json()
    types = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"Goal", "CarePlan"} <= set(types)
    assert {"read", "search-type", "create"} <= {i["code"] for i in types["Goal"]["interaction"]}
    assert "category" in {p["name"] for p in types["CarePlan"]["searchParam"]}
    handler = HANDLERS["CarePlan"]
    if isinstance(handler, SharedTypeHandler):  # the individual plan's CarePlan is served too
        assert any(h.category == "recovery-plan" for h in handler.handlers)


def test_care_plan_is_part_of_the_individual_plan(world):
    from helhet.pathways.models import IndividualPlan
    from helhet.pathways.models import PlanStatus as IPStatus

    ip = IndividualPlan.objects.create(person=world.person, status=IPStatus.ACTIVE, status_date=TODAY)
    plan = services.create_plan(user=world.clinician, person=world.person)
    client = _api(world.clinician)
    body = client.get(f"/fhir/CarePlan/recovery-{plan.pk}").json()
    assert body["partOf"][0]["reference"] == f"CarePlan/{ip.pk}"
    linked = client.get(f"/fhir/{body['partOf'][0]['reference']}")
    if linked.status_code == 200:  # the individual plan's CarePlan is served by the pathways app
        assert linked.json()["category"][0]["coding"][0]["code"] == "individual-plan"
