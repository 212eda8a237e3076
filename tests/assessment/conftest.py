"""Shared helpers for the assessment pure-core tests (no database)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from helhet.assessment.library import Instrument, get_instrument
from helhet.assessment.scoring import ScoreResult, score_response

FIXTURES = Path(__file__).parent / "fixtures"

ScoreItems = Callable[..., ScoreResult]


def answers_from_scores(instrument: Instrument, scores: Sequence[float | None]) -> dict[str, str]:
    """Answer codes giving these scores to the instrument's scored items, in order; None leaves an item out."""
    links = instrument.scoring.items
    assert len(scores) == len(links), f"{instrument.id} has {len(links)} scored items"
    return {
        link: instrument.item_by_link[link].option_by_score[score].code
        for link, score in zip(links, scores, strict=True)
        if score is not None
    }


@pytest.fixture
def score_items() -> ScoreItems:
    """score_items("phq-9", [1, 2, ...], sex=None) → ScoreResult, from hand-written item scores."""

    def run(instrument_id: str, scores: Sequence[float | None], *, sex: str | None = None) -> ScoreResult:
        instrument = get_instrument(instrument_id)
        return score_response(instrument, answers_from_scores(instrument, scores), sex=sex)

    return run


@pytest.fixture
def load_fixture() -> Callable[[str], Any]:
    def run(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text(encoding="utf-8"))

    return run
