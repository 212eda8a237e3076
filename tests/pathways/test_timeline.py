"""One timeline per person across levels, in a fixed number of queries."""

from __future__ import annotations

from django.test import Client

from helhet.pathways import services
from helhet.pathways.models import EpisodeStatus
from helhet.pathways.timeline import build_timeline

from .conftest import days_ago


def full_pathway(world, person=None):
    """Everything the timeline shows, recorded through the services."""
    person = person or world.person
    pid = person.pid
    b = world.builders
    b.make_episode(person, world.ward, start=days_ago(90))
    act = b.make_unit("act")
    b.make_episode(person, act, start=days_ago(150))
    rejected = services.send_referral(user=world.kommune, pid=pid, from_unit="k-test", to_unit="dps-test",
                                      sent_date=days_ago(120))
    services.assess_referral(user=world.dps_user, pid=pid, referral_id=rejected.pk, assessed_date=days_ago(110),
                             accept=False, rejection_reason="substance_first")
    accepted = services.send_referral(user=world.kommune, pid=pid, from_unit="k-test", to_unit="tsb-test",
                                      sent_date=days_ago(100))
    services.receive_referral(user=world.tsb_user, pid=pid, referral_id=accepted.pk, received_date=days_ago(98))
    services.assess_referral(user=world.tsb_user, pid=pid, referral_id=accepted.pk, assessed_date=days_ago(95),
                             accept=True, pathway_type="D01")
    services.record_decision(user=world.tsb_user, pid=pid, referral_id=accepted.pk, decided_on=days_ago(80),
                             decision="treatment_tsb")
    admission = services.record_admission(user=world.ward_user, pid=pid, unit="ward-test", admitted_on=days_ago(60))
    services.record_discharge(user=world.ward_user, pid=pid, admission_id=admission.pk, discharged_on=days_ago(40),
                              housing="none")
    services.record_contact(user=world.kommune, pid=pid, unit="k-test", contact_date=days_ago(38), mode="home_visit")
    services.record_plan_status(user=world.kommune, pid=pid, status="active", status_date=days_ago(30), unit="k-test")
    services.assign_coordinator(user=world.kommune, pid=pid, name="Randi Koordinator", unit="k-test",
                                start_date=days_ago(30))
    services.record_group_meeting(user=world.kommune, pid=pid, held_on=days_ago(20), summary="Bolig",
                                  members=[{"name": "Kari", "role": "bruker"}])
    services.record_next_of_kin_contact(user=world.kommune, pid=pid, contact_date=days_ago(15), relation="mor")
    services.record_evaluation(user=world.tsb_user, pid=pid, evaluated_on=days_ago(10), benefit=3,
                               plan_update_needed=True)
    return person


def test_every_kind_of_record_is_on_the_timeline(world):
    full_pathway(world)
    line = build_timeline(world.person)
    kinds = {event.kind for event in line.events}
    assert kinds == {"episode", "referral", "decision", "admission", "discharge", "contact", "evaluation", "plan",
                     "coordinator", "group", "meeting", "next_of_kin"}
    lanes = {event.unit_kind for event in line.events}
    assert {"municipal", "dps", "tsb", "ward", "act"} <= lanes
    days = [event.day for event in line.events]
    assert days == sorted(days, reverse=True)
    rejection = next(e for e in line.events if e.kind == "referral" and e.tone == "bad" and e.day == days_ago(110))
    assert rejection.detail  # the reason
    discharge = next(e for e in line.events if e.kind == "discharge")
    assert discharge.tone == "warn"  # no housing at discharge
    assert line.current_coordinator is not None and line.current_plan is not None
    cancelled = [e for e in line.episodes if e.status == EpisodeStatus.CANCELLED]
    assert len(cancelled) == 1  # the DPS waiting list ended with the rejection


def test_timeline_page_shows_the_pathway_in_a_fixed_number_of_queries(world, locked_queries):
    client = Client()
    client.force_login(world.kommune)
    with locked_queries("pathway_timeline"):
        response = client.get(f"/pathways/{world.person.pid}/")
    assert response.status_code == 200
    full_pathway(world)
    with locked_queries("pathway_timeline"):
        response = client.get(f"/pathways/{world.person.pid}/")
    body = response.content.decode()
    assert "Randi Koordinator" in body and world.dps.name in body and world.ward.name in body
    response = client.get(f"/pathways/{world.person.pid}/", {"kind": "discharge"})
    body = response.content.decode()
    assert "event-discharge" in body and "event-coordinator" not in body and "event-referral" not in body


def test_person_page_panel_has_a_fixed_number_of_queries(world, locked_queries, rf):
    from helhet.accounts.access import open_person
    from helhet.pathways.panels import pathway

    request = rf.get(f"/persons/{world.person.pid}/")
    request.user = world.kommune
    person, relationship = open_person(world.kommune, world.person.pid)
    with locked_queries("pathway_person_panel"):
        empty = pathway(request, person, relationship)
    full_pathway(world)
    with locked_queries("pathway_person_panel"):
        full = pathway(request, person, relationship)
    assert empty["events"] and len(full["events"]) == 12  # the latest events; the timeline page has them all
    client = Client()
    client.force_login(world.kommune)
    response = client.get(f"/persons/{world.person.pid}/")
    assert f"/pathways/{world.person.pid}/" in response.content.decode()
