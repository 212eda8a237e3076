"""FHIR EpisodeOfCare, ServiceRequest, Encounter, CarePlan, CareTeam: create, read, search, validation, access."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.encounter import Encounter as EncounterModel
from fhir.resources.R4B.episodeofcare import EpisodeOfCare as EpisodeOfCareModel
from fhir.resources.R4B.servicerequest import ServiceRequest

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.fhir.models import ApiClient
from helhet.organisations.models import UnitKind
from helhet.pathways.models import Coordinator, Encounter, EpisodeOfCare, IndividualPlan, Referral

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()
UNIT = "urn:helhet:unit"
R4B: dict[str, Any] = {"EpisodeOfCare": EpisodeOfCareModel, "ServiceRequest": ServiceRequest, "Encounter": EncounterModel,
       "CarePlan": CarePlan, "CareTeam": CareTeam}


def day(days_ago: int) -> str:
    return (TODAY - dt.timedelta(days=days_ago)).isoformat()


def unit(code: str) -> dict[str, Any]:
    return {"identifier": {"system": UNIT, "value": code}}


@pytest.fixture
def fhir_world(builders: Any) -> SimpleNamespace:
    dps = builders.make_unit(UnitKind.DPS, code="dps-f")
    ward = builders.make_unit(UnitKind.WARD, code="ward-f", inpatient=True)
    tsb = builders.make_unit(UnitKind.TSB, code="tsb-f")
    clinician = builders.make_user(Role.CLINICIAN, units=[dps, ward])
    person = builders.make_person(family_name="Forløpsen")
    builders.make_episode(person, dps, start=TODAY - dt.timedelta(days=300))
    stranger = builders.make_person(family_name="Utenforsen")
    builders.make_episode(stranger, tsb)
    _c, token = ApiClient.issue(name="ehr-f", user=clinician)
    return SimpleNamespace(dps=dps, ward=ward, tsb=tsb, person=person, stranger=stranger,
                           api=Client(HTTP_AUTHORIZATION=f"Bearer {token}"))


def post(world: SimpleNamespace, resource: dict[str, Any]) -> Any:
    return world.api.post(f"/fhir/{resource['resourceType']}", data=resource, content_type="application/fhir+json")


def resources(world: SimpleNamespace, pid: str) -> dict[str, dict[str, Any]]:
    patient = {"reference": f"Patient/{pid}"}
    return {
        "EpisodeOfCare": {"resourceType": "EpisodeOfCare", "identifier": [{"system": "urn:x", "value": "eoc-1"}],
                          "status": "finished", "patient": patient, "managingOrganization": unit("ward-f"),
                          "period": {"start": day(90), "end": day(60)}},
        "ServiceRequest": {"resourceType": "ServiceRequest", "identifier": [{"system": "urn:x", "value": "ref-1"}],
                           "status": "revoked", "intent": "order", "subject": patient, "authoredOn": day(40),
                           "requester": unit("dps-f"), "performer": [unit("tsb-f")],
                           "code": {"coding": [{"system": "urn:helhet:pathway-type", "code": "D01"}]},
                           "extension": [
                               {"url": "urn:helhet:fhir:referral-status", "valueCode": "rejected"},
                               {"url": "urn:helhet:fhir:assessed-date", "valueDate": day(30)},
                               {"url": "urn:helhet:fhir:rejection-reason", "valueCode": "wrong_level"}]},
        "Encounter": {"resourceType": "Encounter", "identifier": [{"system": "urn:x", "value": "adm-1"}],
                      "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                                      "code": "IMP"},
                      "subject": patient, "serviceProvider": unit("ward-f"),
                      "period": {"start": day(80), "end": day(70)},
                      "hospitalization": {"dischargeDisposition": {"coding": [
                          {"system": "urn:helhet:housing-status", "code": "temporary"}]}}},
        "CarePlan": {"resourceType": "CarePlan", "identifier": [{"system": "urn:x", "value": "ip-1"}],
                     "status": "active", "intent": "plan", "subject": patient, "created": day(20),
                     "category": [{"coding": [{"system": "urn:helhet:care-plan-category",
                                               "code": "individual-plan"}]}], "author": unit("dps-f")},
        "CareTeam": {"resourceType": "CareTeam", "status": "active", "subject": patient,
                     "category": [{"coding": [{"system": "urn:helhet:care-team-category", "code": "coordinator"}]}],
                     "period": {"start": day(15)},
                     "participant": [{"member": {"display": "Kari Koordinator"}, "onBehalfOf": unit("dps-f")}]},
    }


@pytest.mark.parametrize("resource_type", list(R4B))
def test_create_then_read_gives_a_valid_r4b_resource(fhir_world, resource_type):
    sent = resources(fhir_world, fhir_world.person.pid)[resource_type]
    created = post(fhir_world, sent)
    assert created.status_code == 201, created.content
    body = created.json()
    assert created["Location"].endswith(f"/{resource_type}/{body['id']}")
    R4B[resource_type].model_validate(body)
    read = fhir_world.api.get(f"/fhir/{resource_type}/{body['id']}")
    assert read.status_code == 200 and read.json() == body
    assert body["subject" if "subject" in body else "patient"] == {"reference": f"Patient/{fhir_world.person.pid}"}
    assert AuditEntry.objects.filter(person_pid=fhir_world.person.pid, resource=f"{resource_type}/{body['id']}",
                                     outcome="allowed").exists()


def test_created_values_are_stored(fhir_world):
    for resource in resources(fhir_world, fhir_world.person.pid).values():
        assert post(fhir_world, resource).status_code == 201
    referral = Referral.objects.get(identifier="ref-1")
    assert (referral.status, referral.rejection_reason, referral.pathway_type) == ("rejected", "wrong_level", "D01")
    assert referral.from_unit == fhir_world.dps and referral.to_unit == fhir_world.tsb
    stay = Encounter.objects.get(identifier="adm-1")
    assert (stay.kind, stay.end_date, stay.housing_at_discharge) == ("admission", TODAY - dt.timedelta(days=70),
                                                                     "temporary")
    assert EpisodeOfCare.objects.get(identifier="eoc-1").status == "finished"
    assert IndividualPlan.objects.get(identifier="ip-1").responsible_unit == fhir_world.dps
    assert Coordinator.objects.get(person=fhir_world.person).name == "Kari Koordinator"


def test_a_create_ignores_the_id_the_client_sent(fhir_world):
    sent = resources(fhir_world, fhir_world.person.pid)["EpisodeOfCare"]
    del sent["identifier"]
    first = post(fhir_world, {**sent, "id": "client-chosen"})
    second = post(fhir_world, {**sent, "id": "client-chosen"})
    assert first.status_code == second.status_code == 201, second.content
    assert first.json()["id"] != second.json()["id"]
    assert "client-chosen" not in (first.json()["id"], second.json()["id"])
    assert EpisodeOfCare.objects.filter(person=fhir_world.person).count() == 3  # the fixture's and two new ones


def test_search_by_patient_status_and_date(fhir_world):
    for resource in resources(fhir_world, fhir_world.person.pid).values():
        assert post(fhir_world, resource).status_code == 201
    pid = fhir_world.person.pid

    def total(path: str, **params: str) -> int:
        response = fhir_world.api.get(f"/fhir/{path}", params)
        assert response.status_code == 200, response.content
        return int(response.json()["total"])

    assert total("EpisodeOfCare", patient=f"Patient/{pid}") == 2  # the fixture's and the created one
    assert total("EpisodeOfCare", patient=pid, status="finished") == 1
    assert total("EpisodeOfCare", patient=pid, date=f"ge{day(100)}") == 1
    assert total("ServiceRequest", patient=pid, status="revoked") == 1
    assert total("ServiceRequest", status="rejected") == 1
    assert total("ServiceRequest", status="active") == 0
    assert total("Encounter", patient=pid, status="finished", date=f"le{day(75)}") == 1
    assert total("Encounter", date=f"gt{day(75)}") == 0
    assert total("CarePlan", patient=pid, category="individual-plan") == 1
    assert total("CareTeam", patient=pid, status="active") == 1
    assert total("EpisodeOfCare", identifier="urn:x|eoc-1") == 1


def test_search_never_shows_persons_without_a_care_relationship(fhir_world, builders):
    builders.make_episode(fhir_world.stranger, fhir_world.tsb)
    response = fhir_world.api.get("/fhir/EpisodeOfCare", {"patient": fhir_world.stranger.pid})
    assert response.status_code == 200 and response.json()["total"] == 0
    everything = fhir_world.api.get("/fhir/EpisodeOfCare").json()
    assert {e["resource"]["patient"]["reference"] for e in everything["entry"]} == {
        f"Patient/{fhir_world.person.pid}"}


def test_reading_another_persons_record_is_refused_and_audited(fhir_world):
    episode = EpisodeOfCare.objects.get(person=fhir_world.stranger)
    response = fhir_world.api.get(f"/fhir/EpisodeOfCare/{episode.pk}")
    assert response.status_code == 403 and response.json()["resourceType"] == "OperationOutcome"
    assert AuditEntry.objects.filter(person_pid=fhir_world.stranger.pid, outcome="denied").exists()


def test_creating_for_a_person_the_caller_may_not_see_is_refused(fhir_world):
    sent = resources(fhir_world, fhir_world.stranger.pid)["Encounter"]
    response = post(fhir_world, sent)
    assert response.status_code == 403
    assert not Encounter.objects.filter(person=fhir_world.stranger).exists()
    assert AuditEntry.objects.filter(person_pid=fhir_world.stranger.pid, outcome="denied", channel="fhir").exists()


@pytest.mark.parametrize(("resource_type", "change", "status", "message"), [
    ("ServiceRequest", {"performer": [unit("nowhere")]}, 422, "Unknown unit 'nowhere'"),
    ("Encounter", {"period": {"start": day(10), "end": day(20)}}, 422, "before the admission"),
    ("Encounter", {"period": {"start": day(-2)}, "status": "in-progress"}, 422, "in the future"),
    ("Encounter", {"serviceProvider": unit("dps-f")}, 422, "not an inpatient unit"),
    ("EpisodeOfCare", {"status": "entered-in-error"}, 422, "not supported"),
    ("EpisodeOfCare", {"status": "nonsense"}, 422, "'nonsense' is not supported"),
    ("EpisodeOfCare", {"period": {"start": "yesterday"}}, 400, "not a valid FHIR R4 EpisodeOfCare"),
    ("ServiceRequest", {"extension": [{"url": "urn:helhet:fhir:referral-status", "valueCode": "rejected"}]},
     422, "A rejection needs a reason"),
    ("CarePlan", {"category": [{"text": "something"}]}, 400, "individual-plan"),
    ("CareTeam", {"participant": []}, 400, "exactly one participant"),
])
def test_bad_input_gets_an_operation_outcome_and_writes_nothing(fhir_world, resource_type, change, status, message):
    counts = (EpisodeOfCare.objects.count(), Encounter.objects.count(), Referral.objects.count(),
              IndividualPlan.objects.count(), Coordinator.objects.count())
    sent = resources(fhir_world, fhir_world.person.pid)[resource_type] | change
    response = post(fhir_world, sent)
    assert response.status_code == status, response.content
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert message in outcome["issue"][0]["diagnostics"]
    assert (EpisodeOfCare.objects.count(), Encounter.objects.count(), Referral.objects.count(),
            IndividualPlan.objects.count(), Coordinator.objects.count()) == counts


def test_overlapping_admission_in_the_same_ward_is_refused(fhir_world):
    first = resources(fhir_world, fhir_world.person.pid)["Encounter"]
    assert post(fhir_world, first).status_code == 201
    second = first | {"identifier": [{"system": "urn:x", "value": "adm-2"}],
                      "period": {"start": day(75)}, "status": "in-progress"}
    response = post(fhir_world, second)
    assert response.status_code == 422
    assert "overlaps the admission to ward-f" in response.json()["issue"][0]["diagnostics"]
    assert Encounter.objects.count() == 1


def test_posting_the_same_identifier_again_updates_instead_of_duplicating(fhir_world):
    sent = resources(fhir_world, fhir_world.person.pid)["Encounter"]
    first = post(fhir_world, sent).json()
    changed = sent | {"hospitalization": {"dischargeDisposition": {"coding": [
        {"system": "urn:helhet:housing-status", "code": "permanent"}]}}}
    second = post(fhir_world, changed).json()
    assert second["id"] == first["id"]
    assert Encounter.objects.get().housing_at_discharge == "permanent"


@pytest.mark.parametrize("resource_type", ["EpisodeOfCare", "Encounter", "ServiceRequest", "CareTeam"])
def test_search_makes_the_same_number_of_queries_for_one_or_many_results(fhir_world, resource_type):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    base = resources(fhir_world, fhir_world.person.pid)
    variants = {
        "EpisodeOfCare": lambda n: base["EpisodeOfCare"] | {"identifier": [{"value": f"e{n}"}]},
        "Encounter": lambda n: base["Encounter"] | {"identifier": [{"value": f"a{n}"}], "period": {
            "start": day(200 - 10 * n), "end": day(195 - 10 * n)}},
        "ServiceRequest": lambda n: base["ServiceRequest"] | {"identifier": [{"value": f"r{n}"}]},
        "CareTeam": lambda n: base["CareTeam"] | {"period": {"start": day(50 + n)}},
    }

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = fhir_world.api.get(f"/fhir/{resource_type}", {"patient": fhir_world.person.pid})
        assert response.status_code == 200
        return len(captured)

    assert post(fhir_world, variants[resource_type](0)).status_code == 201
    few = queries()
    for n in range(1, 5):
        assert post(fhir_world, variants[resource_type](n)).status_code == 201
    assert queries() == few
