"""Referrals through the services: validation with clear messages, nothing half-written, access checked."""

from __future__ import annotations

import pytest

from helhet.accounts.access import AccessDenied
from helhet.accounts.models import Role
from helhet.pathways import services
from helhet.pathways.models import EpisodeOfCare, EpisodeStatus, PathwayDecision, Referral, ReferralStatus
from helhet.pathways.services import PathwayError

from .conftest import TODAY, days_ago


def send(world, **overrides):
    args = {"user": world.kommune, "pid": world.person.pid, "from_unit": "k-test", "to_unit": "dps-test",
            "sent_date": days_ago(10)}
    return services.send_referral(**{**args, **overrides})


def test_sending_gives_the_receiver_a_waiting_list_episode(world):
    referral = send(world, pathway_type="D11")
    assert referral.status == ReferralStatus.SENT and referral.from_unit == world.municipal
    episode = EpisodeOfCare.objects.get(person=world.person, unit=world.dps)
    assert episode.status == EpisodeStatus.WAITLIST and episode.start_date == days_ago(10)


@pytest.mark.parametrize(("overrides", "field", "text"), [
    ({"to_unit": "no-such-unit"}, "to_unit", "Unknown unit"),
    ({"to_unit": "k-test"}, "to_unit", "cannot refer to itself"),
    ({"from_unit": "dps-test"}, "from_unit", "do not work in"),
    ({"sent_date": TODAY.replace(year=TODAY.year + 1)}, "sent_date", "future"),
    ({"pathway_type": "D99"}, "pathway_type", "Unknown pathway type"),
    ({"from_unit": None}, "from_unit", "Say who sent"),
])
def test_bad_referrals_are_refused_and_nothing_is_written(world, overrides, field, text):
    with pytest.raises(PathwayError) as refused:
        send(world, **overrides)
    assert refused.value.field == field and text in refused.value.message
    assert not Referral.objects.exists()
    assert EpisodeOfCare.objects.filter(person=world.person).count() == 1


def test_a_referral_from_outside_needs_a_description(world):
    referral = send(world, from_unit=None, from_description="Fastlege")
    assert referral.from_unit is None and referral.from_description == "Fastlege"


def test_a_second_open_referral_to_the_same_unit_is_refused(world):
    send(world)
    with pytest.raises(PathwayError, match="already has an open referral"):
        send(world, sent_date=days_ago(2))


def test_persons_the_caller_may_not_see_are_refused(world):
    stranger = world.builders.make_person()
    world.builders.make_episode(stranger, world.tsb)
    with pytest.raises(AccessDenied):
        send(world, pid=stranger.pid)
    with pytest.raises(AccessDenied):
        send(world, pid="P-NOTREAL1")
    assert not Referral.objects.exists()


def test_service_users_cannot_record_their_pathway(world):
    own = world.builders.make_user(Role.SERVICE_USER, person=world.person)
    with pytest.raises(AccessDenied):
        services.record_next_of_kin_contact(user=own, pid=world.person.pid, contact_date=TODAY, relation="mor")


def test_receive_and_reject_with_reason_cancels_the_waiting_list(world):
    referral = send(world)
    with pytest.raises(PathwayError, match="Only the receiving unit"):
        services.receive_referral(user=world.kommune, pid=world.person.pid, referral_id=referral.pk,
                                  received_date=days_ago(9))
    with pytest.raises(PathwayError, match="before it was sent"):
        services.receive_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                  received_date=days_ago(11))
    services.receive_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                              received_date=days_ago(9))
    with pytest.raises(PathwayError) as refused:
        services.assess_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 assessed_date=days_ago(5), accept=False)
    assert refused.value.field == "rejection_reason"
    with pytest.raises(PathwayError) as refused:
        services.assess_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 assessed_date=days_ago(5), accept=False, rejection_reason="other")
    assert refused.value.field == "rejection_note"
    services.assess_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                             assessed_date=days_ago(5), accept=False, rejection_reason="wrong_level",
                             rejection_note="  Kommunal oppfølging  ")
    referral.refresh_from_db()
    assert (referral.status, referral.rejection_reason, referral.rejection_note) == (
        ReferralStatus.REJECTED, "wrong_level", "Kommunal oppfølging")
    episode = EpisodeOfCare.objects.get(person=world.person, unit=world.dps)
    assert episode.status == EpisodeStatus.CANCELLED and episode.end_date == days_ago(5)
    # the DPS no longer has a care relationship: further changes are refused
    with pytest.raises(AccessDenied):
        services.assess_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 assessed_date=days_ago(4), accept=True)


def test_accept_starts_the_pathway_and_allows_two_decisions(world):
    referral = send(world)
    with pytest.raises(PathwayError, match="before the referral was received"):
        services.assess_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 assessed_date=days_ago(11), accept=True)
    services.assess_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                             assessed_date=days_ago(8), accept=True, pathway_type="D11")
    assert EpisodeOfCare.objects.get(person=world.person, unit=world.dps).status == EpisodeStatus.ACTIVE
    with pytest.raises(PathwayError, match="cannot precede"):
        services.record_decision(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 decided_on=days_ago(9), decision="extended_assessment")
    with pytest.raises(PathwayError) as refused:
        services.record_decision(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 decided_on=days_ago(7), decision="maybe")
    assert refused.value.field == "decision"
    for decision in ("extended_assessment", "treatment_mental"):
        services.record_decision(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 decided_on=days_ago(6), decision=decision)
    with pytest.raises(PathwayError, match="at most two"):
        services.record_decision(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 decided_on=days_ago(5), decision="treatment_tsb")
    assert PathwayDecision.objects.count() == 2
    with pytest.raises(PathwayError, match="already accepted|already"):
        services.assess_referral(user=world.dps_user, pid=world.person.pid, referral_id=referral.pk,
                                 assessed_date=days_ago(5), accept=False, rejection_reason="no_right")
