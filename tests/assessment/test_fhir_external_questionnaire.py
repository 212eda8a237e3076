"""Matching another system's Questionnaire: the MII GAD-7 pair scores 13; incomplete matches are refused."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helhet.assessment.fhir_mapping import (
    ExternalQuestionnaireMapping,
    QuestionnaireMatchError,
    extract_answers,
    match_external_questionnaire,
    questionnaire_resource,
    resolve_questionnaire,
)
from helhet.assessment.library import LOINC_SYSTEM, get_instrument
from helhet.assessment.scoring import score_response

MII_URL = "https://www.medizininformatik-initiative.de/fhir/ext/modul-pro/Questionnaire/mii-qst-pro-gad-7"


def test_mii_gad7_pair_scores_13(load_fixture: Callable[[str], Any]) -> None:
    mapping = match_external_questionnaire(load_fixture("mii-gad-7.questionnaire.json"))
    assert mapping.instrument_id == "gad-7" and mapping.external_url == MII_URL
    assert mapping.link_ids["phq-gad7-q01"] == "gad7-1" and mapping.link_ids["phq-gad7-q07"] == "gad7-7"
    assert mapping.declared_total_link_ids == ("phq-gad7-score-total",)
    assert mapping.ignored_link_ids == ("phq-gad7-promis-tscore",)

    response = load_fixture("mii-gad-7.response.json")
    instrument, found = resolve_questionnaire(response, [mapping])
    assert instrument.id == "gad-7" and found is mapping
    extracted = extract_answers(instrument, response, mapping)
    result = score_response(instrument, extracted.answers)
    assert result.total == 13
    assert result.band is not None and result.band.code == "moderate"
    assert extracted.declared_total == 13 and extracted.declared_total_link_id == "phq-gad7-score-total"
    assert extracted.ignored_link_ids == ("phq-gad7-promis-tscore",)


def test_mapping_survives_a_json_round_trip(load_fixture: Callable[[str], Any]) -> None:
    mapping = match_external_questionnaire(load_fixture("mii-gad-7.questionnaire.json"))
    again = ExternalQuestionnaireMapping.from_json(mapping.to_json())
    assert again == mapping
    response = load_fixture("mii-gad-7.response.json")
    assert (
        score_response(
            get_instrument("gad-7"), extract_answers(get_instrument("gad-7"), response, again).answers
        ).total
        == 13
    )


def test_items_that_cannot_be_matched_are_listed(load_fixture: Callable[[str], Any]) -> None:
    questionnaire = load_fixture("mii-gad-7.questionnaire.json")
    questionnaire["item"][3]["code"] = [
        {"system": "http://example.org/local", "code": "q3"}
    ]  # gad7-3 loses LOINC
    del questionnaire["item"][6]["code"]  # gad7-6 too
    with pytest.raises(QuestionnaireMatchError) as excinfo:
        match_external_questionnaire(questionnaire)
    assert excinfo.value.failures == ("gad7-3 (LOINC 69733-4 not found)", "gad7-6 (LOINC 69689-8 not found)")
    assert "cannot be matched completely to gad-7" in str(excinfo.value)


def test_answers_matched_by_ordinal_value_alone(load_fixture: Callable[[str], Any]) -> None:
    questionnaire = load_fixture("mii-gad-7.questionnaire.json")
    for item in questionnaire["item"]:
        for option in item.get("answerOption", []):
            coding = option["valueCoding"]
            coding.update(system="http://example.org/answers", code="A" + coding["code"])
    mapping = match_external_questionnaire(questionnaire)
    assert mapping.answers["phq-gad7-q01"]["http://example.org/answers|ALA6571-9"] == "3"
    response = load_fixture("mii-gad-7.response.json")
    for item in response["item"]:
        coding = item["answer"][0].get("valueCoding")
        if coding:
            coding.update(system="http://example.org/answers", code="A" + coding["code"])
    assert (
        score_response(
            get_instrument("gad-7"), extract_answers(get_instrument("gad-7"), response, mapping).answers
        ).total
        == 13
    )


def test_answer_without_loinc_code_or_ordinal_is_refused(load_fixture: Callable[[str], Any]) -> None:
    questionnaire = load_fixture("mii-gad-7.questionnaire.json")
    option = questionnaire["item"][2]["answerOption"][1]
    option["valueCoding"] = {"system": "http://example.org/answers", "code": "some-days"}
    del option["extension"]
    with pytest.raises(QuestionnaireMatchError) as excinfo:
        match_external_questionnaire(questionnaire)
    (failure,) = excinfo.value.failures
    assert failure.startswith("gad7-2 (LOINC 68509-9, external 'phq-gad7-q02')")
    assert "http://example.org/answers|some-days" in failure


def test_loinc_code_and_ordinal_value_that_disagree_are_refused(load_fixture: Callable[[str], Any]) -> None:
    questionnaire = load_fixture("mii-gad-7.questionnaire.json")
    questionnaire["item"][1]["answerOption"][3]["extension"][0]["valueDecimal"] = 4
    with pytest.raises(QuestionnaireMatchError, match="ordinalValue is 4"):
        match_external_questionnaire(questionnaire)


def test_instrument_recognised_from_item_codes_without_panel_code() -> None:
    # An AUDIT-C form coded like HL7 US Core's (items 68518-0, 68519-8, 68520-6) but without Questionnaire.code.
    ours = questionnaire_resource(get_instrument("audit-c"), "en")
    external: dict[str, Any] = copy.deepcopy(ours)
    external.pop("code")
    external["url"] = "http://example.org/Questionnaire/audit-c"
    for item in external["item"]:
        item["linkId"] = "/" + item.get("code", [{"code": item["linkId"]}])[0]["code"]
    mapping = match_external_questionnaire(external)
    assert mapping.instrument_id == "audit-c"  # not AUDIT, which shares the three item codes
    assert mapping.link_ids == {"/68518-0": "auditc-1", "/68519-8": "auditc-2", "/68520-6": "auditc-3"}


def test_form_with_no_known_codes_is_refused() -> None:
    external: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "url": "http://example.org/q",
        "item": [{"linkId": "1", "type": "choice", "code": [{"system": LOINC_SYSTEM, "code": "8480-6"}]}],
    }
    with pytest.raises(QuestionnaireMatchError, match="cannot be matched completely"):
        match_external_questionnaire(external, instrument=get_instrument("dudit"))
    external["item"][0]["code"] = [{"system": LOINC_SYSTEM, "code": "1234-5"}]
    with pytest.raises(QuestionnaireMatchError, match="no instrument in the library matches"):
        match_external_questionnaire(external)


def test_instruments_without_loinc_item_codes_cannot_be_matched() -> None:
    external = {"resourceType": "Questionnaire", "url": "http://example.org/dudit", "item": []}
    with pytest.raises(QuestionnaireMatchError) as excinfo:
        match_external_questionnaire(external, instrument=get_instrument("dudit"))
    assert excinfo.value.failures[0] == "dudit-1 (has no LOINC code to match by)"
    assert len(excinfo.value.failures) == 11


def test_deeply_nested_questionnaire_is_refused() -> None:
    items: list[dict[str, Any]] = []
    for level in range(5000):
        items = [{"linkId": f"g{level}", "type": "group", "item": items}]
    with pytest.raises(QuestionnaireMatchError, match="nested more than"):
        match_external_questionnaire(
            {"resourceType": "Questionnaire", "url": "http://x", "item": items},
            instrument=get_instrument("gad-7"),
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"resourceType": "QuestionnaireResponse"},
        {"resourceType": "Questionnaire"},
        {
            "resourceType": "Questionnaire",
            "url": "https://helhet.no/fhir/Questionnaire/gad-7",
            "code": [{"system": LOINC_SYSTEM, "code": "69737-5"}],
        },
        {"resourceType": "Questionnaire", "url": "http://x", "item": "not a list"},
    ],
)
def test_not_a_matchable_questionnaire(bad: dict[str, Any]) -> None:
    with pytest.raises(QuestionnaireMatchError):
        match_external_questionnaire(bad)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True)
    | st.sampled_from(["69725-0", "68509-9", LOINC_SYSTEM, "LA6568-5", "choice", "group", "http://x", ""]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "linkId",
                    "code",
                    "item",
                    "type",
                    "answerOption",
                    "valueCoding",
                    "valueInteger",
                    "system",
                    "extension",
                    "url",
                    "valueDecimal",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(json_values, st.sampled_from([None, "gad-7", "phq-9"]))
def test_any_json_is_matched_or_refused_with_a_match_error(items: Any, instrument_id: str | None) -> None:
    questionnaire = {"resourceType": "Questionnaire", "url": "http://example.org/q", "item": items}
    try:
        match_external_questionnaire(
            questionnaire, instrument=get_instrument(instrument_id) if instrument_id else None
        )
    except QuestionnaireMatchError:
        pass
