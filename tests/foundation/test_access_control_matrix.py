"""Every URL pattern, every role: no person's data is served without a care relationship.

Convention this test relies on (see docs/architecture.md): every URL that shows one
person's data carries the person's pseudonymous id as `<str:pid>` and authorizes the
person before anything else. Other path parameters get placeholder values.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.fhir.models import ApiClient
from helhet.fhir.registry import HANDLERS
from helhet.organisations.models import UnitKind

PLACEHOLDERS = {"int": "1", "str": "x", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000001", "path": "x"}


def _routes(patterns=None, prefix=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def _concrete(route, pid):
    if route.startswith("^") or "(?P" in route:
        return None  # regex routes: the FHIR surface, tested per resource type below
    def substitute(match):
        converter, name = match.group(1) or "str", match.group(2)
        return pid if name == "pid" else PLACEHOLDERS.get(converter, "1")
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", substitute, route)


@pytest.fixture
def world(builders):
    home_unit = builders.make_unit(UnitKind.DPS)
    other_unit = builders.make_unit(UnitKind.TSB)
    victim = builders.make_person(given_name="Victima", family_name="Utenforsen")
    builders.make_episode(victim, other_unit)
    own = builders.make_person(given_name="Egen", family_name="Brukersen")
    builders.make_episode(own, home_unit)
    users = {
        Role.CLINICIAN: builders.make_user(Role.CLINICIAN, units=[home_unit]),
        Role.TEAM_LEADER: builders.make_user(Role.TEAM_LEADER, units=[home_unit]),
        Role.ANALYST: builders.make_user(Role.ANALYST),
        Role.ADMINISTRATOR: builders.make_user(Role.ADMINISTRATOR, is_superuser=True, is_staff=True),
        Role.SERVICE_USER: builders.make_user(Role.SERVICE_USER, person=own),
    }
    return victim, users


def _leaks(response, victim):
    body = response.content.decode(errors="replace")
    return victim.pid in body or victim.family_name in body


def test_every_url_for_every_role_refuses_a_person_without_care_relationship(world):
    victim, users = world
    routes = [r for r in (_concrete(route, victim.pid) for route in _routes()) if r]
    assert any(victim.pid in r for r in routes), "expected at least one person URL"
    for role, user in [*users.items(), ("anonymous", None)]:
        client = Client()
        if user is not None:
            client.force_login(user)
        for url in routes:
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                assert not _leaks(response, victim), f"{role} {method.upper()} {url} served the person's data"
                if victim.pid in url and user is not None:
                    assert response.status_code in (302, 400, 403, 404, 405), (role, method, url)


def test_refusals_of_a_person_url_are_audited(world):
    victim, users = world
    client = Client()
    client.force_login(users[Role.CLINICIAN])
    response = client.get(f"/persons/{victim.pid}/")
    assert response.status_code == 403
    entry = AuditEntry.objects.filter(person_pid=victim.pid).latest("seq")
    assert entry.outcome == "denied" and entry.actor == users[Role.CLINICIAN].username
    assert entry.purpose == "no care relationship"


def test_forged_id_is_refused_like_a_missing_person(world):
    _victim, users = world
    client = Client()
    client.force_login(users[Role.CLINICIAN])
    response = client.get("/persons/P-NOTREAL1/")
    assert response.status_code == 403
    assert AuditEntry.objects.filter(person_pid="P-NOTREAL1", outcome="denied").exists()


def test_fhir_surface_refuses_the_person_for_every_role(world):
    victim, users = world
    for role, user in users.items():
        _api_client, token = ApiClient.issue(name=f"client-{role}", user=user)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.get(f"/fhir/Patient/{victim.pid}")
        assert response.status_code == 403, role
        for resource_type, handler in HANDLERS.items():
            if "search-type" not in handler.interactions():
                continue
            for param in ("patient", "subject", "_id", "identifier"):
                if param in handler.search_params:
                    value = victim.pid if param in ("_id", "identifier") else f"Patient/{victim.pid}"
                    response = client.get(f"/fhir/{resource_type}", {param: value})
                    # the searchset's self link echoes the query, so only the person's data counts here
                    body = response.content.decode()
                    assert victim.family_name not in body, f"{role} searched {resource_type}?{param}"
                    if response.status_code == 200:
                        assert response.json()["total"] == 0


def test_clinician_with_care_relationship_sees_the_person(builders):
    unit = builders.make_unit(UnitKind.FACT)
    person = builders.make_person(given_name="Synlig", family_name="Personsen")
    builders.make_episode(person, unit)
    client = Client()
    client.force_login(builders.make_user(Role.CLINICIAN, units=[unit]))
    response = client.get(f"/persons/{person.pid}/")
    assert response.status_code == 200 and b"Personsen" in response.content
    entry = AuditEntry.objects.filter(person_pid=person.pid).latest("seq")
    assert entry.outcome == "allowed" and "episode" in entry.purpose


def test_finished_episode_ends_the_care_relationship(builders):
    import datetime as dt

    unit = builders.make_unit(UnitKind.DPS)
    person = builders.make_person()
    today = dt.date.today()
    builders.make_episode(person, unit, start=today - dt.timedelta(days=300), end=today - dt.timedelta(days=1),
                          status="finished")
    client = Client()
    client.force_login(builders.make_user(Role.CLINICIAN, units=[unit]))
    assert client.get(f"/persons/{person.pid}/").status_code == 403
