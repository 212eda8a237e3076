"""Goal Attainment Scaling: the T-score's worked checks, its properties, refusals and status mapping."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from helhet.recovery.gas import (
    GOAL_ACHIEVEMENT_SYSTEM,
    AchievementStatus,
    GasError,
    TScorePoint,
    achievement_status,
    gas_t_score,
    goal_met,
    t_score_series,
)

ratings_st = st.integers(min_value=-2, max_value=2)
weights_st = st.floats(min_value=0.1, max_value=10, allow_nan=False, allow_infinity=False)
goals_st = st.lists(st.tuples(weights_st, ratings_st), min_size=1, max_size=12)
rho_st = st.floats(min_value=0, max_value=0.95)


# The worked checks in the domain facts (recovery-and-fidelity.md).
def test_one_goal_much_more_than_expected_is_70() -> None:
    assert gas_t_score([(1, 2)]) == pytest.approx(70)


def test_two_goals_one_above_one_below_is_50() -> None:
    assert gas_t_score([(1, 1), (1, -1)]) == pytest.approx(50)


def test_two_goals_both_much_more_is_about_74_81() -> None:
    # 50 + 10 * 4 / sqrt(0.7 * 2 + 0.3 * 4) = 50 + 40 / sqrt(2.6)
    t = gas_t_score([(1, 2), (1, 2)])
    assert t == pytest.approx(50 + 40 / math.sqrt(2.6))
    assert round(t or 0, 2) == 74.81


def test_weights_count_by_hand() -> None:
    # w = (2, 1), x = (+1, -2): sum wx = 0 -> 50 whatever rho
    assert gas_t_score([(2, 1), (1, -2)]) == pytest.approx(50)
    # w = (2, 1), x = (+1, 0), rho 0.3: 50 + 10*2/sqrt(0.7*5 + 0.3*9) = 50 + 20/sqrt(6.2)
    assert gas_t_score([(2, 1), (1, 0)]) == pytest.approx(50 + 20 / math.sqrt(6.2))


def test_rho_zero_is_the_plain_weighted_formula() -> None:
    # rho 0: T = 50 + 10 * sum(wx) / sqrt(sum(w^2)); two goals at +1: 50 + 20/sqrt(2)
    assert gas_t_score([(1, 1), (1, 1)], rho=0) == pytest.approx(50 + 20 / math.sqrt(2))


def test_unrated_goals_are_left_out_not_read_as_zero() -> None:
    assert gas_t_score([(1, 2), (3, None)]) == pytest.approx(70)


def test_no_rated_goals_gives_none() -> None:
    assert gas_t_score([]) is None
    assert gas_t_score([(1, None), (2, None)]) is None


@given(goals_st, rho_st)
def test_negating_all_ratings_mirrors_t_around_50(goals: list[tuple[float, int]], rho: float) -> None:
    t = gas_t_score(goals, rho)
    mirrored = gas_t_score([(w, -x) for w, x in goals], rho)
    assert t is not None and mirrored is not None
    assert t - 50 == pytest.approx(50 - mirrored, abs=1e-9)


@given(st.lists(weights_st, min_size=1, max_size=12), rho_st)
def test_all_goals_at_expected_level_is_exactly_50(weights: list[float], rho: float) -> None:
    assert gas_t_score([(w, 0) for w in weights], rho) == 50


@given(goals_st, rho_st, st.data())
def test_raising_one_rating_raises_t(goals: list[tuple[float, int]], rho: float, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(goals) - 1))
    weight, rating = goals[index]
    assume(rating < 2)
    raised = list(goals)
    raised[index] = (weight, rating + 1)
    before, after = gas_t_score(goals, rho), gas_t_score(raised, rho)
    assert before is not None and after is not None
    assert after > before


@given(goals_st, rho_st, st.floats(min_value=0.01, max_value=100))
def test_scaling_all_weights_leaves_t_unchanged(goals: list[tuple[float, int]], rho: float, c: float) -> None:
    scaled = [(w * c, x) for w, x in goals]
    assert gas_t_score(scaled, rho) == pytest.approx(gas_t_score(goals, rho), abs=1e-9)


@given(goals_st)
def test_t_stays_within_the_bounds_of_the_scale(goals: list[tuple[float, int]]) -> None:
    # T is monotone in each rating, so the all -2 and all +2 plans bound it.
    t = gas_t_score(goals)
    best = gas_t_score([(w, 2) for w, _ in goals])
    worst = gas_t_score([(w, -2) for w, _ in goals])
    assert t is not None and best is not None and worst is not None
    assert worst - 1e-9 <= t <= best + 1e-9


@pytest.mark.parametrize("rating", [3, -3, 10, 1.5, "1", True])
def test_refuses_ratings_outside_minus_two_to_plus_two(rating: object) -> None:
    with pytest.raises(GasError, match="goal 2: rating"):
        gas_t_score([(1, 0), (1, rating)])  # type: ignore[list-item]


@given(st.integers().filter(lambda x: not -2 <= x <= 2))
def test_refuses_any_integer_out_of_range(rating: int) -> None:
    with pytest.raises(GasError, match="rating"):
        gas_t_score([(1, rating)])


@pytest.mark.parametrize("weight", [0, -1, -0.5, math.nan, math.inf, "1", None, False])
def test_refuses_non_positive_or_non_numeric_weights(weight: object) -> None:
    with pytest.raises(GasError, match="goal 1: weight"):
        gas_t_score([(weight, 1)])  # type: ignore[list-item]


def test_refuses_a_bad_weight_even_on_an_unrated_goal() -> None:
    with pytest.raises(GasError, match="goal 2: weight"):
        gas_t_score([(1, 1), (0, None)])


@given(st.floats(max_value=0, exclude_max=True) | st.floats(min_value=1))
def test_refuses_rho_outside_zero_to_one(rho: float) -> None:
    with pytest.raises(GasError, match="rho"):
        gas_t_score([(1, 1)], rho)


def test_refuses_a_malformed_goal() -> None:
    with pytest.raises(GasError, match="goal 1: expected a \\(weight, rating\\) pair"):
        gas_t_score([(1,)])  # type: ignore[list-item]


def test_gas_error_is_a_value_error() -> None:
    assert issubclass(GasError, ValueError)


@pytest.mark.parametrize(("rating", "met"), [(-2, False), (-1, False), (0, True), (1, True), (2, True)])
def test_goal_met_at_or_above_the_expected_level(rating: int, met: bool) -> None:
    assert goal_met(rating) is met


def test_goal_met_refuses_out_of_range() -> None:
    with pytest.raises(GasError):
        goal_met(3)


@pytest.mark.parametrize(
    ("rating", "baseline", "closed", "status"),
    [
        (None, -1, False, AchievementStatus.IN_PROGRESS),
        (0, -1, False, AchievementStatus.ACHIEVED),
        (2, -2, False, AchievementStatus.ACHIEVED),
        (1, None, False, AchievementStatus.ACHIEVED),
        (0, 0, False, AchievementStatus.SUSTAINING),
        (0, 0, True, AchievementStatus.ACHIEVED),
        (-1, -2, False, AchievementStatus.IMPROVING),
        (-1, -1, False, AchievementStatus.NO_CHANGE),
        (-2, -1, False, AchievementStatus.WORSENING),
        (-1, None, False, AchievementStatus.IN_PROGRESS),
        (-1, -2, True, AchievementStatus.NOT_ACHIEVED),
        (-1, -1, True, AchievementStatus.NO_PROGRESS),
        (-2, -1, True, AchievementStatus.NO_PROGRESS),
        (-1, None, True, AchievementStatus.NO_PROGRESS),
        (1, 0, True, AchievementStatus.ACHIEVED),
    ],
)
def test_achievement_status_mapping(
    rating: int | None, baseline: int | None, closed: bool, status: AchievementStatus
) -> None:
    assert achievement_status(rating, baseline, closed=closed) is status


def test_achievement_status_codes_are_fhir_goal_achievement() -> None:
    assert {s.value for s in AchievementStatus} == {
        "in-progress", "improving", "worsening", "no-change", "achieved",
        "sustaining", "not-achieved", "no-progress", "not-attainable",
    }  # fmt: skip
    assert AchievementStatus.NO_CHANGE.system == GOAL_ACHIEVEMENT_SYSTEM
    assert GOAL_ACHIEVEMENT_SYSTEM == "http://terminology.hl7.org/CodeSystem/goal-achievement"
    assert AchievementStatus.NOT_ACHIEVED.display == "Not Achieved"


def test_achievement_status_refuses_out_of_range() -> None:
    with pytest.raises(GasError, match="baseline"):
        achievement_status(0, -3)
    with pytest.raises(GasError, match="rating"):
        achievement_status(5, -1)


def test_t_score_series_sorts_by_date_and_counts_rated_goals() -> None:
    series = t_score_series(
        [
            (dt.date(2025, 6, 1), [(1, 2), (1, 2)]),
            (dt.date(2025, 1, 1), [(1, -1), (1, None)]),
            (dt.date(2025, 3, 1), [(1, None), (1, None)]),
        ]
    )
    assert [p.reviewed_on for p in series] == [dt.date(2025, 1, 1), dt.date(2025, 3, 1), dt.date(2025, 6, 1)]
    assert series[0] == TScorePoint(dt.date(2025, 1, 1), pytest.approx(40), 1)  # type: ignore[arg-type]
    assert series[1].t_score is None and series[1].rated_goals == 0
    assert series[2].t_score == pytest.approx(50 + 40 / math.sqrt(2.6))
    assert series[2].rated_goals == 2


def test_t_score_series_passes_rho_and_refusals_through() -> None:
    assert t_score_series([(dt.date(2025, 1, 1), [(1, 1), (1, 1)])], rho=0)[0].t_score == pytest.approx(
        50 + 20 / math.sqrt(2)
    )
    with pytest.raises(GasError):
        t_score_series([(dt.date(2025, 1, 1), [(1, 4)])])
    assert t_score_series([]) == []
