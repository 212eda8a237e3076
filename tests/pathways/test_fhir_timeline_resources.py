"""FHIR for the rest of the timeline: clinical decisions on the ServiceRequest, and Encounters for
responsibility-group meetings, next-of-kin contacts and evaluation points: create, read, search, bad input,
access; and the pathway rules, one copy shared by the forms and the FHIR handlers."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from fhir.resources.R4B.encounter import Encounter as EncounterModel
from fhir.resources.R4B.servicerequest import ServiceRequest

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.fhir.bulk import export_resources
from helhet.fhir.models import ApiClient
from helhet.organisations.models import UnitKind
from helhet.pathways import services
from helhet.pathways.models import (
    EvaluationPoint,
    NextOfKinContact,
    PathwayDecision,
    ResponsibilityGroupMeeting,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()
TYPE = "urn:helhet:encounter-type"
EXT = "urn:helhet:fhir:"


def day(days_ago: int) -> str:
    return (TODAY - dt.timedelta(days=days_ago)).isoformat()


def unit(code: str) -> dict[str, Any]:
    return {"identifier": {"system": "urn:helhet:unit", "value": code}}


@pytest.fixture
def w(builders: Any) -> SimpleNamespace:
    dps = builders.make_unit(UnitKind.DPS, code="dps-t")
    tsb = builders.make_unit(UnitKind.TSB, code="tsb-t")
    ward = builders.make_unit(UnitKind.WARD, code="ward-t", inpatient=True)
    clinician = builders.make_user(Role.CLINICIAN, units=[dps, tsb, ward], username="klin")
    person = builders.make_person(family_name="Tidslinjesen", consent_next_of_kin=True)
    episode = builders.make_episode(person, tsb, start=TODAY - dt.timedelta(days=120))
    no_consent = builders.make_person(family_name="Utensamtykke")
    builders.make_episode(no_consent, dps)
    stranger = builders.make_person(family_name="Fremmed")
    builders.make_episode(stranger, builders.make_unit(UnitKind.DPS, code="dps-other"))
    _c, token = ApiClient.issue(name="ehr-t", user=clinician)
    return SimpleNamespace(person=person, episode=episode, no_consent=no_consent, stranger=stranger,
                           clinician=clinician, api=Client(HTTP_AUTHORIZATION=f"Bearer {token}"))


def post(w: SimpleNamespace, resource: dict[str, Any]) -> Any:
    return w.api.post(f"/fhir/{resource['resourceType']}", data=resource, content_type="application/fhir+json")


def decision(days_ago: int, code: str) -> dict[str, Any]:
    return {"url": EXT + "clinical-decision", "extension": [
        {"url": "date", "valueDate": day(days_ago)},
        {"url": "decision", "valueCoding": {"system": "urn:helhet:clinical-decision", "code": code}}]}


def referral(pid: str, *decisions: dict[str, Any], status: str = "accepted") -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "identifier": [{"system": "urn:x", "value": "ref-d"}],
            "status": "active", "intent": "order", "subject": {"reference": f"Patient/{pid}"},
            "authoredOn": day(60), "requester": {"display": "Fastlege"}, "performer": [unit("tsb-t")],
            "code": {"coding": [{"system": "urn:helhet:pathway-type", "code": "D01"}]},
            "extension": [{"url": EXT + "referral-status", "valueCode": status},
                          {"url": EXT + "assessed-date", "valueDate": day(50)},
                          *([{"url": EXT + "rejection-reason", "valueCode": "wrong_level"}]
                            if status == "rejected" else []),
                          *decisions]}


def encounter(pid: str, kind: str, days_ago: int, ident: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Encounter", "identifier": [{"system": "urn:x", "value": ident}], "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"coding": [{"system": TYPE, "code": kind}]}], "subject": {"reference": f"Patient/{pid}"},
            "period": {"start": day(days_ago), "end": day(days_ago)}, **extra}


def group(w: SimpleNamespace, pid: str, established: int = 40) -> str:
    team = {"resourceType": "CareTeam", "identifier": [{"system": "urn:x", "value": f"grp-{pid}"}],
            "status": "active", "subject": {"reference": f"Patient/{pid}"},
            "category": [{"coding": [{"system": "urn:helhet:care-team-category", "code": "responsibility-group"}]}],
            "period": {"start": day(established)}, "participant": [{"member": {"display": "Fastlege"}}]}
    response = post(w, team)
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def meeting(pid: str, group_id: str, days_ago: int = 10, ident: str = "m-1") -> dict[str, Any]:
    return encounter(pid, "responsibility-group-meeting", days_ago, ident, extension=[
        {"url": EXT + "responsibility-group", "valueReference": {"reference": f"CareTeam/{group_id}"}},
        {"url": EXT + "summary", "valueString": "Bolig og arbeid"}])


def next_of_kin(pid: str, relation: str = "mor", ident: str = "n-1") -> dict[str, Any]:
    return encounter(pid, "next-of-kin-contact", 5, ident, serviceProvider=unit("dps-t"), participant=[
        {"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": "NOK"}]}],
         "individual": {"display": relation}}])


def evaluation(pid: str, *, benefit: int = 4, days_ago: int = 7, episode: int | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"extension": [{"url": EXT + "benefit", "valueInteger": benefit},
                                           {"url": EXT + "further-needs", "valueString": "Fastlege"},
                                           {"url": EXT + "plan-update-needed", "valueBoolean": True}]}
    if episode is not None:
        extra["episodeOfCare"] = [{"reference": f"EpisodeOfCare/{episode}"}]
    return encounter(pid, "evaluation-point", days_ago, "e-1", **extra)


# Clinical decisions on the ServiceRequest -------------------------------------------------------------------


def test_clinical_decisions_travel_on_the_referral(w):
    sent = referral(w.person.pid, decision(40, "extended_assessment"), decision(20, "treatment_tsb"))
    created = post(w, sent)
    assert created.status_code == 201, created.content
    body = created.json()
    ServiceRequest.model_validate(body)
    assert list(PathwayDecision.objects.values_list("decision", flat=True)) == ["extended_assessment",
                                                                                 "treatment_tsb"]
    assert [e for e in body["extension"] if e["url"].endswith("clinical-decision")][1]["extension"][1][
        "valueCoding"]["code"] == "treatment_tsb"
    assert w.api.get(f"/fhir/ServiceRequest/{body['id']}").json() == body
    # The same resource with other decisions: the referral's decisions become those, nothing is duplicated.
    again = post(w, referral(w.person.pid, decision(40, "extended_assessment")))
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    assert list(PathwayDecision.objects.values_list("decision", flat=True)) == ["extended_assessment"]


@pytest.mark.parametrize(("decisions", "status", "message"), [
    ((decision(40, "treatment_tsb"), decision(30, "treatment_tsb"), decision(20, "no_further_need")), "accepted",
     "at most two clinical decisions"),
    ((decision(55, "treatment_tsb"),), "accepted", "cannot precede the start of the pathway"),
    ((decision(-3, "treatment_tsb"),), "accepted", "in the future"),
    ((decision(40, "treatment_tsb"),), "rejected", "belong to an accepted referral"),
    ((decision(40, "magic"),), "accepted", "Unknown clinical decision 'magic'"),
])
def test_bad_clinical_decisions_are_refused(w, decisions, status, message):
    response = post(w, referral(w.person.pid, *decisions, status=status))
    assert response.status_code == 422, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert message in response.json()["issue"][0]["diagnostics"]
    assert not PathwayDecision.objects.exists()


# Responsibility-group meetings, next-of-kin contacts, evaluation points --------------------------------------


def test_meeting_next_of_kin_and_evaluation_create_read_and_search(w):
    group_id = group(w, w.person.pid)
    made = {}
    for resource in (meeting(w.person.pid, group_id), next_of_kin(w.person.pid),
                     evaluation(w.person.pid, episode=w.episode.pk)):
        response = post(w, resource)
        assert response.status_code == 201, response.content
        body = response.json()
        EncounterModel.model_validate(body)
        assert w.api.get(f"/fhir/Encounter/{body['id']}").json() == body
        made[body["type"][0]["coding"][0]["code"]] = body
    assert made["responsibility-group-meeting"]["id"].startswith("meeting-")
    stored_meeting = ResponsibilityGroupMeeting.objects.get()
    assert stored_meeting.summary == "Bolig og arbeid" and stored_meeting.group.person == w.person
    assert NextOfKinContact.objects.get().relation == "mor"
    point = EvaluationPoint.objects.get()
    assert (point.benefit, point.plan_update_needed, point.episode_id) == (4, True, w.episode.pk)
    assert AuditEntry.objects.filter(person_pid=w.person.pid, resource=f"Encounter/{made['evaluation-point']['id']}",
                                     action="read", channel="fhir").exists()
    everything = w.api.get(f"/fhir/Encounter?patient=Patient/{w.person.pid}").json()
    assert everything["total"] == 3
    only = w.api.get(f"/fhir/Encounter?patient={w.person.pid}&type={TYPE}|next-of-kin-contact&date=ge{day(6)}")
    assert [e["resource"]["id"] for e in only.json()["entry"]] == [made["next-of-kin-contact"]["id"]]
    assert w.api.get(f"/fhir/Encounter?type={TYPE}|evaluation-point&date=lt{day(8)}").json()["total"] == 0
    # Sending a resource again changes nothing
    assert post(w, next_of_kin(w.person.pid)).json()["id"] == made["next-of-kin-contact"]["id"]
    assert NextOfKinContact.objects.count() == 1


@pytest.mark.parametrize(("build", "status", "message"), [
    (lambda w, g: meeting(w.person.pid, g, days_ago=50), 422, "established on"),
    (lambda w, g: meeting(w.person.pid, g, days_ago=-2), 422, "in the future"),
    (lambda w, g: {**meeting(w.person.pid, g), "extension": []}, 400, "needs the extension responsibility-group"),
    (lambda w, g: meeting(w.person.pid, "group-999999"), 422, "is not known for this patient"),
    (lambda w, g: next_of_kin(w.no_consent.pid), 422, "not consented to next-of-kin involvement"),
    (lambda w, g: next_of_kin(w.person.pid, relation=" "), 422, "Say who the next of kin is"),
    (lambda w, g: evaluation(w.person.pid, benefit=6), 422, "Benefit is judged from 1"),
    (lambda w, g: evaluation(w.person.pid, days_ago=150, episode=w.episode.pk), 422, "an evaluation cannot be"),
    (lambda w, g: {**evaluation(w.person.pid), "status": "in-progress"}, 422, "'in-progress' is not supported"),
    (lambda w, g: encounter(w.person.pid, "tea-party", 3, "x"), 400, "Encounter.type must carry one of"),
    (lambda w, g: {**evaluation(w.person.pid), "period": {"start": "soon"}}, 400, "not a valid FHIR R4 Encounter"),
])
def test_bad_timeline_encounters_get_an_operation_outcome_and_write_nothing(w, build, status, message):
    group_id = group(w, w.person.pid)
    response = post(w, build(w, group_id))
    assert response.status_code == status, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert message in response.json()["issue"][0]["diagnostics"]
    assert not (ResponsibilityGroupMeeting.objects.exists() or NextOfKinContact.objects.exists()
                or EvaluationPoint.objects.exists())


def test_persons_without_a_care_relationship_are_refused_and_audited(w, builders):
    for resource in (next_of_kin(w.stranger.pid), evaluation(w.stranger.pid),
                     referral(w.stranger.pid, decision(40, "treatment_tsb"))):
        response = post(w, resource)
        assert response.status_code == 403, response.content
        assert response.json()["issue"][0]["code"] == "forbidden"
    assert not (NextOfKinContact.objects.exists() or EvaluationPoint.objects.exists())
    assert AuditEntry.objects.filter(person_pid=w.stranger.pid, outcome="denied", channel="fhir").count() >= 3
    # A record of the stranger's, made by the stranger's own unit: not readable, not found by search.
    other = builders.make_user(Role.CLINICIAN, units=[w.stranger.episodes.get().unit])
    point = services.record_evaluation(user=other, pid=w.stranger.pid, evaluated_on=TODAY, benefit=3)
    read = w.api.get(f"/fhir/Encounter/evaluation-{point.pk}")
    assert read.status_code == 403
    assert AuditEntry.objects.filter(person_pid=w.stranger.pid, outcome="denied",
                                     resource=f"Encounter/evaluation-{point.pk}").exists()
    assert w.api.get(f"/fhir/Encounter?type={TYPE}|evaluation-point").json()["total"] == 0


def test_capability_statement_and_openapi_list_the_encounter_kinds(w):
    statement = w.api.get("/fhir/metadata").json()
    encounter_entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Encounter")
    assert {"name": "type", "type": "token"} in encounter_entry["searchParam"]
    assert {i["code"] for i in encounter_entry["interaction"]} == {"read", "search-type", "create"}
    openapi = w.api.get("/fhir/openapi.json").json()
    parameters = openapi["paths"]["/Encounter"]["get"]["parameters"]
    assert any(p["name"] == "type" for p in parameters)


# One copy of each rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["check_in_order", "check_no_overlap", "check_next_of_kin", "check_evaluation"])
def test_the_forms_and_the_fhir_api_apply_the_same_rule(w, monkeypatch, rule):
    """Replacing one rule in the services module changes both the form service and the FHIR create."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise services.PathwayError(f"refused by {rule}", None)

    monkeypatch.setattr(services, rule, refuse)
    form, resource = {
        "check_in_order": (lambda: services.record_admission(user=w.clinician, pid=w.person.pid, unit="ward-t",
                                                             admitted_on=TODAY - dt.timedelta(days=9),
                                                             discharged_on=TODAY, housing="permanent"),
                           {"resourceType": "Encounter", "status": "finished", "class": {"code": "IMP"},
                            "subject": {"reference": f"Patient/{w.person.pid}"}, "serviceProvider": unit("ward-t"),
                            "period": {"start": day(9), "end": day(0)}}),
        "check_no_overlap": (lambda: services.record_admission(user=w.clinician, pid=w.person.pid, unit="ward-t",
                                                               admitted_on=TODAY),
                             {"resourceType": "Encounter", "status": "in-progress", "class": {"code": "IMP"},
                              "subject": {"reference": f"Patient/{w.person.pid}"},
                              "serviceProvider": unit("ward-t"), "period": {"start": day(0)}}),
        "check_next_of_kin": (lambda: services.record_next_of_kin_contact(user=w.clinician, pid=w.person.pid,
                                                                          contact_date=TODAY, relation="mor"),
                              next_of_kin(w.person.pid)),
        "check_evaluation": (lambda: services.record_evaluation(user=w.clinician, pid=w.person.pid,
                                                                evaluated_on=TODAY, benefit=3),
                             evaluation(w.person.pid)),
    }[rule]
    with pytest.raises(services.PathwayError, match=f"refused by {rule}"):
        form()
    response = post(w, resource)
    assert response.status_code == 422, response.content
    assert f"refused by {rule}" in response.json()["issue"][0]["diagnostics"]


def test_a_transaction_bundle_carries_a_group_with_its_meeting_all_or_nothing(w):
    team = {"resourceType": "CareTeam", "identifier": [{"system": "urn:x", "value": "grp-b"}], "status": "active",
            "subject": {"reference": f"Patient/{w.person.pid}"},
            "category": [{"coding": [{"system": "urn:helhet:care-team-category", "code": "responsibility-group"}]}],
            "period": {"start": day(30)}, "participant": [{"member": {"display": "Fastlege"}}]}
    held = encounter(w.person.pid, "responsibility-group-meeting", 20, "m-b", extension=[
        {"url": EXT + "responsibility-group", "valueReference": {"reference": "urn:uuid:group-1"}}])
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:meeting-1", "resource": held, "request": {"method": "POST", "url": "Encounter"}},
        {"fullUrl": "urn:uuid:group-1", "resource": team, "request": {"method": "POST", "url": "CareTeam"}},
        {"resource": next_of_kin(w.no_consent.pid), "request": {"method": "POST", "url": "Encounter"}}]}
    refused = w.api.post("/fhir/", data=bundle, content_type="application/fhir+json")
    assert refused.status_code == 422 and "not consented" in refused.json()["issue"][0]["diagnostics"]
    assert not ResponsibilityGroupMeeting.objects.exists()
    bundle["entry"].pop()
    response = w.api.post("/fhir/", data=bundle, content_type="application/fhir+json")
    assert response.status_code == 200, response.content
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created", "201 Created"]
    assert ResponsibilityGroupMeeting.objects.get().group.identifier == "grp-b"


def test_an_import_brings_past_next_of_kin_contacts_whatever_the_consent_is_today(w, tmp_path):
    """The API refuses a new contact without consent; a bulk import of another system's history does not."""
    path = tmp_path / "history.ndjson"
    path.write_text(json.dumps(next_of_kin(w.no_consent.pid, ident="n-past")) + "\n"
                    + json.dumps(next_of_kin(w.no_consent.pid, relation=" ", ident="n-blank")) + "\n")
    out = StringIO()
    with pytest.raises(CommandError, match="rejected"):  # the line without a relation is still refused
        call_command("import", str(path), "--no-progress", stdout=out, stderr=out)
    assert "created 1, updated 0, skipped 0, rejected 1" in out.getvalue()
    assert NextOfKinContact.objects.get(person=w.no_consent).identifier == "n-past"
    assert post(w, next_of_kin(w.no_consent.pid, ident="n-new")).status_code == 422


def test_a_patient_without_the_consent_extensions_leaves_the_stored_consents(w, tmp_path):
    patient = next(r for r in export_resources(None) if r["resourceType"] == "Patient"
                   and any(i["value"] == w.person.pid for i in r["identifier"]))
    patient["extension"] = [e for e in patient.get("extension", []) if "consent" not in e["url"]]
    patient["name"][0]["family"] = "Nyttnavnsen"
    path = tmp_path / "patient.ndjson"
    path.write_text(json.dumps(patient) + "\n")
    out = StringIO()
    call_command("import", str(path), "--no-progress", stdout=out, stderr=out)
    assert "updated 1" in out.getvalue(), out.getvalue()
    w.person.refresh_from_db()
    assert (w.person.family_name, w.person.consent_next_of_kin) == ("Nyttnavnsen", True)
