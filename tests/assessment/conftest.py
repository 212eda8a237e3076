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


class Care:
    """A clinician with a care relationship to ``person`` (female) and ``male``, none to ``stranger``."""

    def __init__(self, builders: Any) -> None:
        from helhet.accounts.models import Role

        self.unit = builders.make_unit()
        self.other_unit = builders.make_unit()
        self.clinician = builders.make_user(Role.CLINICIAN, units=[self.unit])
        self.person = builders.make_person(sex="female")
        self.male = builders.make_person(sex="male")
        self.stranger = builders.make_person(sex="female")
        builders.make_episode(self.person, self.unit)
        builders.make_episode(self.male, self.unit)
        builders.make_episode(self.stranger, self.other_unit)


@pytest.fixture
def care(builders: Any) -> Care:
    """Database fixture for the backend tests: see ``Care``."""
    return Care(builders)


@pytest.fixture
def api(care: Care) -> Any:
    """A Django test client authenticated with a Bearer token for ``care.clinician``."""
    from django.test import Client

    from helhet.fhir.models import ApiClient

    _client, token = ApiClient.issue(name="assessment-test-system", user=care.clinician)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def phq9_response(pid: str, scores: Sequence[int | None], **extra: Any) -> dict[str, Any]:
    """A QuestionnaireResponse for our PHQ-9 with LOINC-coded items and answers, as other systems send it."""
    instrument = get_instrument("phq-9")
    items = []
    for link_id, score in zip(instrument.scoring.items, scores, strict=True):
        if score is None:
            continue
        item = instrument.item_by_link[link_id]
        option = item.option_by_score[score]
        items.append({"linkId": item.loinc, "answer": [{"valueCoding": {"system": "http://loinc.org",
                                                                         "code": option.loinc}}]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": instrument.url,
        "subject": {"reference": f"Patient/{pid}"}, "authored": "2026-03-02T10:00:00+01:00", "item": items,
    }
    resource.update(extra)
    return resource


INTEROP = Path(__file__).parent / "fixtures"
