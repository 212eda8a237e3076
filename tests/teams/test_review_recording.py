"""Recording a fidelity review: results stored as computed, refusals clear, nothing saved, audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from helhet.audit.models import AuditEntry
from helhet.teams import services
from helhet.teams.fidelity import shipped_scales
from helhet.teams.models import FidelityItemScore, FidelityReview
from helhet.teams.services import ReviewRefused

from .conftest import TeamWorld, all_scores, needed_reasons

DACTS = shipped_scales()["dacts"]


@pytest.fixture(autouse=True)
def english() -> Any:
    """Service messages are translated; these tests read the English ones."""
    from django.utils import translation

    with translation.override("en"):
        yield


def record(world: TeamWorld, **kwargs: Any) -> FidelityReview:
    args: dict[str, Any] = {
        "user": world.leader, "team": world.team, "scale_id": "dacts", "review_date": world.today,
        "reviewers": [world.leader, world.nurse], "scores": all_scores(DACTS), "justifications": needed_reasons(DACTS),
    }
    args.update(kwargs)
    return services.record_review(**args)


def test_a_review_is_stored_with_its_results(world: TeamWorld) -> None:
    # H 11 x 5 = 55, O 7 x 3 = 21, S 10 x 4 = 40: 116 / 28 = 4.142857 (high)
    scores = {item.id: {"H": 5, "O": 3, "S": 4}[item.subscale] for item in DACTS.items}
    suggestions, _f, _n = services.suggestions_for(world.team, DACTS, world.today)
    review = record(world, scores=scores, suggestions=suggestions)
    review.refresh_from_db()
    assert review.total_score == 116 and review.total_mean == pytest.approx(116 / 28)
    assert review.subscale_means == {"H": 5.0, "O": 3.0, "S": 4.0}
    assert review.complete and review.level_id == "high" and review.scale_version == "1998"
    assert sorted(u.username for u in review.reviewers.all()) == sorted([world.leader.username,
                                                                         world.nurse.username])
    items = list(review.item_scores.order_by("position"))
    assert [i.item_id for i in items] == list(DACTS.item_ids) and items[0].score == 5
    assert items[2].justification == "Synthetic reason for H3."
    assert review.suggestions["H1"]["score"] == 5 and review.suggestions["H1"]["figures"]["clients"] == 10
    entry = AuditEntry.objects.filter(resource="fidelity review").latest("seq")
    assert entry.outcome == "allowed" and entry.action == "create" and entry.detail["review"] == review.pk


def test_not_rated_items_give_a_provisional_level(world: TeamWorld) -> None:
    review = record(world, scores=all_scores(DACTS, 4, S8=None), justifications=needed_reasons(DACTS, "S8"))
    assert not review.complete and review.level_id == "" and review.provisional_level_id == "high"
    assert FidelityItemScore.objects.get(review=review, item_id="S8").score is None


def assert_refused(world: TeamWorld, match: str, **kwargs: Any) -> None:
    before = AuditEntry.objects.filter(outcome="denied").count()
    with pytest.raises(ReviewRefused, match=match):
        record(world, **kwargs)
    assert not FidelityReview.objects.exists() and not FidelityItemScore.objects.exists()
    denied = AuditEntry.objects.filter(outcome="denied").order_by("-seq")
    assert denied.count() == before + 1
    assert denied[0].resource == "fidelity review" and denied[0].purpose


@pytest.mark.parametrize("bad", [0, 6, -1, "7", 3.5])
def test_scores_outside_one_to_five_are_refused(world: TeamWorld, bad: object) -> None:
    assert_refused(world, "whole number from 1 to 5 for item\\(s\\) H4", scores=all_scores(DACTS, 4, H4=bad))  # type: ignore[arg-type]


def test_missing_justification_is_refused(world: TeamWorld) -> None:
    reasons = needed_reasons(DACTS)
    del reasons["O3"]
    assert_refused(world, "justification is required for item\\(s\\) O3", justifications=reasons)


def test_not_rated_without_reason_is_refused(world: TeamWorld) -> None:
    assert_refused(world, "S8", scores=all_scores(DACTS, 4, S8=None))


def test_a_missing_item_is_refused(world: TeamWorld) -> None:
    scores = all_scores(DACTS)
    del scores["S10"]
    assert_refused(world, "No score for item\\(s\\) S10", scores=scores)


def test_a_reviewer_without_a_role_in_the_team_is_refused(world: TeamWorld) -> None:
    assert_refused(world, world.outsider.username, reviewers=[world.leader, world.outsider])


def test_a_user_without_a_role_in_the_team_cannot_record(world: TeamWorld) -> None:
    assert_refused(world, "You have no role in this team", user=world.outsider, reviewers=[world.leader])
    assert_refused(world, "You have no role in this team", user=world.analyst, reviewers=[world.leader])


def test_no_reviewer_future_date_unknown_scale_are_refused(world: TeamWorld) -> None:
    assert_refused(world, "at least one reviewer", reviewers=[])
    assert_refused(world, "future", review_date=world.today + dt.timedelta(days=1))
    assert_refused(world, "Unknown fidelity scale", scale_id="tmact")


def test_a_second_review_on_the_same_day_is_refused(world: TeamWorld) -> None:
    record(world)
    with pytest.raises(ReviewRefused, match="already has a review"):
        record(world)
    assert FidelityReview.objects.count() == 1 and FidelityItemScore.objects.count() == 28


def test_report_shows_item_by_item_change(world: TeamWorld) -> None:
    first = record(world, review_date=world.today - dt.timedelta(days=365), scores=all_scores(DACTS, 3, H1=2))
    second = record(world, scores=all_scores(DACTS, 3, H1=4, H2=1, S8=None),
                    justifications=needed_reasons(DACTS, "S8"))
    report = services.review_report(second)
    assert report.previous == first
    rows = {row.item_id: row for row in report.rows}
    assert (rows["H1"].previous, rows["H1"].score, rows["H1"].change, rows["H1"].direction) == (2, 4, 2, "up")
    assert (rows["H2"].change, rows["H2"].direction) == (-2, "down")
    assert (rows["H3"].change, rows["H3"].direction) == (0, "same")
    assert rows["S8"].change is None and rows["S8"].direction == "not comparable"
    assert report.rows[0].name == "Lite antall pasienter per ansatt" or report.rows[0].name == "Small caseload"
    # H: (4 + 1 + 9 x 3) / 11 = 32 / 11; previous H: (2 + 10 x 3) / 11 = 32 / 11
    h = next(s for s in report.subscales if s[0] == "H")
    assert h[2] == pytest.approx(32 / 11) and h[3] == pytest.approx(32 / 11)
    assert services.review_report(first).previous is None


def test_board_placement_rules(world: TeamWorld) -> None:
    person = world.clients[5]
    services.place_on_board(user=world.leader, team=world.team, person=person, since=world.today, reason="crisis")
    with pytest.raises(ReviewRefused, match="on the board already"):
        services.place_on_board(user=world.leader, team=world.team, person=person, since=world.today,
                                reason="crisis")
    stranger = world.outsider
    with pytest.raises(ReviewRefused, match="no role in this team"):
        services.take_off_board(user=stranger, team=world.team, person=person, until=world.today)
    placement = services.take_off_board(user=world.nurse, team=world.team, person=person, until=world.today)
    assert placement.until == world.today
    assert AuditEntry.objects.filter(resource="FACT board", outcome="denied", person_pid=person.pid).count() == 2
