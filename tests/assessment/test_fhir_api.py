"""The assessment FHIR API over HTTP: Questionnaire, QuestionnaireResponse create/read/search, Observation."""

from __future__ import annotations

import copy
import json

import pytest

from helhet.assessment.models import Administration, ScoreObservation
from helhet.assessment.services import register_questionnaire
from helhet.audit.models import AuditEntry

from .conftest import INTEROP, phq9_response

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"


def post(api, body, resource_type="QuestionnaireResponse"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return api.post(f"/fhir/{resource_type}", data=data, content_type=FHIR)


def stored():
    return Administration.objects.count(), ScoreObservation.objects.count()


def entries(bundle, resource_type):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def mii_pair():
    questionnaire = json.loads((INTEROP / "mii-gad-7.questionnaire.json").read_text())
    response = json.loads((INTEROP / "mii-gad-7.response.json").read_text())
    return questionnaire, response


# ---------------------------------------------------------------- Questionnaire

def test_questionnaire_read_and_search_by_url_and_code(api):
    body = api.get("/fhir/Questionnaire/phq-9").json()
    assert body["resourceType"] == "Questionnaire" and body["code"][0]["code"] == "44249-1"
    by_url = api.get("/fhir/Questionnaire", {"url": body["url"]}).json()
    assert [e["resource"]["id"] for e in by_url["entry"]] == ["phq-9"]
    by_panel = api.get("/fhir/Questionnaire", {"code": "http://loinc.org|69737-5"}).json()
    assert [e["resource"]["id"] for e in by_panel["entry"]] == ["gad-7"]
    everything = api.get("/fhir/Questionnaire").json()
    assert everything["total"] >= 9
    assert api.get("/fhir/Questionnaire/no-such").status_code == 404
    assert api.get("/fhir/Questionnaire", {"colour": "red"}).status_code == 400


def test_registered_external_questionnaire_is_searchable(api):
    questionnaire, _response = mii_pair()
    register_questionnaire(questionnaire)
    found = api.get("/fhir/Questionnaire", {"url": questionnaire["url"]}).json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["id"].startswith("ext-")
    ext_id = found["entry"][0]["resource"]["id"]
    assert api.get(f"/fhir/Questionnaire/{ext_id}").json()["url"] == questionnaire["url"]


# ---------------------------------------------------------------- create

def test_create_scores_stores_and_returns_the_observations(api, care):
    response = post(api, phq9_response(care.person.pid, [1, 1, 2, 2, 1, 1, 1, 1, 1],
                                       identifier={"system": "urn:other", "value": "r-1"}))
    assert response.status_code == 201, response.content
    bundle = response.json()
    qr = entries(bundle, "QuestionnaireResponse")[0]
    assert response["Location"].endswith(f"/QuestionnaireResponse/{qr['id']}")
    (total,) = entries(bundle, "Observation")
    assert total["valueQuantity"]["value"] == 11 and total["derivedFrom"] == [
        {"reference": f"QuestionnaireResponse/{qr['id']}"}]
    assert total["subject"]["reference"] == f"Patient/{care.person.pid}"
    assert total["code"]["coding"][0] == {"system": "http://loinc.org", "code": "44261-6"}
    flag = next(c for c in total["component"] if c["code"]["coding"][-1]["code"].endswith("self-harm-thoughts"))
    assert flag["valueBoolean"] is True
    administration = Administration.objects.get()
    assert administration.mode == "fhir" and administration.source_identifier == "urn:other|r-1"
    assert administration.unit_id == care.unit.pk and administration.recorded_by == care.clinician
    assert AuditEntry.objects.filter(person_pid=care.person.pid, channel="fhir", action="create").exists()
    # read back
    read = api.get(f"/fhir/QuestionnaireResponse/{qr['id']}").json()
    assert read["id"] == qr["id"] and read["identifier"]["value"] == "r-1"
    observation = api.get(f"/fhir/Observation/{total['id']}").json()
    assert observation == total


def test_mii_gad7_scores_13_after_its_questionnaire_is_registered(api, care):
    questionnaire, response = mii_pair()
    response = copy.deepcopy(response)
    response["subject"] = {"reference": f"Patient/{care.person.pid}"}
    refused = post(api, response)
    assert refused.status_code == 422 and "unknown questionnaire" in refused.json()["issue"][0]["diagnostics"]
    assert stored() == (0, 0)
    register_questionnaire(questionnaire)
    accepted = post(api, response)
    assert accepted.status_code == 201, accepted.content
    (total,) = entries(accepted.json(), "Observation")
    assert total["valueQuantity"]["value"] == 13
    assert total["interpretation"][0]["coding"][0]["code"] == "gad-7-moderate"
    (outcome,) = entries(accepted.json(), "OperationOutcome")
    # The declared 13 agrees: no warning; the PROMIS T-score item has no counterpart and is only mentioned.
    assert [i["severity"] for i in outcome["issue"]] == ["information"]
    assert "phq-gad7-promis-tscore" in outcome["issue"][0]["diagnostics"]
    administration = Administration.objects.get()
    assert administration.questionnaire_url == questionnaire["url"] and administration.declared_total == 13
    assert api.get("/fhir/QuestionnaireResponse", {"questionnaire": questionnaire["url"]}).json()["total"] == 1


def test_declared_total_that_disagrees_is_a_warning_and_ours_is_stored(api, care):
    questionnaire, response = mii_pair()
    register_questionnaire(questionnaire)
    response = copy.deepcopy(response)
    response["subject"] = {"reference": f"Patient/{care.person.pid}"}
    declared = next(i for i in response["item"] if "valueDecimal" in i["answer"][0] or "valueInteger"
                    in i["answer"][0] or "valueQuantity" in i["answer"][0])
    key = next(iter(declared["answer"][0]))
    declared["answer"][0][key] = 20 if key != "valueQuantity" else {**declared["answer"][0][key], "value": 20}
    accepted = post(api, response)
    assert accepted.status_code == 201
    (outcome,) = entries(accepted.json(), "OperationOutcome")
    issue = outcome["issue"][0]
    assert issue["severity"] == "warning" and "declares a total of 20" in issue["diagnostics"]
    assert "give 13" in issue["diagnostics"]
    assert ScoreObservation.objects.get(part="total").value == 13


def test_own_linkids_and_plain_scores_are_accepted(api, care):
    body = {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": "https://helhet.no/fhir/Questionnaire/audit-c", "authored": "2026-01-05",
            "subject": {"identifier": {"system": "urn:helhet:pid", "value": care.male.pid}},
            "item": [{"linkId": link, "answer": [{"valueInteger": 1}]}
                     for link in ("auditc-1", "auditc-2", "auditc-3")]}
    response = post(api, body)
    assert response.status_code == 201, response.content
    (total,) = entries(response.json(), "Observation")
    assert total["valueQuantity"]["value"] == 3
    cutoffs = [c for c in total["component"] if "cutoff" in c["code"]["coding"][-1]["code"]]
    assert [c["valueBoolean"] for c in cutoffs] == [False]  # male: positive from 4


# ---------------------------------------------------------------- bad input

BAD = [
    ("{not json", 400, "not valid JSON"),
    ([1, 2], 400, "JSON object"),
    ({"resourceType": "Observation"}, 400, "expected QuestionnaireResponse"),
    ({"resourceType": "QuestionnaireResponse", "status": "bogus"}, 422, "status"),
    ({"resourceType": "QuestionnaireResponse", "status": "completed", "colour": 1}, 400, "colour"),
    ({"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "notadate"}, 400, "authored"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD)
def test_malformed_bodies_are_refused(api, care, body, status, message):
    response = post(api, body if isinstance(body, str) else json.dumps(body))
    assert response.status_code == status
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert message in json.dumps(outcome)
    assert stored() == (0, 0)


def _mutate(care, **changes):
    body = phq9_response(care.person.pid, [1] * 9)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(("changes", "status", "message"), [
    ({"questionnaire": "https://example.org/Questionnaire/unknown"}, 422, "unknown questionnaire"),
    ({"questionnaire": None}, 422, "names no questionnaire"),
    ({"item": [{"linkId": "44250-9", "answer": [{"valueCoding": {"system": "http://loinc.org",
                                                                 "code": "LA9999-9"}}]}]}, 422, "LA9999-9"),
    ({"item": [{"linkId": "44250-9", "answer": [{"valueInteger": 7}]}]}, 422, "7"),
    ({"item": [{"linkId": "bogus", "answer": [{"valueInteger": 1}]}]}, 422, "bogus"),
    ({"status": "in-progress"}, 422, "completed"),
    ({"subject": None}, 400, "subject is required"),
    ({"subject": {"reference": "Group/1"}}, 400, "not a Patient"),
    ({"authored": "2999-01-01"}, 422, "future"),
    ({"authored": "2026"}, 422, "day"),
])
def test_bad_content_is_refused_with_a_named_problem(api, care, changes, status, message):
    response = post(api, _mutate(care, **changes))
    assert response.status_code == status, response.content
    assert message in json.dumps(response.json())
    assert stored() == (0, 0)


def test_person_the_caller_may_not_see_is_refused_and_audited(api, care):
    for pid in (care.stranger.pid, "P-NOTREAL1"):
        response = post(api, phq9_response(pid, [1] * 9))
        assert response.status_code == 403 and response.json()["issue"][0]["code"] == "forbidden"
        assert AuditEntry.objects.filter(person_pid=pid, outcome="denied", channel="fhir").exists()
    assert stored() == (0, 0)


def test_duplicate_identifier_is_refused(api, care):
    body = phq9_response(care.person.pid, [1] * 9, identifier={"system": "urn:x", "value": "42"})
    assert post(api, body).status_code == 201
    again = post(api, body)
    assert again.status_code == 409 and "already stored" in again.json()["issue"][0]["diagnostics"]
    assert Administration.objects.count() == 1


def test_without_token_is_401(client):
    response = client.post("/fhir/QuestionnaireResponse", data="{}", content_type=FHIR)
    assert response.status_code == 401


# ---------------------------------------------------------------- search

def test_search_responses_and_observations(api, care):
    for pid, authored, scores in [(care.person.pid, "2026-01-10", [0] * 9), (care.person.pid, "2026-02-10", [3] * 9),
                                  (care.male.pid, "2026-02-11", [1] * 9)]:
        assert post(api, phq9_response(pid, scores, authored=authored)).status_code == 201
    gad = {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2026-02-12",
           "questionnaire": "https://helhet.no/fhir/Questionnaire/gad-7",
           "subject": {"reference": f"Patient/{care.person.pid}"},
           "item": [{"linkId": f"gad7-{i}", "answer": [{"valueInteger": 2}]} for i in range(1, 8)]}
    assert post(api, gad).status_code == 201, post(api, gad).content

    def total(path, **params):
        response = api.get(path, params)
        assert response.status_code == 200, response.content
        return response.json()["total"]

    assert total("/fhir/QuestionnaireResponse", patient=f"Patient/{care.person.pid}") == 2 + 1
    assert total("/fhir/QuestionnaireResponse", patient=care.person.pid, authored="ge2026-02-01") == 2
    assert total("/fhir/QuestionnaireResponse", authored=["ge2026-01-01", "lt2026-02-11"]) == 2
    assert total("/fhir/QuestionnaireResponse", questionnaire="https://helhet.no/fhir/Questionnaire/phq-9") == 3
    assert total("/fhir/QuestionnaireResponse", patient=care.stranger.pid) == 0
    assert total("/fhir/Observation", patient=care.person.pid) == 3
    assert total("/fhir/Observation", code="http://loinc.org|44261-6") == 3
    assert total("/fhir/Observation", code="http://loinc.org|70274-6") == 1
    assert total("/fhir/Observation", code="https://helhet.no/fhir/CodeSystem/score|gad-7-total") == 1
    assert total("/fhir/Observation", code="44261-6", date="2026-02-10") == 1
    assert total("/fhir/Observation", category="survey", patient=care.male.pid) == 1
    assert total("/fhir/Observation", category="laboratory") == 0
    found = api.get("/fhir/Observation", {"code": "44261-6", "patient": care.person.pid}).json()
    assert sorted(e["resource"]["valueQuantity"]["value"] for e in found["entry"]) == [0, 27]
    assert api.get("/fhir/Observation", {"date": "yesterday"}).status_code == 400
    assert AuditEntry.objects.filter(action="list", resource="Observation search").exists()


def test_capability_statement_lists_the_assessment_resources(api):
    statement = api.get("/fhir/metadata").json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"read", "search-type", "create"} <= {i["code"] for i in resources["QuestionnaireResponse"]["interaction"]}
    assert {p["name"] for p in resources["Observation"]["searchParam"]} >= {"patient", "code", "date", "category"}
    assert {"read", "search-type"} == {i["code"] for i in resources["Questionnaire"]["interaction"]}


def test_numeric_values_out_of_range_and_wrong_units_are_refused(api, care):
    def somatic(answer):
        return {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2026-01-05",
                "questionnaire": "https://helhet.no/fhir/Questionnaire/somatic-health",
                "subject": {"reference": f"Patient/{care.person.pid}"},
                "item": [{"linkId": "soma-weight", "answer": [answer]}]}

    out_of_range = post(api, somatic({"valueDecimal": 5000}))
    assert out_of_range.status_code == 422 and "outside" in out_of_range.json()["issue"][0]["diagnostics"]
    wrong_unit = post(api, somatic({"valueQuantity": {"value": 80, "code": "[lb_av]"}}))
    assert wrong_unit.status_code == 422 and "[lb_av]" in wrong_unit.json()["issue"][0]["diagnostics"]
    assert stored() == (0, 0)
    accepted = post(api, somatic({"valueQuantity": {"value": 80, "unit": "kg", "code": "kg",
                                                    "system": "http://unitsofmeasure.org"}}))
    assert accepted.status_code == 201, accepted.content
    assert Administration.objects.get().answers == {"soma-weight": 80}
