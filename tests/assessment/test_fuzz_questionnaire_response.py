"""Property: no QuestionnaireResponse, however malformed, gets a 5xx from the create endpoint, and
every answer is all-or-nothing: a refusal stores nothing, an acceptance stores one administration
with all its observation rows."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helhet.assessment.models import Administration, ScoreObservation
from helhet.assessment.services import register_questionnaire
from helhet.audit.models import AuditEntry

from .conftest import INTEROP, phq9_response

pytestmark = pytest.mark.django_db

JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from(["LA6568-5", "LA6571-9", "http://loinc.org", "2026-01-01", "completed", "Patient/x",
                     "44250-9", "phq9-9", "-1", "1e309", "valueCoding"]),
)
JSON = st.recursive(JSON_LEAF, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=12)


def _own_gad7(pid: str) -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2026-01-05",
            "questionnaire": "https://helhet.no/fhir/Questionnaire/gad-7", "subject": {"reference": f"Patient/{pid}"},
            "item": [{"linkId": f"gad7-{i}", "answer": [{"valueInteger": i % 4}]} for i in range(1, 8)]}


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*here, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*here, index)))
    return found


@st.composite
def mutated(draw: Any, bases: list[dict[str, Any]]) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)  # anything at all
    resource = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(resource)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = resource
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add", "duplicate"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(JSON)
        elif action == "delete":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["valueInteger", "valueCoding", "item", "answer", "extra", "linkId"]))] = \
                draw(JSON)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return resource


@pytest.fixture
def bases(care: Any) -> list[dict[str, Any]]:
    register_questionnaire(json.loads((INTEROP / "mii-gad-7.questionnaire.json").read_text()))
    mii = json.loads((INTEROP / "mii-gad-7.response.json").read_text())
    mii["subject"] = {"reference": f"Patient/{care.person.pid}"}
    return [phq9_response(care.person.pid, [1, 2, 0, 3, 1, 0, 2, 1, 1]), mii, _own_gad7(care.male.pid),
            phq9_response(care.stranger.pid, [0] * 9),
            phq9_response(care.person.pid, [0] * 9, identifier={"system": "urn:x", "value": "dup"})]


def test_random_and_mutated_responses_never_500_and_never_half_write(api: Any, bases: list[dict[str, Any]]) -> None:
    outcomes: dict[int, int] = {}

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(body=mutated(bases))
    def check(body: Any) -> None:
        before = Administration.objects.count(), ScoreObservation.objects.count()
        writes_before = AuditEntry.objects.filter(action="create", outcome="allowed").count()
        try:
            data = json.dumps(body)
        except (ValueError, RecursionError):
            return
        response = api.post("/fhir/QuestionnaireResponse", data=data, content_type="application/fhir+json")
        outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.content[:500]
        answer = response.json()
        after = Administration.objects.count(), ScoreObservation.objects.count()
        if response.status_code == 201:
            assert after[0] == before[0] + 1
            administration = Administration.objects.latest("pk")
            rows = administration.observations.count()
            assert rows >= 1 and after[1] == before[1] + rows
            published = [e for e in answer["entry"] if e["resource"]["resourceType"] == "Observation"]
            assert len(published) == administration.observations.filter(fhir_resource=True).count()
            writes = AuditEntry.objects.filter(action="create", outcome="allowed").order_by("-seq")
            assert writes.count() == writes_before + 1 and writes[0].person_pid == administration.person.pid
        else:
            assert 400 <= response.status_code < 500
            assert answer["resourceType"] == "OperationOutcome" and answer["issue"][0]["diagnostics"]
            assert after == before
            assert AuditEntry.objects.filter(action="create", outcome="allowed").count() == writes_before

    check()
    # The generator reached both sides: accepted responses and several kinds of refusal.
    assert outcomes.get(201, 0) > 0 and len([s for s in outcomes if 400 <= s < 500]) >= 3, outcomes


@pytest.mark.parametrize("depth", [40, 400, 20_000, 100_000])
def test_absurdly_deep_nesting_or_huge_bodies_are_4xx_not_500(api: Any, care: Any, depth: int) -> None:
    text = json.dumps(phq9_response(care.person.pid, [1] * 9))
    nested_json = text[:-1] + ', "contained": ' + "[" * depth + "]" * depth + "}"
    nested_items = text[:-1].replace('"item": [', '"item": [' + '{"linkId": "g", "item": [' * depth, 1)
    nested_items = nested_items.replace("]", "]" + "]}" * depth, 1) + "}"
    for body in (nested_json, nested_items):
        response = api.post("/fhir/QuestionnaireResponse", data=body, content_type="application/fhir+json")
        assert response.status_code in (400, 413, 422), response.content[:300]
        assert response.json()["resourceType"] == "OperationOutcome"
    assert Administration.objects.count() == 0
