"""SCL-10: mean of items 1–4, ≥1.85 distress (Strand 2003), at least 8 of 10 answered, two subscales."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helhet.assessment.scoring import ScoreResult, _mean_of

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)


@pytest.mark.parametrize(
    "scores,mean,band,distress",
    [
        ([1] * 10, 1.0, "below-threshold", False),
        ([2, 2, 2, 2, 2, 2, 2, 2, 1, 1], 1.8, "below-threshold", False),  # 18/10
        ([2, 2, 2, 2, 2, 2, 2, 2, 2, 1], 1.9, "distress", True),  # 19/10
        ([2, 2, 2, 2, 2, 2, 2, 1, None, None], 1.88, "distress", True),  # 15/8 = 1.875 → 1.88 (half up)
        ([2, 2, 2, 2, 2, 2, 1, 1, None, None], 1.75, "below-threshold", False),  # 14/8
        ([2, 2, 2, 2, 2, 2, 2, 2, 1, None], 1.89, "distress", True),  # 17/9 = 1.888…
        ([2, 2, 2, 2, 2, 2, 2, 1, 1, None], 1.78, "below-threshold", False),  # 16/9 = 1.777…
        ([4] * 10, 4.0, "distress", True),
    ],
)
def test_mean_band_and_cutoff(
    score_items: ScoreItems, scores: list[int | None], mean: float, band: str, distress: bool
) -> None:
    result = score_items("scl-10", scores)
    assert result.method == "mean" and result.total is None
    assert result.mean == mean and result.score == mean
    assert result.band is not None and result.band.code == band
    assert [(r.code, r.positive) for r in result.cutoffs] == [("distress", distress)]


def test_cutoff_applies_to_the_rounded_mean() -> None:
    # 369/200 = 1.845 exactly: half up gives 1.85, on the threshold (banker's rounding would give 1.84).
    assert _mean_of(369, 200, 2) == 1.85
    assert _mean_of(368, 200, 2) == 1.84
    assert _mean_of(15, 8, 2) == 1.88


def test_fewer_than_eight_answered_means_no_mean(score_items: ScoreItems) -> None:
    result = score_items("scl-10", [4, 4, 4, 4, 4, 4, 4, None, None, None])
    assert result.mean is None and result.band is None and result.cutoffs == ()
    assert result.missing_items == ("scl10-8", "scl10-9", "scl10-10")
    assert result.missing_reason is not None and "at least 8 of 10" in result.missing_reason


def test_subscales(score_items: ScoreItems) -> None:
    result = score_items("scl-10", [1, 2, 3, 4, 1, 1, 1, 1, 1, 3])
    assert {s.code: s.value for s in result.subscales} == {"anxiety": 2.5, "depression": 1.33}


def test_anxiety_subscale_needs_all_four_items(score_items: ScoreItems) -> None:
    result = score_items("scl-10", [1, 2, 3, None, 1, 1, 1, 1, 1, 3])
    subscales = {s.code: s for s in result.subscales}
    assert subscales["anxiety"].value is None and subscales["depression"].value == 1.33
    assert result.mean == 1.56  # 14/9
