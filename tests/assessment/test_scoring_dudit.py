"""DUDIT: drug-related problems ≥6 men / ≥2 women, probable dependence ≥25; both readings if sex unknown."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helhet.assessment.scoring import ScoreResult

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)


def readings(result: object) -> dict[tuple[str, str], bool]:
    return {(r.code, r.sex): r.positive for r in result.cutoffs}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "sex,scores,total,positive",
    [
        ("male", [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0], 5, False),
        ("male", [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], 6, True),
        ("female", [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1, False),
        ("female", [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 2, True),
        ("female", [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0], 2, True),  # one "yes, but not in the past year"
    ],
)
def test_problem_cutoff_by_sex(
    score_items: ScoreItems, sex: str, scores: list[int], total: int, positive: bool
) -> None:
    result = score_items("dudit", scores, sex=sex)
    assert result.total == total
    assert readings(result) == {("positive", sex): positive, ("probable-dependence", "any"): False}


@pytest.mark.parametrize(
    "scores,total,dependence",
    [
        ([4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0], 24, False),
        ([4, 4, 4, 4, 4, 4, 1, 0, 0, 0, 0], 25, True),
        ([4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4], 44, True),
    ],
)
def test_probable_dependence_edge(
    score_items: ScoreItems, scores: list[int], total: int, dependence: bool
) -> None:
    result = score_items("dudit", scores, sex="male")
    assert result.total == total
    assert readings(result)[("probable-dependence", "any")] is dependence


@pytest.mark.parametrize(
    "scores,male,female",
    [
        ([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], False, False),  # 1
        ([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], False, True),  # 2
        ([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0], False, True),  # 5
        ([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], True, True),  # 6
    ],
)
def test_unknown_sex_reports_both_readings(
    score_items: ScoreItems, scores: list[int], male: bool, female: bool
) -> None:
    result = score_items("dudit", scores, sex=None)
    assert result.sex is None
    assert readings(result) == {
        ("positive", "male"): male,
        ("positive", "female"): female,
        ("probable-dependence", "any"): False,
    }


def test_missing_item_means_no_total_and_no_reading(score_items: ScoreItems) -> None:
    result = score_items("dudit", [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, None], sex="female")
    assert result.total is None and result.cutoffs == () and result.missing_items == ("dudit-11",)
