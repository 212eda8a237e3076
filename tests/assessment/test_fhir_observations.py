"""Scored results as FHIR R4(B) Observations: category survey, LOINC or our code, derivedFrom the response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation

from helhet.assessment.fhir_mapping import BAND_SYSTEM, SCORE_SYSTEM, bundle_json, observations_for
from helhet.assessment.library import LOINC_SYSTEM, get_instrument
from helhet.assessment.scoring import ScoreResult, score_response

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)

REFS: dict[str, Any] = {
    "subject_ref": "Patient/p-123",
    "qr_ref": "QuestionnaireResponse/qr-1",
    "effective": "2026-03-01T10:00:00+01:00",
}


def components(observation: dict[str, Any]) -> dict[str, Any]:
    return {c["code"]["coding"][-1]["code"]: c for c in observation.get("component", [])}


def test_phq9_total_observation(score_items: ScoreItems) -> None:
    phq = get_instrument("phq-9")
    (observation,) = observations_for(score_items("phq-9", [2, 2, 2, 2, 2, 0, 0, 0, 1]), phq, **REFS)
    Observation.model_validate(observation)
    assert observation["category"][0]["coding"][0]["code"] == "survey"
    assert observation["code"]["coding"][0] == {"system": LOINC_SYSTEM, "code": "44261-6"}
    assert observation["valueQuantity"] == {
        "value": 11,
        "unit": "{score}",
        "system": "http://unitsofmeasure.org",
        "code": "{score}",
    }
    assert observation["interpretation"][0]["coding"][0] == {
        "system": BAND_SYSTEM,
        "code": "phq-9-moderate",
        "display": "Moderate",
    }
    assert observation["derivedFrom"] == [{"reference": "QuestionnaireResponse/qr-1"}]
    assert observation["subject"] == {"reference": "Patient/p-123"}
    parts = components(observation)
    assert parts["phq-9-cutoff-caseness"]["valueBoolean"] is True
    assert parts["phq-9-flag-self-harm-thoughts"]["valueBoolean"] is True


def test_absent_total_has_a_data_absent_reason(score_items: ScoreItems) -> None:
    (observation,) = observations_for(
        score_items("phq-9", [2, 2, 2, 2, 2, 0, 0, 0, None]), get_instrument("phq-9"), **REFS
    )
    Observation.model_validate(observation)
    assert "valueQuantity" not in observation and "interpretation" not in observation
    assert observation["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert "phq9-9" in observation["dataAbsentReason"]["text"]
    flag = components(observation)["phq-9-flag-self-harm-thoughts"]
    assert "valueBoolean" not in flag and "phq9-9" in flag["dataAbsentReason"]["text"]


def test_dudit_uses_our_code_and_gives_both_readings(score_items: ScoreItems) -> None:
    (observation,) = observations_for(
        score_items("dudit", [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]), get_instrument("dudit"), **REFS
    )
    Observation.model_validate(observation)
    assert observation["code"]["coding"] == [
        {"system": SCORE_SYSTEM, "code": "dudit-total", "display": observation["code"]["text"]}
    ]
    parts = components(observation)
    assert parts["dudit-cutoff-positive-male"]["valueBoolean"] is False
    assert parts["dudit-cutoff-positive-female"]["valueBoolean"] is True
    assert parts["dudit-cutoff-probable-dependence"]["valueBoolean"] is False


def test_audit_subscales_are_components(score_items: ScoreItems) -> None:
    (observation,) = observations_for(
        score_items("audit", [3, 2, 1, 1, 0, 2, 1, 1, 2, 4], sex="male"), get_instrument("audit"), **REFS
    )
    Observation.model_validate(observation)
    parts = components(observation)
    assert parts["audit-consumption"]["valueQuantity"]["value"] == 6
    assert parts["audit-harm"]["valueQuantity"]["value"] == 8
    assert parts["audit-flag-step-up"]["valueBoolean"] is True
    assert parts["audit-cutoff-increased-risk-male"]["valueBoolean"] is True


def test_scl10_mean_observation(score_items: ScoreItems) -> None:
    (observation,) = observations_for(score_items("scl-10", [2] * 9 + [1]), get_instrument("scl-10"), **REFS)
    Observation.model_validate(observation)
    assert observation["code"]["coding"][-1]["code"] == "scl-10-mean"
    assert observation["valueQuantity"]["value"] == 1.9


def test_somatic_check_gives_bmi_and_flags() -> None:
    soma = get_instrument("somatic-health")
    result = score_response(
        soma, {"soma-weight": 98, "soma-height": 180, "soma-smoking": "daily"}, sex="female"
    )
    flags, bmi = observations_for(result, soma, **REFS)
    for observation in (flags, bmi):
        Observation.model_validate(observation)
    assert "valueQuantity" not in flags and "dataAbsentReason" not in flags
    assert components(flags)["somatic-health-flag-daily-smoking"]["valueBoolean"] is True
    assert bmi["code"]["coding"][0] == {"system": LOINC_SYSTEM, "code": "39156-5"}
    assert bmi["valueQuantity"]["value"] == 30.2 and bmi["valueQuantity"]["code"] == "kg/m2"
    assert bmi["interpretation"][0]["coding"][0]["code"] == "somatic-health-obesity"


def test_observations_without_subject_and_in_a_bundle(score_items: ScoreItems) -> None:
    observations = observations_for(
        score_items("gad-7", [1] * 7),
        get_instrument("gad-7"),
        subject_ref=None,
        qr_ref="QuestionnaireResponse/2",
        effective="2026-01-05",
    )
    assert "subject" not in observations[0]
    bundle = Bundle.model_validate_json(bundle_json(observations))
    assert bundle.type == "collection" and len(bundle.entry or []) == 1
