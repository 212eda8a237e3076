"""Every /teams/ URL, every role: team pages only for the team's staff, the regional view only for analysts,
and no person's data without a care relationship (the foundation matrix, narrowed to this app's URLs)."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from tests.foundation.test_access_control_matrix import _concrete, _routes

from .conftest import TeamWorld

NEXT_FIELD = re.compile(r'<input name="next" type="hidden" value="[^"]*">')


def test_teams_urls_refuse_a_person_without_care_relationship(builders: Any, world: TeamWorld) -> None:
    victim = builders.make_person(given_name="Victima", family_name="Utenforteamsen")
    builders.make_episode(victim, builders.make_unit("tsb"))
    routes = [r for r in (_concrete(route, victim.pid) for route in _routes()) if r and r.startswith("/teams/")]
    routes += [r.replace("/x/", f"/{world.team.code}/", 1) for r in routes]
    assert any(victim.pid in r for r in routes)
    users = [world.leader, world.nurse, world.outsider, world.analyst,
             builders.make_user(Role.ADMINISTRATOR, is_superuser=True, is_staff=True), None]
    for user in users:
        client = Client()
        if user is not None:
            client.force_login(user)
        for url in routes:
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                # The language switcher echoes the requested URL (with its pid) back; that is not the person's data.
                body = NEXT_FIELD.sub("", response.content.decode(errors="replace"))
                assert victim.pid not in body and victim.family_name not in body, (user, method, url)
                if victim.pid in url and user is not None:
                    assert response.status_code in (302, 400, 403, 404, 405), (user, method, url)


def test_who_may_open_which_team_page(world: TeamWorld) -> None:
    code = world.team.code
    expected = {
        world.leader: {f"/teams/{code}/": 200, "/teams/region/": 403},
        world.nurse: {f"/teams/{code}/": 200, "/teams/region/": 403},
        world.outsider: {f"/teams/{code}/": 403, "/teams/region/": 403},
        world.analyst: {f"/teams/{code}/": 403, "/teams/region/": 200},
    }
    for user, pages in expected.items():
        client = Client()
        client.force_login(user)
        for url, status in pages.items():
            assert client.get(url).status_code == status, (user.username, url)
    assert Client().get(f"/teams/{code}/").status_code == 302  # to the login
    refused = AuditEntry.objects.filter(outcome="denied", actor=world.analyst.username)
    assert refused.filter(resource=f"team {code}").exists()
    assert AuditEntry.objects.filter(outcome="denied", actor=world.leader.username,
                                     resource="regional fidelity").exists()
