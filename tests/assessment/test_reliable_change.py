"""Reliable change and recovery: NHS Talking Therapies thresholds for PHQ-9/GAD-7, Jacobson–Truax otherwise."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from helhet.assessment.library import get_instrument
from helhet.assessment.scoring import ChangeStatus, ScoreResult, ScoringError, reliable_change

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)


def phq(total: int) -> list[int]:
    """Nine PHQ-9 item scores adding up to total (item 9 kept at 0)."""
    scores = [0] * 9
    for i in range(total):
        scores[i % 8] += 1
    return scores


@pytest.mark.parametrize(
    "first,second,status",
    [
        (20, 14, ChangeStatus.IMPROVED),  # −6
        (20, 15, ChangeStatus.NO_RELIABLE_CHANGE),  # −5
        (10, 15, ChangeStatus.NO_RELIABLE_CHANGE),  # +5
        (10, 16, ChangeStatus.DETERIORATED),  # +6
        (12, 12, ChangeStatus.NO_RELIABLE_CHANGE),
    ],
)
def test_phq9_threshold_of_six(
    score_items: ScoreItems, first: int, second: int, status: ChangeStatus
) -> None:
    change = reliable_change(
        get_instrument("phq-9"), score_items("phq-9", phq(first)), score_items("phq-9", phq(second))
    )
    assert change.status is status and change.change == second - first and change.method == "threshold"
    assert change.rci is None and change.rule_confirmed


def gad(total: int) -> list[int]:
    scores = [0] * 7
    for i in range(total):
        scores[i % 7] += 1
    return scores


@pytest.mark.parametrize(
    "first,second,status",
    [
        (12, 8, ChangeStatus.IMPROVED),
        (12, 9, ChangeStatus.NO_RELIABLE_CHANGE),
        (5, 8, ChangeStatus.NO_RELIABLE_CHANGE),
        (5, 9, ChangeStatus.DETERIORATED),
    ],
)
def test_gad7_threshold_of_four(
    score_items: ScoreItems, first: int, second: int, status: ChangeStatus
) -> None:
    change = reliable_change(
        get_instrument("gad-7"), score_items("gad-7", gad(first)), score_items("gad-7", gad(second))
    )
    assert change.status is status


@pytest.mark.parametrize(
    "first,second,first_case,second_case,recovered,reliable",
    [
        (16, 9, True, False, True, True),  # −7, crosses below 10: reliable recovery
        (12, 9, True, False, True, False),  # −3: recovered, not reliably improved
        (22, 12, True, True, False, False),  # reliably improved but still a case
        (8, 2, False, False, None, None),  # not a case at the start: recovery does not apply
    ],
)
def test_phq9_recovery(
    score_items: ScoreItems,
    first: int,
    second: int,
    first_case: bool,
    second_case: bool,
    recovered: bool | None,
    reliable: bool | None,
) -> None:
    change = reliable_change(
        get_instrument("phq-9"), score_items("phq-9", phq(first)), score_items("phq-9", phq(second))
    )
    assert (change.first_case, change.second_case) == (first_case, second_case)
    assert change.recovered is recovered and change.reliable_recovery is reliable


def test_gad7_recovery_uses_caseness_8(score_items: ScoreItems) -> None:
    change = reliable_change(
        get_instrument("gad-7"), score_items("gad-7", gad(8)), score_items("gad-7", gad(7))
    )
    assert change.first_case is True and change.second_case is False and change.recovered is True
    assert change.status is ChangeStatus.NO_RELIABLE_CHANGE and change.reliable_recovery is False


def test_audit_jacobson_truax(score_items: ScoreItems) -> None:
    audit = get_instrument("audit")
    rule = audit.scoring.reliable_change
    assert rule is not None and rule.method == "jacobson_truax" and not rule.confirmed
    # SD 8, r 0.85 (unconfirmed default): SE = 8·√0.15 = 3.0984; critical = 1.96·√2·SE = 8.588.
    first = score_items("audit", [4, 4, 4, 2, 2, 2, 2, 2, 2, 2], sex="male")  # 26
    better = score_items("audit", [4, 4, 4, 1, 1, 1, 1, 1, 0, 0], sex="male")  # 17: −9
    slightly = score_items("audit", [4, 4, 4, 1, 1, 1, 1, 2, 2, 0], sex="male")  # 20: −6
    change = reliable_change(audit, first, better)
    assert change.critical_difference == pytest.approx(1.96 * math.sqrt(2) * 8 * math.sqrt(0.15), abs=1e-3)
    assert change.rci == pytest.approx(-9 / (math.sqrt(2) * 8 * math.sqrt(0.15)), abs=1e-3)
    assert change.status is ChangeStatus.IMPROVED and change.rule_confirmed is False
    assert reliable_change(audit, first, slightly).status is ChangeStatus.NO_RELIABLE_CHANGE
    assert reliable_change(audit, better, first).status is ChangeStatus.DETERIORATED


def test_audit_caseness_by_sex_and_unknown_sex(score_items: ScoreItems) -> None:
    audit = get_instrument("audit")
    seven = [4, 3, 0, 0, 0, 0, 0, 0, 0, 0]
    four = [4, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    female = reliable_change(
        audit, score_items("audit", seven, sex="female"), score_items("audit", four, sex="female")
    )
    assert female.first_case is True and female.recovered is True
    male = reliable_change(
        audit, score_items("audit", seven, sex="male"), score_items("audit", four, sex="male")
    )
    assert male.first_case is False and male.recovered is None
    # Sex unknown: at 7 the two readings disagree, so caseness (and recovery) is unknown.
    unknown = reliable_change(audit, score_items("audit", seven), score_items("audit", four))
    assert unknown.first_case is None and unknown.second_case is False and unknown.recovered is None


def test_scl10_uses_the_mean(score_items: ScoreItems) -> None:
    scl = get_instrument("scl-10")
    first = score_items("scl-10", [3] * 10)  # 3.0
    second = score_items("scl-10", [2, 2, 2, 2, 2, 2, 1, 1, 1, 1])  # 1.6
    change = reliable_change(scl, first, second)
    assert change.change == pytest.approx(-1.4)
    assert (
        change.status is ChangeStatus.IMPROVED
        and change.recovered is True
        and change.reliable_recovery is True
    )


def test_absent_score_is_not_computable(score_items: ScoreItems) -> None:
    change = reliable_change(
        get_instrument("phq-9"), score_items("phq-9", phq(20)), score_items("phq-9", [0] * 8 + [None])
    )
    assert change.status is ChangeStatus.NOT_COMPUTABLE and change.change is None and change.recovered is None


def test_instrument_without_a_rule(score_items: ScoreItems) -> None:
    change = reliable_change(
        get_instrument("living-conditions"),
        score_items("living-conditions", [5] * 8),
        score_items("living-conditions", [1] * 8),
    )
    assert change.status is ChangeStatus.NOT_DEFINED and change.change == -4


def test_results_from_another_instrument_are_refused(score_items: ScoreItems) -> None:
    with pytest.raises(ScoringError):
        reliable_change(get_instrument("phq-9"), score_items("gad-7", gad(3)), score_items("gad-7", gad(3)))
