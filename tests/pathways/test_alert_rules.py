"""Each alert rule: the boundary day, what it says, and that recording the action resolves it."""

from __future__ import annotations

import pytest
from django.test import override_settings

from helhet.pathways.alerts import compute_alerts
from helhet.pathways.models import (
    Coordinator,
    Encounter,
    EncounterKind,
    EpisodeStatus,
    EvaluationPoint,
    NextOfKinContact,
    Referral,
    ReferralStatus,
)
from helhet.persons.models import Person

from .conftest import TODAY, days_ago


def alerts_for(person, rule, **kwargs):
    return [a for a in compute_alerts(Person.objects.filter(pk=person.pk), **kwargs) if a.rule == rule]


def discharged(world, person, *, days):
    return Encounter.objects.create(person=person, unit=world.ward, kind=EncounterKind.ADMISSION,
                                    start_date=days_ago(days + 20), end_date=days_ago(days), housing_at_discharge="none")


# Discharged with no contact within 7 days -------------------------------------------------------------------

def test_discharge_alert_starts_on_day_eight(world):
    person = world.new_person()
    discharged(world, person, days=7)
    assert alerts_for(person, "discharge_no_contact") == []
    other = world.new_person()
    discharged(world, other, days=8)
    [alert] = alerts_for(other, "discharge_no_contact")
    assert alert.since == TODAY
    assert world.ward.name in alert.why
    assert alert.action_url == f"/pathways/{other.pid}/contact/"


def test_a_contact_after_discharge_resolves_the_alert(world):
    person = world.new_person()
    admission = discharged(world, person, days=20)
    assert len(alerts_for(person, "discharge_no_contact")) == 1
    # the ward's own contact on the discharge day does not count ...
    Encounter.objects.create(person=person, unit=world.ward, start_date=admission.end_date)
    assert len(alerts_for(person, "discharge_no_contact")) == 1
    # ... a contact from the municipal service afterwards does, even a late one
    Encounter.objects.create(person=person, unit=world.municipal, start_date=days_ago(2))
    assert alerts_for(person, "discharge_no_contact") == []


def test_readmission_replaces_the_discharge_alert(world):
    person = world.new_person()
    discharged(world, person, days=20)
    Encounter.objects.create(person=person, unit=world.ward, kind=EncounterKind.ADMISSION, start_date=days_ago(15))
    assert alerts_for(person, "discharge_no_contact") == []


def test_discharge_interval_is_configuration(world):
    person = world.new_person()
    discharged(world, person, days=8)
    assert alerts_for(person, "discharge_no_contact", intervals={"discharge_contact_days": 10}) == []
    with override_settings(HELHET_ALERT_INTERVALS={"discharge_contact_days": 3}):
        other = world.new_person()
        discharged(world, other, days=4)
        assert len(alerts_for(other, "discharge_no_contact")) == 1


# Referral rejected, no accepted referral elsewhere within 14 days --------------------------------------------

def rejected(world, person, *, days):
    return Referral.objects.create(person=person, from_unit=world.municipal, to_unit=world.dps,
                                   status=ReferralStatus.REJECTED, sent_date=days_ago(days + 5),
                                   received_date=days_ago(days + 3), assessed_date=days_ago(days),
                                   rejection_reason="wrong_level")


def test_rejection_alert_starts_on_day_fifteen(world):
    person = world.new_person()
    rejected(world, person, days=14)
    assert alerts_for(person, "referral_rejected") == []
    other = world.new_person()
    rejected(world, other, days=15)
    [alert] = alerts_for(other, "referral_rejected")
    assert alert.since == TODAY and world.dps.name in alert.why
    assert alert.action_url == f"/pathways/{other.pid}/referral/"


def test_an_accepted_referral_elsewhere_resolves_the_rejection_alert(world):
    person = world.new_person()
    rejection = rejected(world, person, days=30)
    Referral.objects.create(person=person, from_unit=world.municipal, to_unit=world.tsb, status=ReferralStatus.SENT,
                            sent_date=days_ago(10))
    assert len(alerts_for(person, "referral_rejected")) == 1  # sent is not enough
    Referral.objects.filter(to_unit=world.tsb).update(status=ReferralStatus.ACCEPTED, assessed_date=days_ago(3))
    assert alerts_for(person, "referral_rejected") == []
    assert rejection.pk  # the rejection itself stays on record


def test_old_rejections_leave_the_worklist(world):
    person = world.new_person()
    rejected(world, person, days=400)
    assert alerts_for(person, "referral_rejected") == []
    assert len(alerts_for(person, "referral_rejected", intervals={"lookback_days": 500})) == 1


# Two or more concurrent services and no coordinator ----------------------------------------------------------

def test_two_services_without_coordinator(world):
    person = world.new_person()
    assert alerts_for(person, "no_coordinator") == []
    world.builders.make_episode(person, world.dps, start=days_ago(40))
    [alert] = alerts_for(person, "no_coordinator")
    assert alert.since == days_ago(40) and world.dps.name in alert.why and world.municipal.name in alert.why
    Coordinator.objects.create(person=person, name="Kim Kommune", unit=world.municipal, start_date=days_ago(1))
    assert alerts_for(person, "no_coordinator") == []


def test_waiting_list_and_ended_coordinator(world):
    person = world.new_person()
    world.builders.make_episode(person, world.dps, start=days_ago(40), status=EpisodeStatus.WAITLIST)
    assert alerts_for(person, "no_coordinator") == []  # a waiting list is not yet a service
    world.builders.make_episode(person, world.tsb, start=days_ago(20))
    Coordinator.objects.create(person=person, name="Old", start_date=days_ago(100), end_date=days_ago(1))
    assert len(alerts_for(person, "no_coordinator")) == 1


# Evaluation point overdue (8 weeks outpatient / 6 weeks inpatient, first year) -------------------------------

def test_outpatient_evaluation_due_after_eight_weeks(world):
    person = world.new_person()
    world.builders.make_episode(person, world.tsb, start=days_ago(56))
    assert alerts_for(person, "evaluation_overdue") == []
    other = world.new_person()
    world.builders.make_episode(other, world.tsb, start=days_ago(57))
    [alert] = alerts_for(other, "evaluation_overdue")
    assert alert.since == TODAY and world.tsb.name in alert.why


def test_inpatient_evaluation_due_after_six_weeks(world, builders):
    inpatient_tsb = builders.make_unit("tsb", code="tsb-dogn-test", inpatient=True)
    person = world.new_person()
    builders.make_episode(person, inpatient_tsb, start=days_ago(42))
    assert alerts_for(person, "evaluation_overdue") == []
    other = world.new_person()
    builders.make_episode(other, inpatient_tsb, start=days_ago(43))
    assert len(alerts_for(other, "evaluation_overdue")) == 1


def test_evaluation_resolves_and_the_clock_restarts(world):
    person = world.new_person()
    world.builders.make_episode(person, world.tsb, start=days_ago(150))
    assert len(alerts_for(person, "evaluation_overdue")) == 1
    EvaluationPoint.objects.create(person=person, evaluated_on=days_ago(56))
    assert alerts_for(person, "evaluation_overdue") == []
    EvaluationPoint.objects.all().update(evaluated_on=days_ago(57))
    [alert] = alerts_for(person, "evaluation_overdue")
    assert alert.since == TODAY


def test_no_evaluation_alert_after_the_first_year_or_outside_tsb(world):
    person = world.new_person()
    world.builders.make_episode(person, world.tsb, start=days_ago(500))
    world.builders.make_episode(person, world.dps, start=days_ago(100))
    assert alerts_for(person, "evaluation_overdue") == []
    with override_settings(HELHET_ALERT_EVALUATION_UNIT_KINDS=["tsb", "dps"]):
        assert len(alerts_for(person, "evaluation_overdue")) == 1


# No somatic check in 12 months ------------------------------------------------------------------------------

def somatic_check(person, day):
    from helhet.assessment.models import Administration

    return Administration.objects.create(person=person, instrument_id="somatic-health", instrument_version="1",
                                         administered_on=day, mode="clinician")


def test_somatic_check_rule(world):
    pytest.importorskip("helhet.assessment.models")
    new = world.new_person(start=days_ago(365))
    assert alerts_for(new, "no_somatic_check") == []  # 12 months from the start of care
    person = world.new_person(start=days_ago(600))
    [alert] = alerts_for(person, "no_somatic_check")
    assert alert.since == days_ago(600 - 366)
    somatic_check(person, days_ago(365))
    assert alerts_for(person, "no_somatic_check") == []
    somatic_check_day = days_ago(366)
    other = world.new_person(start=days_ago(700))
    somatic_check(other, somatic_check_day)
    [alert] = alerts_for(other, "no_somatic_check")
    assert alert.since == TODAY
    assert alert.action_url == f"/assessment/{other.pid}/new/somatic-health/"
    somatic_check(other, days_ago(2))  # a new check resolves the alert
    assert alerts_for(other, "no_somatic_check") == []


def test_other_instruments_are_not_a_somatic_check(world):
    pytest.importorskip("helhet.assessment.models")
    from helhet.assessment.models import Administration

    person = world.new_person(start=days_ago(600))
    Administration.objects.create(person=person, instrument_id="phq-9", instrument_version="1",
                                  administered_on=days_ago(3), mode="clinician")
    assert len(alerts_for(person, "no_somatic_check")) == 1


# No next-of-kin contact within 30 days where consent exists --------------------------------------------------

def test_next_of_kin_alert_only_with_consent_and_after_thirty_days(world):
    at_30 = world.new_person(start=days_ago(30), consent_next_of_kin=True)
    assert alerts_for(at_30, "next_of_kin") == []
    at_31 = world.new_person(start=days_ago(31), consent_next_of_kin=True)
    [alert] = alerts_for(at_31, "next_of_kin")
    assert alert.since == TODAY and alert.action_url == f"/pathways/{at_31.pid}/next-of-kin/"
    no_consent = world.new_person(start=days_ago(100), consent_next_of_kin=False)
    assert alerts_for(no_consent, "next_of_kin") == []


def test_next_of_kin_contact_resolves_but_one_before_care_does_not(world):
    person = world.new_person(start=days_ago(100), consent_next_of_kin=True)
    NextOfKinContact.objects.create(person=person, contact_date=days_ago(150), relation="mother")
    assert len(alerts_for(person, "next_of_kin")) == 1
    NextOfKinContact.objects.create(person=person, contact_date=days_ago(5), relation="mother")
    assert alerts_for(person, "next_of_kin") == []


# The whole set ----------------------------------------------------------------------------------------------

def test_one_alert_per_person_and_rule_the_oldest(world):
    person = world.new_person()
    rejected(world, person, days=40)
    rejected(world, person, days=20)
    [alert] = alerts_for(person, "referral_rejected")
    assert alert.since == days_ago(40 - 15)


def test_persons_outside_the_scope_are_never_computed(world):
    inside = world.new_person()
    outside = world.new_person()
    discharged(world, inside, days=20)
    discharged(world, outside, days=20)
    alerts = compute_alerts(Person.objects.filter(pk=inside.pk))
    assert {a.pid for a in alerts} == {inside.pid}
