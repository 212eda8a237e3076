"""Reading QuestionnaireResponses: our linkIds, LOINC item codes with LA answers, numbers; clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helhet.assessment.fhir_mapping import (
    FhirMappingError,
    ResponseExtractionError,
    answer_system,
    extract_answers,
    resolve_questionnaire,
)
from helhet.assessment.library import LOINC_SYSTEM, get_instrument
from helhet.assessment.scoring import ScoringError, score_response

PHQ = get_instrument("phq-9")
PHQ_ITEMS = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
LA = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}


def loinc_phq9_response(
    scores: list[int], *, link_prefix: str = "", total: int | None = None
) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"linkId": link_prefix + code, "answer": [{"valueCoding": {"system": LOINC_SYSTEM, "code": LA[s]}}]}
        for code, s in zip(PHQ_ITEMS, scores, strict=True)
    ]
    if total is not None:
        items.append({"linkId": link_prefix + "44261-6", "answer": [{"valueInteger": total}]})
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://helhet.no/fhir/Questionnaire/phq-9",
        "item": items,
    }


def test_phq9_coded_only_with_loinc_items_and_la_answers() -> None:
    response = loinc_phq9_response([3, 2, 2, 1, 1, 1, 0, 0, 1], total=11)  # 11
    extracted = extract_answers(PHQ, response)
    assert extracted.answers == {
        "phq9-1": "3",
        "phq9-2": "2",
        "phq9-3": "2",
        "phq9-4": "1",
        "phq9-5": "1",
        "phq9-6": "1",
        "phq9-7": "0",
        "phq9-8": "0",
        "phq9-9": "1",
    }
    assert extracted.declared_total == 11
    result = score_response(PHQ, extracted.answers)
    assert result.total == 11 and result.band is not None and result.band.code == "moderate"
    assert [f.code for f in result.flags] == ["self-harm-thoughts"]


def test_lhc_forms_style_link_ids_and_nested_groups() -> None:
    response = loinc_phq9_response([1] * 9, link_prefix="/")
    response["item"] = [{"linkId": "/44249-1", "item": response["item"]}]
    assert score_response(PHQ, extract_answers(PHQ, response).answers).total == 9


def test_declared_total_that_disagrees_is_reported_for_the_caller_to_warn() -> None:
    response = loinc_phq9_response([1] * 9, total=12)
    extracted = extract_answers(PHQ, response)
    assert extracted.declared_total == 12
    assert score_response(PHQ, extracted.answers).total == 9


def test_our_link_ids_with_our_codes_integers_and_versioned_canonical() -> None:
    gad = get_instrument("gad-7")
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://helhet.no/fhir/Questionnaire/gad-7|1.0.0",
        "item": [
            {"linkId": "gad7-1", "answer": [{"valueCoding": {"system": answer_system(gad), "code": "2"}}]},
            {"linkId": "gad7-2", "answer": [{"valueCoding": {"code": "LA6571-9"}}]},
            {"linkId": "gad7-3", "answer": [{"valueInteger": 1}]},
            {"linkId": "gad7-4", "answer": [{"valueDecimal": 0}]},
            {"linkId": "gad7-5", "answer": [{"valueCoding": {"code": "3"}}]},
            {"linkId": "gad7-6", "answer": [{"valueCoding": {"system": LOINC_SYSTEM, "code": "LA6568-5"}}]},
            {"linkId": "gad7-7"},  # unanswered
            {"linkId": "gad-7-intro"},  # the display item
        ],
    }
    instrument, mapping = resolve_questionnaire(response)
    assert instrument is gad and mapping is None
    extracted = extract_answers(gad, response)
    assert extracted.answers == {
        "gad7-1": "2",
        "gad7-2": "3",
        "gad7-3": 1,
        "gad7-4": 0,
        "gad7-5": "3",
        "gad7-6": "0",
    }
    result = score_response(gad, extracted.answers)
    assert result.total is None and result.missing_items == ("gad7-7",)


def test_numeric_and_text_items() -> None:
    soma = get_instrument("somatic-health")
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {
                "linkId": "soma-weight",
                "answer": [
                    {
                        "valueQuantity": {
                            "value": 81.5,
                            "unit": "kg",
                            "system": "http://unitsofmeasure.org",
                            "code": "kg",
                        }
                    }
                ],
            },
            {"linkId": "8302-2", "answer": [{"valueDecimal": 178}]},  # height by its LOINC code
            {"linkId": "soma-systolic", "answer": [{"valueInteger": 142}]},
        ],
    }
    result = score_response(soma, extract_answers(soma, response).answers)
    assert result.derived[0].value == 25.7 and "high-blood-pressure" in {f.code for f in result.flags}
    evaluation = get_instrument("pathway-evaluation")
    text = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "eval-plan-update-note", "answer": [{"valueString": "Nytt mål: arbeid."}]}],
    }
    assert extract_answers(evaluation, text).answers == {"eval-plan-update-note": "Nytt mål: arbeid."}


@pytest.mark.parametrize(
    "change,link,fragment",
    [
        (
            lambda r: r["item"].append({"linkId": "phq9-99", "answer": [{"valueInteger": 1}]}),
            "phq9-99",
            "is neither a linkId nor a LOINC item code of phq-9",
        ),
        (lambda r: r["item"][0]["answer"].append({"valueInteger": 1}), "44250-9", "expected one answer"),
        (
            lambda r: r["item"][1]["answer"][0]["valueCoding"].update(code="LA6270-8"),
            "44255-8",
            "http://loinc.org|LA6270-8 is not an answer of phq9-2",
        ),
        (
            lambda r: r["item"][2]["answer"][0]["valueCoding"].update(system="http://snomed.info/sct"),
            "44259-0",
            "code system 'http://snomed.info/sct' is not understood",
        ),
        (
            lambda r: r["item"][3].update(answer=[{"valueString": "often"}]),
            "44254-1",
            "valueString cannot answer a choice",
        ),
        (
            lambda r: r["item"][4].update(answer=[{"valueBoolean": True}]),
            "44251-7",
            "valueBoolean cannot answer",
        ),
        (
            lambda r: r["item"][5].update(answer=[{"valueInteger": 1, "valueString": "x"}]),
            "44258-2",
            "exactly one value",
        ),
        (
            lambda r: r["item"].append({"linkId": "phq9-1", "answer": [{"valueInteger": 1}]}),
            "phq9-1",
            "answers phq9-1 again",
        ),
        (
            lambda r: r["item"].append({"linkId": "44261-6", "answer": [{"valueString": "11"}]}),
            "44261-6",
            "a declared total must be a number",
        ),
    ],
)
def test_bad_items_are_named(change: Any, link: str, fragment: str) -> None:
    response = loinc_phq9_response([1] * 9)
    change(response)
    with pytest.raises(ResponseExtractionError) as excinfo:
        extract_answers(PHQ, response)
    assert excinfo.value.link_id == link and fragment in str(excinfo.value)


def test_value_out_of_range_is_a_scoring_error_naming_the_item() -> None:
    response = loinc_phq9_response([1] * 9)
    response["item"][0]["answer"] = [{"valueInteger": 7}]
    with pytest.raises(ScoringError, match="item 'phq9-1': 7 is not an answer"):
        score_response(PHQ, extract_answers(PHQ, response).answers)


def test_unit_mismatch_is_refused() -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "soma-weight", "answer": [{"valueQuantity": {"value": 180, "code": "[lb_av]"}}]}],
    }
    with pytest.raises(ResponseExtractionError, match="unit"):
        extract_answers(get_instrument("somatic-health"), response)


@pytest.mark.parametrize(
    "response,fragment",
    [
        ({"resourceType": "Questionnaire"}, "not a FHIR QuestionnaireResponse"),
        (
            {
                "resourceType": "QuestionnaireResponse",
                "questionnaire": "https://helhet.no/fhir/Questionnaire/gad-7",
            },
            "is not https://helhet.no/fhir/Questionnaire/phq-9",
        ),
        ({"resourceType": "QuestionnaireResponse", "item": {"linkId": "x"}}, "expected a list"),
        (
            {"resourceType": "QuestionnaireResponse", "item": [{"answer": [{"valueInteger": 1}]}]},
            "without a linkId",
        ),
    ],
)
def test_malformed_responses(response: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ResponseExtractionError, match=fragment):
        extract_answers(PHQ, response)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    items: list[dict[str, Any]] = [{"linkId": "phq9-1", "answer": [{"valueInteger": 1}]}]
    for level in range(5000):
        items = [{"linkId": f"group-{level}", "item": items}]
    with pytest.raises(ResponseExtractionError, match="nested more than"):
        extract_answers(PHQ, {"resourceType": "QuestionnaireResponse", "item": items})


def test_unknown_questionnaire_is_refused() -> None:
    with pytest.raises(FhirMappingError, match="unknown questionnaire"):
        resolve_questionnaire(
            {"resourceType": "QuestionnaireResponse", "questionnaire": "http://example.org/q"}
        )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 50)
    | st.floats(allow_nan=True)
    | st.sampled_from(["phq9-1", "44250-9", "LA6569-3", "http://loinc.org", "1", "44261-6", ""]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "linkId",
                    "answer",
                    "item",
                    "valueCoding",
                    "valueInteger",
                    "valueDecimal",
                    "valueString",
                    "valueQuantity",
                    "system",
                    "code",
                    "value",
                    "unit",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_any_json_is_read_or_refused_with_a_mapping_error(items: Any) -> None:
    # The API turns these two error types into 4xx; nothing else may escape (it would be a 5xx).
    response = {"resourceType": "QuestionnaireResponse", "item": items}
    try:
        extracted = extract_answers(PHQ, response)
        score_response(PHQ, extracted.answers)
    except (FhirMappingError, ScoringError):
        pass
