"""AUDIT-C: positive ≥4 for men and ≥3 for women; both readings when the sex is unknown."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helhet.assessment.scoring import ScoreResult

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)


@pytest.mark.parametrize(
    "sex,scores,total,positive",
    [
        ("male", [2, 1, 0], 3, False),
        ("male", [2, 1, 1], 4, True),
        ("female", [1, 1, 0], 2, False),
        ("female", [1, 1, 1], 3, True),
    ],
)
def test_cutoff_edges_by_sex(
    score_items: ScoreItems, sex: str, scores: list[int], total: int, positive: bool
) -> None:
    result = score_items("audit-c", scores, sex=sex)
    assert result.total == total
    assert [(r.code, r.sex, r.threshold, r.positive) for r in result.cutoffs] == [
        ("positive", sex, 4 if sex == "male" else 3, positive)
    ]


@pytest.mark.parametrize(
    "scores,male,female",
    [
        ([1, 1, 0], False, False),  # 2
        ([1, 1, 1], False, True),  # 3: positive for a woman only
        ([4, 4, 4], True, True),  # 12
    ],
)
def test_unknown_sex_reports_both_readings(
    score_items: ScoreItems, scores: list[int], male: bool, female: bool
) -> None:
    result = score_items("audit-c", scores)
    assert {r.sex: r.positive for r in result.cutoffs} == {"male": male, "female": female}
    assert result.band is None  # AUDIT-C is read by its cut-offs only


def test_missing_item_means_no_total(score_items: ScoreItems) -> None:
    result = score_items("audit-c", [4, None, 4], sex="male")
    assert result.total is None and result.cutoffs == () and result.missing_items == ("auditc-2",)
