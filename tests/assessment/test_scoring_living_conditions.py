"""Living-conditions mapping: 8 BrukerPlan areas 1–5, green/yellow/red per area, red flag, mean of ≥6."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helhet.assessment.scoring import ScoreResult

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)


AREAS = [
    "lc-substance-use",
    "lc-finances",
    "lc-mental-health",
    "lc-physical-health",
    "lc-housing",
    "lc-social-functioning",
    "lc-network",
    "lc-work-activity",
]


def test_area_colours(score_items: ScoreItems) -> None:
    result = score_items("living-conditions", [1, 2, 3, 4, 5, 1, 2, 4])
    assert [result.item_bands[a].code for a in AREAS] == [
        "green",
        "yellow",
        "yellow",
        "yellow",
        "red",
        "green",
        "yellow",
        "yellow",
    ]
    assert result.mean == 2.75  # 22/8


def test_a_red_area_raises_the_flag(score_items: ScoreItems) -> None:
    result = score_items("living-conditions", [1, 1, 5, 1, 5, 1, 1, 1])
    (flag,) = result.flags
    assert flag.code == "red-area" and flag.items == ("lc-mental-health", "lc-housing")


def test_no_red_area_no_flag(score_items: ScoreItems) -> None:
    result = score_items("living-conditions", [4, 4, 4, 4, 4, 4, 4, 4])
    assert result.flags == () and result.flags_undetermined == ()
    assert result.mean == 4.0


@pytest.mark.parametrize(
    "scores,mean",
    [
        ([1, 2, 3, 4, 5, 1, None, None], 2.67),  # 16/6
        ([1, 2, 3, 4, 1, None, None, None], None),  # 5 of 8 rated: too few
    ],
)
def test_mean_needs_six_areas(score_items: ScoreItems, scores: list[int | None], mean: float | None) -> None:
    result = score_items("living-conditions", scores)
    assert result.mean == mean
    if mean is None:
        assert result.missing_reason is not None and "at least 6 of 8" in result.missing_reason


def test_unrated_areas_leave_the_red_flag_undetermined(score_items: ScoreItems) -> None:
    result = score_items("living-conditions", [1, 1, 1, 1, 1, 1, None, None])
    assert result.flags == ()
    (flag,) = result.flags_undetermined
    assert flag.items == ("lc-network", "lc-work-activity")
