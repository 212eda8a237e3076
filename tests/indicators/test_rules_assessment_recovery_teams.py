"""Assessment (1-3, 9), recovery (10) and team fidelity (11) indicators on small hand-computed populations."""

from __future__ import annotations

import datetime as dt

import pytest

from helhet.assessment.models import TOTAL_PART, Administration, ScoreObservation, item_part
from helhet.indicators import engine
from helhet.organisations.models import UnitKind
from helhet.recovery.gas import gas_t_score
from helhet.recovery.models import Goal, GoalRating, GoalReview, RecoveryPlan
from helhet.teams.models import FidelityItemScore, FidelityReview

D = dt.date
pytestmark = pytest.mark.django_db


def result(indicator_id: str, period: str = "2025", **kwargs):
    [found] = engine.evaluate(period, indicator_ids=[indicator_id], **kwargs)
    assert found.available, found.reason
    return found


def administer(person, instrument: str, day: dt.date) -> Administration:
    return Administration.objects.create(person=person, instrument_id=instrument, instrument_version="1",
                                         administered_on=day, mode="clinician")


def score(person, instrument: str, day: dt.date, value: float, caseness: bool | None = None,
          part: str = TOTAL_PART) -> None:
    administration = administer(person, instrument, day)
    ScoreObservation.objects.create(administration=administration, person=person, instrument_id=instrument,
                                    part=part, value=value, caseness=caseness, effective=day)


@pytest.fixture
def dps(builders):
    return builders.make_unit(UnitKind.DPS, code="dps-b")


def test_screening_needs_audit_and_dudit_within_30_days_of_a_mental_health_episode(builders, dps):
    tsb = builders.make_unit(UnitKind.TSB, code="tsb-b")

    def person(unit, start, records):
        p = builders.make_person()
        builders.make_episode(p, unit, start=start)
        for instrument, day in records:
            administer(p, instrument, day)

    person(dps, D(2025, 5, 1), [("audit", D(2025, 5, 31)), ("dudit", D(2025, 5, 1))])  # day 30 and 0: yes
    person(dps, D(2025, 5, 1), [("audit-c", D(2025, 5, 2)), ("dudit", D(2025, 6, 1))])  # DUDIT on day 31: no
    person(dps, D(2025, 5, 1), [("audit", D(2025, 5, 2))])  # no DUDIT: no
    person(tsb, D(2025, 5, 1), [("audit", D(2025, 5, 2)), ("dudit", D(2025, 5, 2))])  # not mental health care
    person(dps, D(2025, 12, 31), [("audit", D(2026, 1, 5)), ("dudit", D(2026, 1, 5))])  # last day: yes
    person(dps, D(2024, 12, 31), [("audit", D(2025, 1, 5)), ("dudit", D(2025, 1, 5))])  # previous year

    screening = result("rop-01-substance-screening")
    assert (screening.numerator, screening.denominator) == (2, 4)


def test_integrated_assessment_within_90_days_of_first_contact(builders, dps):
    def person(first, records):
        p = builders.make_person()
        builders.make_episode(p, dps, start=first)
        for instrument, offset in records:
            administer(p, instrument, first + dt.timedelta(offset))

    person(D(2025, 3, 1), [("dudit", 0), ("phq-9", 10), ("somatic-health", 90)])  # yes
    person(D(2025, 3, 1), [("audit", 0), ("gad-7", 10), ("somatic-health", 91)])  # somatic on day 91: no
    person(D(2025, 3, 1), [("audit", 0), ("phq-9", 10)])  # no somatic: no
    integrated = result("rop-02-integrated-assessment")
    assert (integrated.numerator, integrated.denominator) == (1, 3)


def test_somatic_check_in_the_last_12_months_and_for_act_fact_separately(builders, dps):
    act = builders.make_unit(UnitKind.ACT, code="act-b")
    m1, m2, m3, gone = (builders.make_person() for _ in range(4))
    builders.make_episode(m1, dps, start=D(2024, 1, 1))
    administer(m1, "somatic-health", D(2025, 1, 1))  # 364 days before the period's end: inside
    builders.make_episode(m2, dps, start=D(2024, 1, 1))
    administer(m2, "somatic-health", D(2024, 12, 31))  # 365 days before: outside
    builders.make_episode(m3, act, start=D(2024, 1, 1))
    administer(m3, "somatic-health", D(2025, 6, 1))
    builders.make_episode(gone, dps, start=D(2024, 1, 1), end=D(2025, 6, 1), status="finished")
    administer(gone, "somatic-health", D(2025, 3, 1))  # not in care at the end of the period

    everyone = result("rop-03a-somatic-health-check")
    assert (everyone.numerator, everyone.denominator) == (2, 3)
    teams = result("rop-03b-somatic-health-check-act-fact")
    assert (teams.numerator, teams.denominator) == (1, 1)
    assert [s.key for s in result("rop-03b-somatic-health-check-act-fact", by="team").strata["team"]] == ["act-b"]


def test_outcomes_first_to_latest_at_least_90_days_apart(builders, dps):
    def person(scores):
        p = builders.make_person()
        builders.make_episode(p, dps, start=D(2023, 1, 1))
        for day, value, case in scores:
            score(p, "phq-9", day, value, case)

    person([(D(2025, 1, 10), 20, True), (D(2025, 6, 10), 8, False)])  # -12: reliable improvement, recovered
    person([(D(2024, 11, 1), 12, True), (D(2025, 1, 29), 7, False)])  # 89 days apart: not counted
    person([(D(2024, 11, 1), 12, True), (D(2025, 1, 30), 7, False)])  # 90 days: -5, not reliable; recovered
    person([(D(2024, 6, 1), 5, False), (D(2025, 12, 31), 11, True)])  # +6; not a case at first
    person([(D(2024, 1, 1), 15, True), (D(2024, 12, 31), 5, False), (D(2026, 1, 1), 4, False)])  # latest before

    change = result("rop-09-phq-9-change")
    assert change.denominator == 3 and change.numerator is None
    assert change.value == pytest.approx((-12 - 5 + 6) / 3)
    improvement = result("rop-09-phq-9-reliable-improvement")
    assert (improvement.numerator, improvement.denominator) == (1, 3)
    recovered = result("rop-09-phq-9-recovered")
    assert (recovered.numerator, recovered.denominator) == (2, 2)
    # Other instruments have no scores: not available, with the reason.
    [audit] = engine.evaluate("2025", indicator_ids=["rop-09-audit-change"])
    assert not audit.available and "no scores" in audit.reason


def test_living_conditions_area_change_reads_that_area_only(builders, dps):
    p = builders.make_person()
    builders.make_episode(p, dps, start=D(2023, 1, 1))
    score(p, "living-conditions", D(2025, 1, 1), 5, part=item_part("lc-housing"))
    score(p, "living-conditions", D(2025, 6, 1), 2, part=item_part("lc-housing"))
    score(p, "living-conditions", D(2025, 6, 1), 4, part=item_part("lc-finances"))
    assert result("rop-09-living-conditions-housing-change").value == -3
    [finances] = engine.evaluate("2025", indicator_ids=["rop-09-living-conditions-finances-change"])
    assert finances.available and finances.denominator == 0


def test_recovery_plan_gas_t_score_and_goals_at_expected_level(builders, dps):
    with_plan, without_plan = builders.make_person(), builders.make_person()
    for p in (with_plan, without_plan):
        builders.make_episode(p, dps, start=D(2024, 1, 1))
    plan = RecoveryPlan.objects.create(person=with_plan, created_on=D(2025, 2, 1))
    g1 = Goal.objects.create(plan=plan, text="a", life_area="housing", weight=1)
    g2 = Goal.objects.create(plan=plan, text="b", life_area="work", weight=2)
    early = GoalReview.objects.create(plan=plan, reviewed_on=D(2025, 4, 1))
    GoalRating.objects.create(review=early, goal=g1, rating=-1)
    GoalRating.objects.create(review=early, goal=g2, rating=-2)
    latest = GoalReview.objects.create(plan=plan, reviewed_on=D(2025, 9, 1))
    GoalRating.objects.create(review=latest, goal=g1, rating=0)
    GoalRating.objects.create(review=latest, goal=g2, rating=1)
    # The person's own rating, not yet accepted, does not count.
    own = GoalReview.objects.create(plan=plan, reviewed_on=D(2025, 10, 1), self_rating=True, proposal="pending")
    GoalRating.objects.create(review=own, goal=g1, rating=-2)

    plans = result("rop-10a-recovery-plan")
    assert (plans.numerator, plans.denominator) == (1, 2)
    t_score = result("rop-10b-gas-t-score")
    assert t_score.denominator == 1
    assert t_score.value == pytest.approx(gas_t_score([(1.0, 0), (2.0, 1)]))
    goals = result("rop-10c-goals-at-or-above-expected")
    assert (goals.numerator, goals.denominator) == (2, 2)
    assert result("rop-10c-goals-at-or-above-expected", "2025-Q2").numerator == 0  # only the April review


def test_team_fidelity_latest_review_in_the_period(builders):
    t1 = builders.make_unit(UnitKind.ACT, code="act-1")
    t2 = builders.make_unit(UnitKind.FACT, code="fact-2")
    t3 = builders.make_unit(UnitKind.ACT, code="act-3")

    def review(team, day, total, human_resources):
        r = FidelityReview.objects.create(team=team, scale_id="dacts", scale_version="1", review_date=day,
                                          total_mean=total)
        for position, value in enumerate(human_resources, start=1):
            FidelityItemScore.objects.create(review=r, item_id=f"H{position}", subscale="H", position=position,
                                             score=value)

    review(t1, D(2025, 3, 1), 3.5, [2, 2])
    review(t1, D(2025, 9, 1), 4.0, [4, 5])
    review(t2, D(2025, 5, 1), 3.0, [3])
    review(t3, D(2024, 12, 31), 5.0, [5])

    total = result("rop-11a-team-fidelity-total", by="team")
    assert total.denominator == 2 and total.value == pytest.approx(3.5)
    assert {s.key: s.value for s in total.strata["team"]} == {"act-1": 4.0, "fact-2": 3.0}
    assert result("rop-11b-team-fidelity-human-resources").value == pytest.approx((4.5 + 3.0) / 2)
    # Teams are not persons: published without suppression, even one team.
    [shown] = engine.published("2025", indicator_ids=["rop-11a-team-fidelity-total"], by="team")
    assert not shown.total.suppressed and shown.total.value == pytest.approx(3.5)
