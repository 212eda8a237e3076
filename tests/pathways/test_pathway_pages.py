"""Quick forms, the referral overviews and the alert worklist page."""

from __future__ import annotations

import pytest
from django.test import Client

from helhet.audit.models import AuditEntry
from helhet.pathways import services
from helhet.pathways.models import Coordinator, Encounter, Referral, ReferralStatus

from .conftest import TODAY, days_ago


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


FORMS = ["referral", "decision", "admission", "discharge", "contact", "plan", "coordinator", "meeting",
         "next-of-kin", "evaluation"]


@pytest.mark.parametrize("route", FORMS)
def test_every_quick_form_opens_with_today_and_my_unit(world, route):
    response = client_for(world.kommune).get(f"/pathways/{world.person.pid}/{route}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'value="{TODAY.isoformat()}"' in body
    if route in ("referral", "contact", "plan", "coordinator", "next-of-kin"):
        assert 'value="k-test" selected' in body


def test_a_contact_in_two_fields_and_back_to_where_i_came_from(world):
    client = client_for(world.kommune)
    response = client.post(f"/pathways/{world.person.pid}/contact/", {
        "unit": "k-test", "date": TODAY.isoformat(), "mode": "phone", "staff_count": "1",
        "next": "/pathways/alerts/"})
    assert response.status_code == 302 and response["Location"] == "/pathways/alerts/"
    contact = Encounter.objects.get()
    assert (contact.unit, contact.start_date, contact.mode) == (world.municipal, TODAY, "phone")
    assert AuditEntry.objects.filter(person_pid=world.person.pid, action="create", resource="contact").exists()


def test_foreign_next_urls_are_ignored(world):
    response = client_for(world.kommune).post(f"/pathways/{world.person.pid}/coordinator/", {
        "name": "Kim", "unit": "k-test", "date": TODAY.isoformat(), "next": "https://evil.example/"})
    assert response["Location"] == f"/pathways/{world.person.pid}/"


def test_a_refusal_from_the_service_is_shown_on_the_field_and_nothing_is_saved(world):
    response = client_for(world.kommune).post(f"/pathways/{world.person.pid}/referral/", {
        "from_unit": "k-test", "to_unit": "k-test", "sent_date": TODAY.isoformat()})
    assert response.status_code == 400
    assert response.context["form"].errors["to_unit"]
    assert "En enhet kan ikke henvise til seg selv." in response.content.decode()  # Norwegian by default
    assert not Referral.objects.exists()


def test_unknown_choices_and_bad_dates_are_form_errors(world):
    response = client_for(world.kommune).post(f"/pathways/{world.person.pid}/contact/", {
        "unit": "tsb-test", "date": "31.02.2024", "mode": "phone", "staff_count": "1"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"unit", "date"}
    assert not Encounter.objects.exists()


def test_receiving_unit_assesses_and_sees_its_rejections_with_reasons(world):
    referral = services.send_referral(user=world.kommune, pid=world.person.pid, from_unit="k-test",
                                      to_unit="dps-test", sent_date=days_ago(10))
    dps = client_for(world.dps_user)
    body = dps.get("/pathways/referrals/").content.decode()
    assert "Forløpsen" in body and f"/pathways/{world.person.pid}/referral/{referral.pk}/assess/" in body
    response = dps.post(f"/pathways/{world.person.pid}/referral/{referral.pk}/assess/", {
        "date": days_ago(3).isoformat(), "outcome": "reject", "rejection_reason": "substance_first",
        "rejection_note": "Rus først"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REJECTED
    body = dps.get("/pathways/referrals/", {"status": "rejected"}).content.decode()
    assert "Rus først" in body
    # the rejection ended the DPS's care relationship: the row stays, the person is no longer named
    assert "Forløpsen" not in body and world.person.pid not in body
    sender = client_for(world.kommune).get("/pathways/referrals/", {"direction": "sent"}).content.decode()
    assert "Rus først" in sender and "Forløpsen" in sender and world.dps.name in sender


def test_only_the_receiving_unit_can_open_the_assessment(world):
    referral = services.send_referral(user=world.kommune, pid=world.person.pid, from_unit="k-test",
                                      to_unit="dps-test", sent_date=days_ago(10))
    response = client_for(world.kommune).get(f"/pathways/{world.person.pid}/referral/{referral.pk}/assess/")
    assert response.status_code == 404


def test_alert_worklist_lists_visible_persons_with_why_since_and_action(world, builders, locked_queries):
    client = client_for(world.kommune)
    builders.make_episode(world.person, world.dps, start=days_ago(40))
    stranger = builders.make_person(family_name="Utenforsen")
    builders.make_episode(stranger, world.dps, start=days_ago(40))
    builders.make_episode(stranger, world.tsb, start=days_ago(40))
    with locked_queries("pathway_alerts"):
        response = client.get("/pathways/alerts/")
    body = response.content.decode()
    assert f"/pathways/{world.person.pid}/coordinator/?next=" in body and world.dps.name in body
    assert "Utenforsen" not in body
    entry = AuditEntry.objects.filter(action="list", resource="alerts").latest("seq")
    assert world.person.pid in entry.detail["persons"]
    for _index in range(15):  # more persons with more alerts: the same number of queries
        person = world.new_person(start=days_ago(100), consent_next_of_kin=True)
        builders.make_episode(person, world.tsb, start=days_ago(90))
    with locked_queries("pathway_alerts"):
        response = client.get("/pathways/alerts/")
    assert response.content.decode().count('class="alert-row"') >= 16
    Coordinator.objects.create(person=world.person, name="Kim", start_date=TODAY)
    body = client.get("/pathways/alerts/", {"rule": "no_coordinator"}).content.decode()
    assert world.person.pid not in body


def test_pages_refuse_other_roles(world, builders):
    from helhet.accounts.models import Role

    analyst = client_for(builders.make_user(Role.ANALYST))
    assert analyst.get("/pathways/alerts/").status_code == 403
    own = client_for(builders.make_user(Role.SERVICE_USER, person=world.person))
    assert own.get(f"/pathways/{world.person.pid}/").status_code == 200  # reads their own pathway
    assert own.get(f"/pathways/{world.person.pid}/contact/").status_code == 403
