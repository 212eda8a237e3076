"""Pathway indicators (4-8) against small populations computed by hand, with period-boundary cases."""

from __future__ import annotations

import datetime as dt

import pytest

from helhet.indicators import engine
from helhet.organisations.models import UnitKind
from helhet.pathways.models import (
    Coordinator,
    EpisodeStatus,
    EvaluationPoint,
    IndividualPlan,
    NextOfKinContact,
    Referral,
)

D = dt.date
pytestmark = pytest.mark.django_db


def result(indicator_id: str, period: str = "2025", **kwargs):
    [found] = engine.evaluate(period, indicator_ids=[indicator_id], **kwargs)
    assert found.available, found.reason
    return found


@pytest.fixture
def units(builders):
    return {
        "dps": builders.make_unit(UnitKind.DPS, code="dps-a"),
        "tsb": builders.make_unit(UnitKind.TSB, code="tsb-a"),
        "municipal": builders.make_unit(UnitKind.MUNICIPAL, code="municipal-a"),
        "ward": builders.make_unit(UnitKind.WARD, code="ward-a", inpatient=True),
    }


def test_individual_plan_and_coordinator_among_concurrent_services(builders, units):
    dps, tsb, municipal = units["dps"], units["tsb"], units["municipal"]
    # P1: two services on 31 Dec; IP offered then active; coordinator open.
    p1 = builders.make_person()
    builders.make_episode(p1, dps, start=D(2025, 1, 1))
    builders.make_episode(p1, municipal, start=D(2024, 6, 1))
    IndividualPlan.objects.create(person=p1, status="offered", status_date=D(2025, 3, 1))
    IndividualPlan.objects.create(person=p1, status="active", status_date=D(2025, 5, 1))
    Coordinator.objects.create(person=p1, name="K", start_date=D(2025, 2, 1))
    # P2: the TSB episode ends on the last day (still concurrent); IP declined; coordinator ended the day before.
    p2 = builders.make_person()
    builders.make_episode(p2, dps, start=D(2025, 1, 1))
    builders.make_episode(p2, tsb, start=D(2025, 1, 1), end=D(2025, 12, 31), status=EpisodeStatus.FINISHED)
    IndividualPlan.objects.create(person=p2, status="declined", status_date=D(2025, 6, 1))
    Coordinator.objects.create(person=p2, name="K", start_date=D(2025, 1, 1), end_date=D(2025, 12, 30))
    # P3: second service ended 30 Dec; P4: twice the same unit; P5: second service starts 1 Jan next year;
    # P7: the second episode was cancelled. None of them is in the population.
    p3 = builders.make_person()
    builders.make_episode(p3, dps, start=D(2025, 1, 1))
    builders.make_episode(p3, tsb, start=D(2025, 1, 1), end=D(2025, 12, 30), status=EpisodeStatus.FINISHED)
    p4 = builders.make_person()
    builders.make_episode(p4, dps, start=D(2025, 1, 1))
    builders.make_episode(p4, dps, start=D(2025, 2, 1))
    p5 = builders.make_person()
    builders.make_episode(p5, dps, start=D(2025, 1, 1))
    builders.make_episode(p5, tsb, start=D(2026, 1, 1))
    p7 = builders.make_person()
    builders.make_episode(p7, dps, start=D(2025, 1, 1))
    builders.make_episode(p7, tsb, start=D(2025, 1, 1), status=EpisodeStatus.CANCELLED)
    # P6: in the population; the IP came after the period.
    p6 = builders.make_person()
    builders.make_episode(p6, dps, start=D(2025, 1, 1))
    builders.make_episode(p6, municipal, start=D(2025, 1, 1))
    IndividualPlan.objects.create(person=p6, status="active", status_date=D(2026, 1, 5))

    offered = result("rop-04a-individual-plan-offered")
    active = result("rop-04b-individual-plan-active")
    coordinator = result("rop-04c-coordinator")
    assert (offered.numerator, offered.denominator) == (2, 3)
    assert (active.numerator, active.denominator) == (1, 3)
    assert (coordinator.numerator, coordinator.denominator) == (1, 3)
    assert offered.rate == pytest.approx(2 / 3)


def _referral(builders, unit, *, received, assessed, status="accepted", reason=""):
    person = builders.make_person()
    return Referral.objects.create(person=person, to_unit=unit, status=status, sent_date=received - dt.timedelta(1),
                                   received_date=received, assessed_date=assessed, rejection_reason=reason)


def test_referral_rejection_days_and_recommended_time(builders, units):
    dps = units["dps"]
    # 3 March 2025 is a Monday: ten working days end on Monday 17 March.
    _referral(builders, dps, received=D(2025, 3, 3), assessed=D(2025, 3, 17))  # 14 days, in time
    _referral(builders, dps, received=D(2025, 3, 3), assessed=D(2025, 3, 18), status="rejected",
              reason="wrong_level")  # 15 days, late
    _referral(builders, dps, received=D(2025, 3, 1), assessed=D(2025, 3, 14))  # Saturday: deadline Fri 14th
    _referral(builders, dps, received=D(2025, 3, 2), assessed=D(2025, 3, 15))  # Sunday: deadline Fri 14th; late
    _referral(builders, dps, received=D(2025, 12, 31), assessed=D(2025, 12, 31), status="rejected",
              reason="no_right")  # last day of the period, 0 days
    # Outside the period, or not assessed yet.
    _referral(builders, dps, received=D(2024, 12, 20), assessed=D(2024, 12, 31))
    _referral(builders, dps, received=D(2025, 12, 20), assessed=D(2026, 1, 1))
    Referral.objects.create(person=builders.make_person(), to_unit=dps, status="received", sent_date=D(2025, 5, 1),
                            received_date=D(2025, 5, 2))

    rejection = result("rop-05a-referral-rejection")
    assert (rejection.numerator, rejection.denominator) == (2, 5)
    days = result("rop-05b-days-to-assessment")
    assert days.denominator == 5 and days.numerator is None
    assert days.value == 13  # 0, 13, 13, 14, 15
    in_time = result("rop-05c-assessment-within-recommended-time")
    assert (in_time.numerator, in_time.denominator) == (3, 5)
    assert in_time.indicator.target == 0.8


def test_median_of_an_even_number_is_the_mean_of_the_middle_two(builders, units):
    for days in (2, 4, 9, 30):
        _referral(builders, units["dps"], received=D(2025, 2, 1), assessed=D(2025, 2, 1) + dt.timedelta(days))
    assert result("rop-05b-days-to-assessment").value == 6.5


def _admission(builders, unit, *, start, end, housing=""):
    from helhet.pathways.models import Encounter

    person = builders.make_person()
    Encounter.objects.create(person=person, unit=unit, kind="admission", start_date=start, end_date=end,
                             housing_at_discharge=housing)
    return person


def _contact(person, unit, day, kind="contact"):
    from helhet.pathways.models import Encounter

    Encounter.objects.create(person=person, unit=unit, kind=kind, start_date=day,
                             end_date=None)  # a readmission still in hospital


def test_contact_and_housing_after_discharge(builders, units):
    ward, dps = units["ward"], units["dps"]
    a1 = _admission(builders, ward, start=D(2025, 12, 1), end=D(2025, 12, 31), housing="permanent")
    _contact(a1, dps, D(2026, 1, 7))  # day 7, in the next year: still counts for the discharge
    a2 = _admission(builders, ward, start=D(2025, 6, 1), end=D(2025, 6, 10), housing="none")
    _contact(a2, ward, D(2025, 6, 10))  # the discharge day itself is not follow-up
    _contact(a2, dps, D(2025, 6, 18))  # day 8: too late
    a3 = _admission(builders, ward, start=D(2024, 12, 20), end=D(2025, 1, 1))
    _contact(a3, dps, D(2025, 1, 2))
    a6 = _admission(builders, ward, start=D(2025, 2, 1), end=D(2025, 3, 1), housing="temporary")
    _contact(a6, ward, D(2025, 3, 3), kind="admission")  # a readmission is not a follow-up contact
    _admission(builders, ward, start=D(2024, 12, 1), end=D(2024, 12, 31), housing="permanent")  # previous year
    _admission(builders, ward, start=D(2025, 12, 1), end=None)  # not discharged

    contact = result("rop-06a-contact-after-discharge")
    assert (contact.numerator, contact.denominator) == (2, 4)
    housing = result("rop-06b-housing-at-discharge")
    assert (housing.numerator, housing.denominator) == (2, 4)


def test_next_of_kin_contact_within_30_days_where_consented(builders, units):
    dps = units["dps"]

    def person_with(consent: bool, starts: list[dt.date], contact: dt.date | None):
        person = builders.make_person(consent_next_of_kin=consent)
        for start in starts:
            builders.make_episode(person, dps, start=start)
        if contact:
            NextOfKinContact.objects.create(person=person, contact_date=contact)

    person_with(True, [D(2025, 2, 1)], D(2025, 3, 3))  # day 30: yes
    person_with(True, [D(2025, 2, 1)], D(2025, 3, 4))  # day 31: no
    person_with(False, [D(2025, 2, 1)], D(2025, 2, 2))  # no consent: not counted
    person_with(True, [D(2024, 12, 31)], D(2025, 1, 2))  # episode started the year before
    person_with(True, [D(2025, 4, 1), D(2025, 8, 1)], D(2025, 8, 5))  # counted by the first episode: no

    kin = result("rop-07-next-of-kin-contact")
    assert (kin.numerator, kin.denominator) == (1, 3)


def test_evaluation_points_at_most_8_weeks_apart_in_the_first_year(builders, units):
    dps, ward = units["dps"], units["ward"]

    def pathway(unit, start, end=None, points=()):
        person = builders.make_person()
        episode = builders.make_episode(person, unit, start=start, end=end,
                                        status=EpisodeStatus.FINISHED if end else EpisodeStatus.ACTIVE)
        for offset in points:
            EvaluationPoint.objects.create(person=person, episode=episode, evaluated_on=start + dt.timedelta(offset))

    # First year 1 Mar 2024 - 1 Mar 2025 (365 days): gaps of 56 and a last one of 29 days.
    pathway(dps, D(2024, 3, 1), points=(56, 112, 168, 224, 280, 336))
    pathway(dps, D(2024, 3, 1), points=(56, 113))  # a gap of 57 days
    pathway(dps, D(2024, 1, 1), points=(10,))  # first year closed on 31 Dec 2024: previous period
    pathway(dps, D(2025, 2, 1), end=D(2025, 3, 15))  # a 42-day pathway without points: no gap over 8 weeks
    pathway(ward, D(2024, 6, 1), points=(42, 84, 126, 168, 210, 252, 294, 336))  # inpatient: 6 weeks

    outpatient = result("rop-08a-evaluation-points-outpatient")
    assert (outpatient.numerator, outpatient.denominator) == (2, 3)
    inpatient = result("rop-08b-evaluation-points-inpatient")
    assert (inpatient.numerator, inpatient.denominator) == (1, 1)


def test_quarter_periods_take_only_their_own_days(builders, units):
    _referral(builders, units["dps"], received=D(2025, 3, 25), assessed=D(2025, 3, 31))
    _referral(builders, units["dps"], received=D(2025, 3, 25), assessed=D(2025, 4, 1))
    assert result("rop-05a-referral-rejection", "2025-Q1").denominator == 1
    assert result("rop-05a-referral-rejection", "2025-Q2").denominator == 1
    assert result("rop-05a-referral-rejection", "2025-03..2025-04").denominator == 2
