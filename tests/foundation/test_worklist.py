import pytest
from django.test import Client

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.organisations.models import ServiceUnit, UnitKind


@pytest.fixture
def team(builders):
    act = builders.make_unit(UnitKind.ACT, code="act-test")
    dps = builders.make_unit(UnitKind.DPS, code="dps-test")
    elsewhere = builders.make_unit(UnitKind.TSB, code="tsb-elsewhere")
    persons = []
    for index in range(12):
        person = builders.make_person(given_name=f"Navn{index}", family_name=f"Etternavn{index:02d}")
        builders.make_episode(person, act if index % 2 else dps)
        persons.append(person)
    stranger = builders.make_person(given_name="Fremmed", family_name="Utenforsen")
    builders.make_episode(stranger, elsewhere)
    user = builders.make_user(Role.CLINICIAN, units=[act, dps])
    client = Client()
    client.force_login(user)
    return client, persons, stranger


def test_worklist_shows_exactly_the_persons_in_my_units(team):
    client, persons, stranger = team
    response = client.get("/worklist/")
    body = response.content.decode()
    assert all(p.pid in body for p in persons)
    assert stranger.pid not in body and "Utenforsen" not in body


def test_worklist_search_by_name_fragment_and_pid(team):
    client, persons, _stranger = team
    body = client.get("/worklist/", {"q": "navn07"}).content.decode()
    assert persons[7].pid in body and persons[6].pid not in body
    body = client.get("/worklist/", {"q": persons[3].pid}).content.decode()
    assert persons[3].pid in body and persons[4].pid not in body
    body = client.get("/worklist/", {"q": "Navn5 Etternavn05"}).content.decode()
    assert persons[5].pid in body and persons[4].pid not in body


def test_worklist_filter_by_team(team):
    client, persons, _stranger = team
    body = client.get("/worklist/", {"unit": "act-test"}).content.decode()
    assert all((p.pid in body) == (index % 2 == 1) for index, p in enumerate(persons))


def test_worklist_view_is_audited_with_every_person_shown(team):
    client, persons, _stranger = team
    client.get("/worklist/")
    entry = AuditEntry.objects.filter(action="list").latest("seq")
    assert sorted(entry.detail["persons"]) == sorted(p.pid for p in persons)


def test_worklist_query_count_is_fixed(team, builders, locked_queries):
    client, _persons, _stranger = team
    with locked_queries("worklist"):
        client.get("/worklist/")
    act = ServiceUnit.objects.get(code="act-test")
    for index in range(30):  # more persons, same number of queries
        person = builders.make_person(family_name=f"Flere{index}")
        builders.make_episode(person, act)
    with locked_queries("worklist"):
        client.get("/worklist/")


def test_service_user_is_sent_to_own_page(builders):
    unit = builders.make_unit(UnitKind.FACT)
    person = builders.make_person()
    builders.make_episode(person, unit)
    client = Client()
    client.force_login(builders.make_user(Role.SERVICE_USER, person=person))
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == f"/persons/{person.pid}/"
    assert person.family_name in response.content.decode()
