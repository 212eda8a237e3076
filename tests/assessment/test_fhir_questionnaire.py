"""Every instrument publishes as a valid FHIR R4(B) Questionnaire with LOINC codes and ordinal values."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from helhet.assessment.fhir_mapping import ORDINAL_VALUE_URL, answer_system, questionnaire_resource
from helhet.assessment.library import LOINC_SYSTEM, all_instruments, get_instrument

IDS = sorted(i.id for i in all_instruments())


@pytest.mark.parametrize("lang", ["nb", "en"])
@pytest.mark.parametrize("instrument_id", IDS)
def test_questionnaire_validates_as_r4b(instrument_id: str, lang: str) -> None:
    resource = questionnaire_resource(get_instrument(instrument_id), lang)
    model = Questionnaire.model_validate(resource)
    assert model.url == f"https://helhet.no/fhir/Questionnaire/{instrument_id}"
    assert resource["language"] == lang


def test_phq9_items_carry_loinc_codes_and_ordinal_values() -> None:
    resource = questionnaire_resource(get_instrument("phq-9"), "en")
    assert resource["code"] == [{"system": LOINC_SYSTEM, "code": "44249-1"}]
    intro, first = resource["item"][0], resource["item"][1]
    assert intro["type"] == "display"
    assert first["linkId"] == "phq9-1" and first["code"] == [{"system": LOINC_SYSTEM, "code": "44250-9"}]
    assert first["text"] == "Little interest or pleasure in doing things"
    assert [(o["valueCoding"]["code"], o["extension"][0]["valueDecimal"]) for o in first["answerOption"]] == [
        ("LA6568-5", 0),
        ("LA6569-3", 1),
        ("LA6570-1", 2),
        ("LA6571-9", 3),
    ]
    assert all(o["extension"][0]["url"] == ORDINAL_VALUE_URL for o in first["answerOption"])


def test_answers_without_loinc_codes_use_our_code_system() -> None:
    scl = get_instrument("scl-10")
    item = questionnaire_resource(scl, "nb")["item"][1]
    assert "code" not in item  # no LOINC item code confirmed for SCL-10
    first = item["answerOption"][0]
    assert first["valueCoding"] == {"system": answer_system(scl), "code": "1", "display": "Ikke plaget"}
    assert first["extension"] == [{"url": ORDINAL_VALUE_URL, "valueDecimal": 1}]


def test_unscored_answers_have_no_ordinal_value() -> None:
    difficulty = next(
        i
        for i in questionnaire_resource(get_instrument("phq-9"), "en")["item"]
        if i["linkId"] == "phq9-difficulty"
    )
    assert difficulty["code"] == [{"system": LOINC_SYSTEM, "code": "69722-7"}]
    assert all("extension" not in o for o in difficulty["answerOption"])


def test_numeric_items_carry_unit_and_limits() -> None:
    items = {i["linkId"]: i for i in questionnaire_resource(get_instrument("somatic-health"), "nb")["item"]}
    systolic = items["soma-systolic"]
    assert systolic["type"] == "integer" and systolic["code"][0]["code"] == "8480-6"
    assert {
        e["url"].rsplit("/", 1)[1]: e.get("valueInteger", e.get("valueCoding")) for e in systolic["extension"]
    } == {
        "questionnaire-unit": {"system": "http://unitsofmeasure.org", "code": "mm[Hg]", "display": "mm[Hg]"},
        "minValue": 50,
        "maxValue": 300,
    }
    assert items["soma-weight"]["type"] == "decimal"


def test_unsupported_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        questionnaire_resource(get_instrument("gad-7"), "de")
