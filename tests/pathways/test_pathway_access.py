"""Every pathway URL refuses a person without a care relationship, for every role, and leaks nothing."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.pathways.urls import _person_forms

from .conftest import days_ago


def test_pathway_urls_refuse_a_person_without_care_relationship(world, builders):
    victim = builders.make_person(given_name="Victima", family_name="Utenforsen", consent_next_of_kin=True)
    builders.make_episode(victim, world.tsb, start=days_ago(400))
    builders.make_episode(victim, world.dps, start=days_ago(400))
    urls = [f"/pathways/{victim.pid}/"] + [
        f"/pathways/{victim.pid}/" + route.replace("<int:referral_id>", "1") for route, _name in _person_forms]
    users = [world.kommune, builders.make_user(Role.TEAM_LEADER, units=[world.municipal]),
             builders.make_user(Role.ANALYST), builders.make_user(Role.SERVICE_USER, person=world.person)]
    for user in users:
        client = Client()
        client.force_login(user)
        for url in urls:
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                body = response.content.decode()
                assert response.status_code in (403, 404), (user.role, method, url)
                assert "Utenforsen" not in body, (user.role, method, url)
        for url in ("/pathways/alerts/", "/pathways/referrals/", "/pathways/referrals/?direction=sent"):
            assert "Utenforsen" not in client.get(url).content.decode()
    assert AuditEntry.objects.filter(person_pid=victim.pid, outcome="denied").count() >= len(urls)
    assert reverse("pathways:alerts") == "/pathways/alerts/"
