"""The FHIR endpoints' query counts do not grow with the data (locked in query_counts.json)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from .conftest import phq9_response

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"


@pytest.fixture
def history(api, care):
    for month in range(1, 10):
        for pid in (care.person.pid, care.male.pid):
            body = phq9_response(pid, [month % 4] * 9, authored=f"2026-{month:02d}-03")
            assert api.post("/fhir/QuestionnaireResponse", data=json.dumps(body), content_type=FHIR).status_code == 201
    return care


def test_create(api, history, locked_queries):
    # token, subject, (savepoint), care relationship with the user's units, administration, observations,
    # audit head under its lock, audit entry with the head's move (SQLite: a statement of its own), (release)
    body = json.dumps(phq9_response(history.person.pid, [1] * 9, identifier={"system": "urn:q", "value": "1"}))
    with locked_queries(f"fhir_questionnaireresponse_create_{connection.vendor}"):
        response = api.post("/fhir/QuestionnaireResponse", data=body, content_type=FHIR)
    assert response.status_code == 201


@pytest.mark.parametrize(("name", "path", "params"), [
    ("fhir_questionnaireresponse_search", "/fhir/QuestionnaireResponse", {"authored": "ge2026-01-01"}),
    ("fhir_observation_search", "/fhir/Observation", {"code": "http://loinc.org|44261-6"}),
])
def test_searches(api, history, locked_queries, name, path, params):
    with locked_queries(name):
        response = api.get(path, params)
    assert response.status_code == 200 and response.json()["total"] == 18 and len(response.json()["entry"]) == 18


def test_reads(api, history, locked_queries):
    found = api.get("/fhir/Observation", {"patient": history.person.pid, "_count": 1}).json()
    observation = found["entry"][0]["resource"]
    qr_id = observation["derivedFrom"][0]["reference"].split("/")[1]
    with locked_queries("fhir_observation_read"):
        assert api.get(f"/fhir/Observation/{observation['id']}").status_code == 200
    with locked_queries("fhir_questionnaireresponse_read"):
        assert api.get(f"/fhir/QuestionnaireResponse/{qr_id}").status_code == 200
