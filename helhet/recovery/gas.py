"""Goal Attainment Scaling (GAS): the T-score, goal-met checks and FHIR achievement status.

Pure functions, no Django. Each goal in a recovery plan is rated at follow-up on
the five-level GAS scale: -2 much less than expected, -1 less, 0 the expected
outcome, +1 more, +2 much more. The summary T-score is Kiresuk & Sherman's
(1968) formula:

    T = 50 + 10 * sum(w_i * x_i) / sqrt((1 - rho) * sum(w_i ** 2) + rho * (sum(w_i)) ** 2)

with rho, the assumed correlation between goal scores, conventionally 0.3.
T = 50 means the goals were met as expected on average. Only goals rated at the
follow-up count; a goal without a rating is left out, not read as 0.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

# Kiresuk & Sherman (1968): the assumed inter-goal correlation behind the T-score.
DEFAULT_RHO = 0.3
MIN_RATING, MAX_RATING = -2, 2

# A goal at follow-up: (weight, rating), rating None while the goal is not yet rated.
WeightedRating = tuple[float, int | None]

# http://terminology.hl7.org/CodeSystem/goal-achievement (FHIR R4/R5 Goal.achievementStatus)
GOAL_ACHIEVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/goal-achievement"


class GasError(ValueError):
    """A GAS input is out of range; the message names the goal and the problem."""


class AchievementStatus(StrEnum):
    """The FHIR goal-achievement codes (code system GOAL_ACHIEVEMENT_SYSTEM)."""

    IN_PROGRESS = "in-progress"
    IMPROVING = "improving"
    WORSENING = "worsening"
    NO_CHANGE = "no-change"
    ACHIEVED = "achieved"
    SUSTAINING = "sustaining"
    NOT_ACHIEVED = "not-achieved"
    NO_PROGRESS = "no-progress"
    NOT_ATTAINABLE = "not-attainable"

    @property
    def system(self) -> str:
        return GOAL_ACHIEVEMENT_SYSTEM

    @property
    def display(self) -> str:
        return _DISPLAY[self]


_DISPLAY = {
    AchievementStatus.IN_PROGRESS: "In Progress",
    AchievementStatus.IMPROVING: "Improving",
    AchievementStatus.WORSENING: "Worsening",
    AchievementStatus.NO_CHANGE: "No Change",
    AchievementStatus.ACHIEVED: "Achieved",
    AchievementStatus.SUSTAINING: "Sustaining",
    AchievementStatus.NOT_ACHIEVED: "Not Achieved",
    AchievementStatus.NO_PROGRESS: "No Progress",
    AchievementStatus.NOT_ATTAINABLE: "Not Attainable",
}


def check_rating(rating: object, *, what: str = "rating") -> int:
    """The rating as an int, or GasError unless it is an integer from -2 to +2."""
    # bool is an int in Python; True must not pass as +1.
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise GasError(f"{what} must be an integer from -2 to +2, got {rating!r}")
    if not MIN_RATING <= rating <= MAX_RATING:
        raise GasError(f"{what} must be from -2 to +2, got {rating}")
    return rating


def check_weight(weight: object, *, what: str = "weight") -> float:
    """The weight as a float, or GasError unless it is a finite number above 0."""
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise GasError(f"{what} must be a number above 0, got {weight!r}")
    if not math.isfinite(weight) or weight <= 0:
        raise GasError(f"{what} must be a finite number above 0, got {weight!r}")
    return float(weight)


def _check_rho(rho: object) -> float:
    if isinstance(rho, bool) or not isinstance(rho, int | float) or not 0 <= rho < 1:
        # rho = 1 makes the denominator depend on the weights' sum only; the formula assumes rho < 1.
        raise GasError(f"rho must be a number in [0, 1), got {rho!r}")
    return float(rho)


def gas_t_score(ratings: Sequence[WeightedRating], rho: float = DEFAULT_RHO) -> float | None:
    """Kiresuk & Sherman's GAS T-score over the rated goals, or None when no goal is rated.

    `ratings` holds one (weight, rating) pair per goal; a rating of None (goal not
    rated at this follow-up) leaves the goal out. Every weight must be above 0 and
    every given rating an integer from -2 to +2, else GasError.
    """
    rho = _check_rho(rho)
    rated: list[tuple[float, int]] = []
    for index, pair in enumerate(ratings, start=1):
        try:
            weight, rating = pair
        except (TypeError, ValueError):
            raise GasError(f"goal {index}: expected a (weight, rating) pair, got {pair!r}") from None
        w = check_weight(weight, what=f"goal {index}: weight")
        if rating is not None:
            rated.append((w, check_rating(rating, what=f"goal {index}: rating")))
    if not rated:
        return None
    weighted_sum = math.fsum(w * x for w, x in rated)
    sum_w = math.fsum(w for w, _ in rated)
    sum_w2 = math.fsum(w * w for w, _ in rated)
    denominator = math.sqrt((1 - rho) * sum_w2 + rho * sum_w**2)
    return 50 + 10 * weighted_sum / denominator


def goal_met(rating: int) -> bool:
    """True when the goal is at or above the expected level (GAS rating 0 or more)."""
    return check_rating(rating) >= 0


def achievement_status(
    rating: int | None, baseline: int | None = None, *, closed: bool = False
) -> AchievementStatus:
    """The FHIR Goal.achievementStatus a GAS rating suggests, compared with the goal's baseline.

    Mapping (the clinician may override it; it is a suggestion from the numbers):
      not rated yet                       -> in-progress
      rating >= 0 (expected level met):
        baseline also >= 0, goal open     -> sustaining (met from the start, kept up)
        otherwise                         -> achieved
      rating < 0, goal open:
        no baseline                       -> in-progress
        rating > baseline                 -> improving
        rating == baseline                -> no-change
        rating < baseline                 -> worsening
      rating < 0, goal closed (final rating):
        rating > baseline                 -> not-achieved (progress, but short of the expected level)
        rating <= baseline or no baseline -> no-progress
    not-attainable is never suggested: it is a clinical judgement, not a number.
    """
    if baseline is not None:
        baseline = check_rating(baseline, what="baseline")
    if rating is None:
        return AchievementStatus.IN_PROGRESS
    rating = check_rating(rating)
    if rating >= 0:
        if baseline is not None and baseline >= 0 and not closed:
            return AchievementStatus.SUSTAINING
        return AchievementStatus.ACHIEVED
    if closed:
        if baseline is not None and rating > baseline:
            return AchievementStatus.NOT_ACHIEVED
        return AchievementStatus.NO_PROGRESS
    if baseline is None:
        return AchievementStatus.IN_PROGRESS
    if rating > baseline:
        return AchievementStatus.IMPROVING
    if rating == baseline:
        return AchievementStatus.NO_CHANGE
    return AchievementStatus.WORSENING


@dataclass(frozen=True)
class TScorePoint:
    """The T-score at one follow-up; t_score is None when no goal was rated that day."""

    reviewed_on: dt.date
    t_score: float | None
    rated_goals: int


def t_score_series(
    reviews: Iterable[tuple[dt.date, Sequence[WeightedRating]]], rho: float = DEFAULT_RHO
) -> list[TScorePoint]:
    """The T-score at each follow-up, oldest first, for plotting a plan's course over time.

    `reviews` holds (date, ratings) per follow-up, ratings as for gas_t_score. Each
    point uses only the goals rated at that follow-up, so points are comparable only
    as far as the same goals were rated; rated_goals tells how many counted.
    """
    points = [
        TScorePoint(
            reviewed_on=when,
            t_score=gas_t_score(ratings, rho),
            rated_goals=sum(1 for _, rating in ratings if rating is not None),
        )
        for when, ratings in reviews
    ]
    return sorted(points, key=lambda point: point.reviewed_on)
