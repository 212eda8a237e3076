"""Validation that reuses validated elements (helhet.fhir.validation) decides exactly as plain R4B validation."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse, QuestionnaireResponseItem
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from helhet.fhir import validation
from tests.assessment.conftest import phq9_response

REUSE = {"item": QuestionnaireResponseItem}


def outcome(validate: Any, resource: dict[str, Any]) -> tuple[str, str]:
    """Valid or not, and the model or the errors as text (so that a NaN compares equal to itself)."""
    try:
        return "valid", repr(validate(resource).model_dump())
    except ValidationError as exc:
        return "invalid", repr(exc.errors(include_url=False))


def plain(resource: dict[str, Any]) -> Any:
    return QuestionnaireResponse.model_validate(resource)


def reusing(resource: dict[str, Any]) -> Any:
    return validation.model_validate(QuestionnaireResponse, resource, REUSE)


@pytest.fixture(autouse=True)
def empty_memory() -> None:
    validation._validated.clear()


def test_a_valid_response_validates_to_the_same_model_and_its_items_are_validated_once() -> None:
    first, second = phq9_response("p1", [1, 2, 3, 0, 1, 2, 3, 0, 1]), phq9_response("p2", [1, 2, 3, 0, 1, 2, 3, 0, 1])
    assert outcome(reusing, first) == outcome(plain, first)
    remembered = dict(validation._validated)
    assert len(remembered) == len({str(item) for item in first["item"]})
    model = reusing(second)
    assert all(any(item is kept for kept in remembered.values()) for item in model.item)
    assert validation._validated == remembered  # nothing new: every item of the second was validated before


@pytest.mark.parametrize("broken_item", [
    {"linkId": "44250-9", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": 7}}]},
    {"linkId": "44250-9", "answer": [{"valueCoding": {"code": "LA6568-5"}, "valueString": "two values"}]},
    {"linkId": ["not", "a", "string"]},
    {"linkId": "44250-9", "answer": [{"valueDecimal": math.nan}]},
    {"linkId": "44250-9", "answer": None},
    {"linkId": "44250-9", "unknownElement": True},
])
def test_an_invalid_item_gets_the_same_errors_and_is_never_remembered(broken_item: dict[str, Any]) -> None:
    resource = phq9_response("p1", [1, 2, 3, 0, 1, 2, 3, 0, 1])
    resource["item"].insert(3, broken_item)
    for _attempt in range(2):  # the second time too: a refusal is not remembered as anything
        assert outcome(reusing, resource) == outcome(plain, resource)
    assert all(b"unknownElement" not in text and b"[\"not\"" not in text for _model, text in validation._validated)


def test_null_and_nan_are_not_taken_for_each_other() -> None:
    """orjson writes NaN as null: elements whose text has a null are never reused."""
    with_nan: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "status": "completed",
                "item": [{"linkId": "x", "answer": [{"valueDecimal": math.nan}]}]}
    with_null = copy.deepcopy(with_nan)
    with_null["item"][0]["answer"][0]["valueDecimal"] = None
    for resource in (with_nan, with_null, with_nan):
        assert outcome(reusing, resource) == outcome(plain, resource)
    assert not validation._validated


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "MAX_ELEMENTS", 3)
    for n in range(10):
        reusing({"resourceType": "QuestionnaireResponse", "status": "completed",
                 "item": [{"linkId": f"item-{n}", "text": "a question"}]})
        assert len(validation._validated) <= 3


values = st.one_of(st.text(max_size=3), st.integers(-2, 2), st.booleans(), st.none(),
                   st.floats(allow_nan=True, allow_infinity=True, width=32))
answers = st.lists(st.dictionaries(st.sampled_from(["valueString", "valueInteger", "valueBoolean", "valueDecimal",
                                                    "valueCoding", "item", "_valueString"]),
                                   st.one_of(values, st.fixed_dictionaries({"code": values}), st.lists(values,
                                                                                                      max_size=2)),
                                   max_size=2), max_size=2)
items = st.lists(st.fixed_dictionaries({"linkId": st.one_of(st.sampled_from(["a", "b"]), values)},
                                       optional={"answer": answers, "text": values, "item": st.just([{"linkId": "c"}])}),
                 min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.lists(items, min_size=1, max_size=3))
def test_random_items_are_decided_as_plain_validation_decides(batches: list[list[dict[str, Any]]]) -> None:
    """Several resources in a row, sharing items, so that remembered items are reused across them."""
    for batch in batches:
        resource = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": batch}
        assert outcome(reusing, resource) == outcome(plain, resource)
