"""POST /fhir with a transaction Bundle: all-or-nothing, urn:uuid references, per-entry status, no duplicates."""

from __future__ import annotations

from typing import Any

import pytest

from helhet.audit.models import AuditEntry
from helhet.fhir.registry import HANDLERS
from helhet.pathways.models import Encounter, EpisodeOfCare, Referral
from helhet.persons.models import Person

pytestmark = pytest.mark.django_db


def bundle(*resources: dict[str, Any], urls: list[str] | None = None) -> dict[str, Any]:
    entries = []
    for n, resource in enumerate(resources):
        entry: dict[str, Any] = {"resource": resource,
                                 "request": {"method": "POST", "url": resource["resourceType"]}}
        if urls and n < len(urls) and urls[n]:
            entry["fullUrl"] = urls[n]
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def new_patient_bundle(world: Any, fhir: Any, builders: Any) -> dict[str, Any]:
    new = "urn:uuid:0a4c6a4e-2f0e-4d55-9c1e-1f7b1d1c0001"
    ep = "urn:uuid:0a4c6a4e-2f0e-4d55-9c1e-1f7b1d1c0002"
    return bundle(
        fhir.patient(builders.synthetic_national_id(1975), family="Transaksjonsen"),
        fhir.episode(new, "ward-a", ident="ep-1", start=60),
        fhir.admission(new, "ward-a", ident="adm-1", start=50, end=40, housing="permanent", episode_ref=ep),
        urls=[new, ep],
    )


def test_transaction_creates_a_new_person_with_episode_and_admission(world, fhir, builders, post_json):
    response = post_json(world.api, "/fhir/", new_patient_bundle(world, fhir, builders))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 3
    person = Person.objects.get(family_name="Transaksjonsen")
    assert body["entry"][0]["response"]["location"] == f"Patient/{person.pid}"
    stay = Encounter.objects.get(identifier="adm-1")
    assert stay.person == person and stay.episode == EpisodeOfCare.objects.get(identifier="ep-1")
    assert stay.housing_at_discharge == "permanent"
    # the clinician's ward now has the care relationship: the new person can be read
    assert world.api.get(f"/fhir/Patient/{person.pid}").status_code == 200
    assert AuditEntry.objects.filter(person_pid=person.pid, resource="FHIR transaction").exists()


def test_sending_the_same_transaction_again_creates_nothing(world, fhir, builders, post_json):
    payload = new_patient_bundle(world, fhir, builders)
    assert post_json(world.api, "/fhir/", payload).status_code == 200
    counts = (Person.objects.count(), EpisodeOfCare.objects.count(), Encounter.objects.count())
    again = post_json(world.api, "/fhir/", payload)
    assert again.status_code == 200, again.content
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 3
    assert (Person.objects.count(), EpisodeOfCare.objects.count(), Encounter.objects.count()) == counts


def test_one_bad_entry_rolls_back_the_whole_bundle(world, fhir, builders, post_json):
    payload = new_patient_bundle(world, fhir, builders)
    payload["entry"].append({"resource": fhir.referral(world.person.pid, ident="ref-x", to="no-such-unit", sent=5)})
    before = (Person.objects.count(), EpisodeOfCare.objects.count(), Encounter.objects.count(),
              Referral.objects.count())
    response = post_json(world.api, "/fhir/", payload)
    assert response.status_code == 422
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "entry 4" in outcome["issue"][0]["diagnostics"] and "no-such-unit" in outcome["issue"][0]["diagnostics"]
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[3]"]
    assert (Person.objects.count(), EpisodeOfCare.objects.count(), Encounter.objects.count(),
            Referral.objects.count()) == before


@pytest.mark.parametrize("case", ["discharge-before-admission", "overlap", "future", "unknown-unit"])
def test_bad_pathway_data_in_a_bundle_is_refused_with_nothing_written(world, fhir, post_json, case):
    pid = world.person.pid
    builders_by_case = {
        "discharge-before-admission": [fhir.admission(pid, "ward-a", ident="a1", start=10, end=20)],
        "overlap": [fhir.admission(pid, "ward-a", ident="a1", start=30, end=10),
                    fhir.admission(pid, "ward-a", ident="a2", start=15, end=5)],
        "future": [fhir.admission(pid, "ward-a", ident="a1", start=-3)],
        "unknown-unit": [fhir.admission(pid, "ward-zz", ident="a1", start=3)],
    }
    response = post_json(world.api, "/fhir/", bundle(fhir.contact(pid, "dps-a", ident="c1", start=2),
                                                     *builders_by_case[case]))
    assert 400 <= response.status_code < 500
    assert response.json()["resourceType"] == "OperationOutcome"
    message = response.json()["issue"][0]["diagnostics"]
    expected = {"discharge-before-admission": "before the admission", "overlap": "overlaps",
                "future": "in the future", "unknown-unit": "Unknown unit"}[case]
    assert expected in message
    assert not Encounter.objects.exists()


def test_a_person_the_caller_may_not_see_refuses_the_bundle_and_is_audited(world, fhir, post_json):
    response = post_json(world.api, "/fhir/", bundle(
        fhir.contact(world.person.pid, "dps-a", ident="c1", start=2),
        fhir.contact(world.stranger.pid, "dps-a", ident="c2", start=2)))
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"
    assert world.stranger.family_name not in response.content.decode()
    assert not Encounter.objects.exists()
    assert AuditEntry.objects.filter(person_pid=world.stranger.pid, outcome="denied", channel="fhir").exists()


def test_a_new_patient_without_an_episode_in_the_callers_units_is_refused(world, fhir, builders, post_json):
    response = post_json(world.api, "/fhir/", bundle(fhir.patient(builders.synthetic_national_id(1990),
                                                                  family="Foreldreløs")))
    assert response.status_code == 403
    assert not Person.objects.filter(family_name="Foreldreløs").exists()


def test_questionnaire_response_entries_go_to_the_registered_handler(world, fhir, post_json, monkeypatch):
    calls: list[dict[str, Any]] = []

    class Recorder:
        resource_type = "QuestionnaireResponse"
        search_params: dict[str, str] = {}

        def create(self, ctx, resource):
            calls.append(resource)
            assert ctx.user == world.clinician
            return {**resource, "id": "qr-1"}, []

    monkeypatch.setitem(HANDLERS, "QuestionnaireResponse", Recorder())
    response = post_json(world.api, "/fhir/", bundle(
        fhir.contact(world.person.pid, "dps-a", ident="c1", start=2),
        {"resourceType": "QuestionnaireResponse", "status": "completed",
         "questionnaire": "https://helhet.no/fhir/Questionnaire/phq-9",
         "subject": {"reference": f"Patient/{world.person.pid}"}}))
    assert response.status_code == 200, response.content
    assert [e["response"]["location"] for e in response.json()["entry"]][1] == "QuestionnaireResponse/qr-1"
    assert calls and calls[0]["subject"] == {"reference": f"Patient/{world.person.pid}"}


def test_only_transaction_bundles_are_accepted(world, post_json):
    response = post_json(world.api, "/fhir/", {"resourceType": "Bundle", "type": "batch", "entry": []})
    assert response.status_code == 400
    assert "transaction" in response.json()["issue"][0]["diagnostics"]
