"""PHQ-9: totals at every band edge, caseness, the item 9 flag, missing items, coded answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helhet.assessment.library import get_instrument
from helhet.assessment.scoring import ScoreResult, score_response

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)

# Hand-computed: (item scores 1..9, total, band). Bands 0–4, 5–9, 10–14, 15–19, 20–27 (Kroenke 2001).
BAND_EDGES = [
    ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "minimal"),
    ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),
    ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
    ([3, 3, 3, 0, 0, 0, 0, 0, 0], 9, "mild"),
    ([2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "moderate"),
    ([3, 3, 3, 3, 2, 0, 0, 0, 0], 14, "moderate"),
    ([3, 3, 3, 3, 3, 0, 0, 0, 0], 15, "moderately-severe"),
    ([3, 3, 3, 3, 3, 2, 2, 0, 0], 19, "moderately-severe"),
    ([3, 3, 3, 3, 3, 3, 2, 0, 0], 20, "severe"),
    ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe"),
]


@pytest.mark.parametrize("scores,total,band", BAND_EDGES)
def test_band_edges(score_items: ScoreItems, scores: list[int], total: int, band: str) -> None:
    result = score_items("phq-9", scores)
    assert result.total == total
    assert result.score == total
    assert result.band is not None and result.band.code == band
    assert result.missing_reason is None
    assert bool(result.flags) is (scores[8] > 0)  # only the all-3 case has item 9 above 0


@pytest.mark.parametrize(
    "scores,case",
    [
        ([1, 1, 1, 1, 1, 1, 1, 1, 1], False),  # 9
        ([2, 1, 1, 1, 1, 1, 1, 1, 1], True),
    ],
)  # 10
def test_caseness_edge(score_items: ScoreItems, scores: list[int], case: bool) -> None:
    (reading,) = score_items("phq-9", scores).cutoffs
    assert (reading.code, reading.sex, reading.threshold, reading.positive) == ("caseness", "any", 10, case)


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_item_9_above_zero_raises_the_self_harm_flag(score_items: ScoreItems, item9: int) -> None:
    result = score_items("phq-9", [0, 0, 0, 0, 0, 0, 0, 0, item9])
    assert result.total == item9 and result.band is not None and result.band.code == "minimal"
    (flag,) = result.flags
    assert flag.code == "self-harm-thoughts" and flag.severity == "high" and flag.items == ("phq9-9",)


def test_unanswered_item_9_leaves_the_flag_undetermined(score_items: ScoreItems) -> None:
    result = score_items("phq-9", [0, 0, 0, 0, 0, 0, 0, 0, None])
    assert result.flags == ()
    (undetermined,) = result.flags_undetermined
    assert undetermined.code == "self-harm-thoughts" and undetermined.items == ("phq9-9",)


def test_one_missing_item_means_no_total_never_zero(score_items: ScoreItems) -> None:
    result = score_items("phq-9", [3, 3, 3, None, 3, 3, 3, 3, 0])
    assert result.total is None and result.score is None
    assert result.band is None and result.cutoffs == ()
    assert result.missing_items == ("phq9-4",)
    assert result.missing_reason is not None and "phq9-4" in result.missing_reason
    assert result.item_scores["phq9-1"] == 3  # per-item scores are still reported


def test_empty_response_has_no_total(score_items: ScoreItems) -> None:
    result = score_items("phq-9", [None] * 9)
    assert result.total is None and result.missing_items == tuple(f"phq9-{i}" for i in range(1, 10))


def test_functional_item_is_recorded_but_not_scored() -> None:
    phq = get_instrument("phq-9")
    answers = {f"phq9-{i}": "1" for i in range(1, 10)} | {"phq9-difficulty": "very"}
    result = score_response(phq, answers)
    assert result.total == 9
    assert result.answers["phq9-difficulty"] == "very"
    assert "phq9-difficulty" not in result.item_scores


def test_loinc_answer_codes_and_numeric_scores_are_accepted() -> None:
    phq = get_instrument("phq-9")
    answers: dict[str, str | int] = {f"phq9-{i}": "LA6570-1" for i in range(1, 6)}  # 5 × 2
    answers.update({f"phq9-{i}": 1 for i in range(6, 10)})  # 4 × 1
    result = score_response(phq, answers)
    assert result.total == 14 and result.band is not None and result.band.code == "moderate"
    assert result.answers["phq9-1"] == "2" and result.answers["phq9-9"] == "1"
