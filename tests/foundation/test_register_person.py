import pytest
from django.test import Client

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.organisations.models import UnitKind
from helhet.pathways.models import EpisodeOfCare
from helhet.persons.models import Person


@pytest.fixture
def clinician(builders):
    unit = builders.make_unit(UnitKind.MUNICIPAL, code="k4601-test")
    other = builders.make_unit(UnitKind.DPS, code="dps-other")
    user = builders.make_user(Role.CLINICIAN, units=[unit])
    client = Client()
    client.force_login(user)
    return client, unit, other


def _form(builders, unit, **overrides):
    data = {"national_id": builders.synthetic_national_id(1975), "given_name": "Kari", "family_name": "Nyregistrert",
            "sex": "female", "municipality": "4601", "unit": unit.pk}
    data.update(overrides)
    return data


def test_registration_creates_person_and_episode_in_own_unit(clinician, builders):
    client, unit, _other = clinician
    response = client.post("/persons/new/", _form(builders, unit))
    person = Person.objects.get(family_name="Nyregistrert")
    assert response.status_code == 302 and response["Location"] == f"/persons/{person.pid}/"
    assert EpisodeOfCare.objects.get(person=person).unit == unit
    assert AuditEntry.objects.filter(person_pid=person.pid, action="create", outcome="allowed").exists()
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"national_id": "12345678901"}, "check digits"),
        ({"national_id": "123"}, "11 digits"),
        ({"municipality": "9999"}, "unknown municipality"),
    ],
)
def test_bad_input_is_refused_clearly_audited_and_changes_nothing(clinician, builders, overrides, message):
    client, unit, _other = clinician
    before = (Person.objects.count(), EpisodeOfCare.objects.count())
    response = client.post("/persons/new/", _form(builders, unit, **overrides))
    assert response.status_code == 400 and message in response.content.decode()
    assert (Person.objects.count(), EpisodeOfCare.objects.count()) == before
    assert AuditEntry.objects.filter(action="create", outcome="denied", purpose__contains=message).exists()


def test_duplicate_person_is_refused(clinician, builders):
    client, unit, _other = clinician
    data = _form(builders, unit)
    client.post("/persons/new/", data)
    response = client.post("/persons/new/", {**data, "given_name": "Again"})
    assert response.status_code == 400 and "already registered" in response.content.decode()
    assert Person.objects.filter(family_name="Nyregistrert").count() == 1


def test_cannot_register_into_a_unit_one_does_not_work_in(clinician, builders):
    client, _unit, other = clinician
    response = client.post("/persons/new/", _form(builders, other))
    assert response.status_code == 400
    assert not Person.objects.filter(family_name="Nyregistrert").exists()


def test_analyst_cannot_register(builders):
    client = Client()
    client.force_login(builders.make_user(Role.ANALYST))
    assert client.get("/persons/new/").status_code == 403
