"""Every recovery URL, every role: a person without a care relationship (or another person's own record) is refused.

The foundation's access-control matrix covers all URLs; this repeats it for the recovery URLs with a plan in
place, so a refusal here cannot be hidden by an empty page, and checks that each refusal is audited.
"""

from __future__ import annotations

import datetime as dt
import re

from django.test import Client
from django.urls import get_resolver

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.recovery import services


def _recovery_routes(pid: str, goal_id: int) -> list[str]:
    resolver = next(r for r in get_resolver().url_patterns if str(r.pattern) == "recovery/")
    routes = []
    for pattern in resolver.url_patterns:
        route = str(pattern.pattern)
        route = re.sub(r"<str:pid>", pid, route)
        route = re.sub(r"<str:kind>", "goal", route)
        route = re.sub(r"<int:\w+>", str(goal_id), route)
        routes.append(f"/recovery/{route}")
    return routes


def test_no_role_reaches_a_plan_without_a_care_relationship(world, builders):
    plan = services.create_plan(user=world.clinician, person=world.other, created_on=dt.date.today())
    goal = services.add_goal(user=world.clinician, person=world.other, plan=plan,
                             data={"text": "Hemmelig mål", "life_area": "work"})
    users = {
        "clinician elsewhere": builders.make_user(Role.CLINICIAN, units=[builders.make_unit()]),
        "service user": world.service_user,
        "analyst": builders.make_user(Role.ANALYST),
        "administrator": builders.make_user(Role.ADMINISTRATOR, is_superuser=True, is_staff=True),
    }
    routes = _recovery_routes(world.other.pid, goal.pk)
    assert len(routes) == 9
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        for url in routes:
            for method in ("get", "post"):
                before = AuditEntry.objects.filter(person_pid=world.other.pid, outcome="denied").count()
                response = getattr(client, method)(url, {"text": "x", "life_area": "work", "decision": "accept"})
                body = response.content.decode()
                assert response.status_code == 403, (role, method, url, response.status_code)
                assert "Hemmelig mål" not in body and world.other.family_name not in body, (role, url)
                after = AuditEntry.objects.filter(person_pid=world.other.pid, outcome="denied").count()
                assert after == before + 1, (role, method, url)
    assert services.plan_overview(plan, for_person=False).goals[0].goal.text == "Hemmelig mål"
    assert plan.goals.count() == 1


def test_anonymous_is_sent_to_the_login(world):
    for url in _recovery_routes(world.person.pid, 1):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
