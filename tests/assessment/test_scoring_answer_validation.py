"""Answers the instrument does not have are refused with a ScoringError naming the item."""

from __future__ import annotations

from typing import Any

import pytest

from helhet.assessment.library import get_instrument
from helhet.assessment.scoring import ScoringError, score_response


@pytest.mark.parametrize(
    "instrument_id,answers,fragment",
    [
        ("phq-9", {"phq9-10": "1"}, "item 'phq9-10': is not an item"),
        ("phq-9", {"phq9-1": "4"}, "item 'phq9-1': '4' is not an answer"),
        ("phq-9", {"phq9-1": 4}, "item 'phq9-1': 4 is not an answer"),
        ("phq-9", {"phq9-1": "LA6270-8"}, "item 'phq9-1'"),  # an AUDIT LOINC answer
        ("phq-9", {"phq9-1": True}, "item 'phq9-1': expected an answer code or a score"),
        ("phq-9", {"phq9-1": ["1"]}, "item 'phq9-1'"),
        ("audit", {"audit-9": "1"}, "item 'audit-9': '1' is not an answer"),  # 9–10 score 0, 2, 4
        ("audit", {"audit-9": 3}, "item 'audit-9'"),
        ("scl-10", {"scl10-1": "0"}, "item 'scl10-1'"),  # SCL-10 runs 1–4
        ("somatic-health", {"soma-systolic": 301}, "item 'soma-systolic': 301 mm[Hg] is outside 50–300"),
        ("somatic-health", {"soma-systolic": 120.5}, "item 'soma-systolic': expected a whole number"),
        ("somatic-health", {"soma-weight": "80"}, "item 'soma-weight': expected a number"),
        ("somatic-health", {"soma-weight": float("nan")}, "item 'soma-weight': expected a number"),
        ("somatic-health", {"soma-hcv": "positive"}, "item 'soma-hcv'"),
        ("pathway-evaluation", {"eval-status-note": 5}, "item 'eval-status-note': expected text"),
    ],
)
def test_bad_answers_are_refused(instrument_id: str, answers: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ScoringError) as excinfo:
        score_response(get_instrument(instrument_id), answers)
    assert fragment in str(excinfo.value)
    assert str(excinfo.value).startswith(instrument_id)


def test_scoring_error_is_a_value_error_with_the_item() -> None:
    with pytest.raises(ValueError) as excinfo:
        score_response(get_instrument("gad-7"), {"gad7-2": "x"})
    assert isinstance(excinfo.value, ScoringError) and excinfo.value.link_id == "gad7-2"


def test_unknown_sex_value_is_refused() -> None:
    with pytest.raises(ScoringError, match="sex 'M'"):
        score_response(get_instrument("dudit"), {}, sex="M")


def test_none_answer_counts_as_unanswered() -> None:
    result = score_response(
        get_instrument("gad-7"), {f"gad7-{i}": (None if i == 3 else "1") for i in range(1, 8)}
    )
    assert result.total is None and result.missing_items == ("gad7-3",)
