"""GAD-7: totals at every band edge and both cut-offs (IAPT caseness ≥8, positive screen ≥10)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helhet.assessment.scoring import ScoreResult

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)


# Hand-computed: (item scores 1..7, total, band). Bands 0–4, 5–9, 10–14, 15–21 (Spitzer 2006).
BAND_EDGES = [
    ([0, 0, 0, 0, 0, 0, 0], 0, "minimal"),
    ([1, 1, 1, 1, 0, 0, 0], 4, "minimal"),
    ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),
    ([3, 3, 3, 0, 0, 0, 0], 9, "mild"),
    ([2, 2, 2, 2, 2, 0, 0], 10, "moderate"),
    ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
    ([3, 3, 3, 3, 3, 0, 0], 15, "severe"),
    ([3, 3, 3, 3, 3, 3, 3], 21, "severe"),
]


@pytest.mark.parametrize("scores,total,band", BAND_EDGES)
def test_band_edges(score_items: ScoreItems, scores: list[int], total: int, band: str) -> None:
    result = score_items("gad-7", scores)
    assert result.total == total
    assert result.band is not None and result.band.code == band


@pytest.mark.parametrize(
    "scores,total,caseness,positive",
    [
        ([1, 1, 1, 1, 1, 1, 1], 7, False, False),
        ([2, 1, 1, 1, 1, 1, 1], 8, True, False),
        ([2, 2, 2, 1, 1, 1, 0], 9, True, False),
        ([2, 2, 2, 2, 1, 1, 0], 10, True, True),
    ],
)
def test_cutoff_edges(
    score_items: ScoreItems, scores: list[int], total: int, caseness: bool, positive: bool
) -> None:
    result = score_items("gad-7", scores)
    assert result.total == total
    readings = {r.code: r.positive for r in result.cutoffs}
    assert readings == {"caseness": caseness, "positive-screen": positive}


def test_missing_item_means_no_total(score_items: ScoreItems) -> None:
    result = score_items("gad-7", [3, 3, 3, 3, 3, 3, None])
    assert result.total is None and result.missing_items == ("gad7-7",) and result.band is None
