"""The API create path in fewer, prepared statements, deciding and storing exactly what it did before.

- the write's care-relationship check reads the user's units in the same query as the episode
  (``care_relationship(remember_units=False)``) and answers as the two-query form does; the API create
  reads the person in that query too (``authorize_write``), deciding and auditing as ``authorize_person``;
- PostgreSQL with server-side binding and prepared statements (``helhet.env.database_from_url``, as the
  production server runs it) serves the create path, the raw cursors of the hot path and the COPY batch path;
- the response is written by orjson, with the json module as the fallback for what orjson refuses.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection

from helhet.accounts.access import (
    AccessDenied,
    authorize_person,
    authorize_write,
    care_relationship,
    user_unit_ids,
)
from helhet.accounts.models import Role, StaffMembership, User
from helhet.assessment.library import get_instrument
from helhet.assessment.models import Administration, Mode, ScoreObservation
from helhet.assessment.services import AdministrationInput, record_administrations
from helhet.audit.models import AuditEntry
from helhet.audit.services import verify_chain
from helhet.env import database_from_url
from helhet.fhir.views import render_json
from helhet.pathways.models import EpisodeOfCare

from .conftest import answers_from_scores, phq9_response

FHIR = "application/fhir+json"


def _both_forms(user_pk, person, day=None):
    """(one query, two queries with the units remembered): each on a user fresh from the database."""
    one = care_relationship(User.objects.get(pk=user_pk), person, day, remember_units=False)
    remembered = User.objects.get(pk=user_pk)
    user_unit_ids(remembered)
    two = care_relationship(remembered, person, day)
    return one, two


@pytest.mark.django_db
def test_one_query_form_decides_as_the_two_query_form(care, builders):
    def check(person, day=None, expect=True):
        one, two = _both_forms(care.clinician.pk, person, day)
        assert one == two and (one is not None) == expect
        return one

    episode = EpisodeOfCare.objects.get(person=care.person, unit=care.unit)
    assert check(care.person).episode_id == episode.pk
    check(care.stranger, expect=False)
    later = builders.make_episode(care.person, care.other_unit, start=episode.start_date + dt.timedelta(days=1))
    StaffMembership.objects.create(user=care.clinician, unit=care.other_unit)
    assert check(care.person).episode_id == later.pk  # latest start first, in both
    check(care.stranger)
    StaffMembership.objects.filter(user=care.clinician, unit=care.other_unit).update(
        end_date=dt.date.today() - dt.timedelta(days=1))
    check(care.stranger, expect=False)
    StaffMembership.objects.filter(user=care.clinician, unit=care.other_unit).update(end_date=dt.date.today())
    check(care.stranger)  # a membership ending today still counts
    EpisodeOfCare.objects.filter(pk=later.pk).update(end_date=dt.date.today() - dt.timedelta(days=1))
    assert check(care.person).episode_id == episode.pk  # the later one has ended
    assert check(care.person, day=dt.date.today() - dt.timedelta(days=2)).episode_id == later.pk
    StaffMembership.objects.filter(user=care.clinician).delete()
    check(care.male, expect=False)  # no units at all
    # Other roles do not reach the query: a service user sees only their own person, an analyst nobody.
    own = builders.make_user(Role.SERVICE_USER, person=care.male)
    assert care_relationship(own, care.male, remember_units=False).kind == "self"
    assert care_relationship(own, care.person, remember_units=False) is None
    analyst = builders.make_user(Role.ANALYST, units=[care.unit])
    assert care_relationship(analyst, care.person, remember_units=False) is None


def _write_decision(authorize, user_pk, pid):
    """What an authorization decides for a fresh user: the person, relationship and event, or the refusal."""
    try:
        person, relationship, event = authorize(User.objects.get(pk=user_pk), pid)
    except AccessDenied as denial:
        assert denial.event is not None
        return ("denied", denial.message, denial.event)
    return ("allowed", {f.attname: getattr(person, f.attname) for f in person._meta.concrete_fields},
            relationship, event)


@pytest.mark.django_db
def test_person_and_relationship_in_one_query_decide_as_authorize_person(care, builders):
    def one(user, pid):
        return authorize_write(user, pid, resource="QuestionnaireResponse", channel="fhir", detail={"n": 1})

    def two(user, pid):
        return authorize_person(user, pid, action="create", resource="QuestionnaireResponse", channel="fhir",
                                detail={"n": 1}, remember_units=False)

    own = builders.make_user(Role.SERVICE_USER, person=care.male)
    analyst = builders.make_user(Role.ANALYST, units=[care.unit])
    cases = [(care.clinician.pk, care.person.pid), (care.clinician.pk, care.male.pid),
             (care.clinician.pk, care.stranger.pid), (care.clinician.pk, "P-NOSUCH"),
             (own.pk, care.male.pid), (own.pk, care.person.pid), (analyst.pk, care.person.pid)]
    decisions = []
    for user_pk, pid in cases:
        decision = _write_decision(one, user_pk, pid)
        assert decision == _write_decision(two, user_pk, pid)
        decisions.append(decision[0])
    assert decisions == ["allowed", "allowed", "denied", "denied", "allowed", "denied", "denied"]
    assert _write_decision(one, care.clinician.pk, "P-NOSUCH")[2].purpose == "no such person"
    assert _write_decision(one, care.clinician.pk, care.stranger.pid)[2].purpose == "no care relationship"


@pytest.mark.django_db
def test_person_and_relationship_are_one_query(care, django_assert_num_queries):
    user = User.objects.get(pk=care.clinician.pk)
    with django_assert_num_queries(1):
        person, relationship, _event = authorize_write(user, care.person.pid, resource="x", channel="fhir")
    assert person == care.person and relationship.unit_id == care.unit.pk
    assert person.municipality_id == care.person.municipality_id


@pytest.mark.django_db
def test_one_query_form_makes_one_query_and_remembers_nothing(care, django_assert_num_queries):
    user = User.objects.get(pk=care.clinician.pk)
    with django_assert_num_queries(1):
        assert care_relationship(user, care.person, remember_units=False) is not None
    assert getattr(user, "_helhet_unit_ids", None) is None
    with django_assert_num_queries(2):  # the default: units looked up and remembered for the page
        assert care_relationship(user, care.person) is not None
    with django_assert_num_queries(1):  # units known now: only the episode
        assert care_relationship(user, care.male, remember_units=False) is not None


def test_postgresql_settings_bind_on_the_server_and_prepare_unless_told_not_to(monkeypatch):
    url = "postgres://u:p@db.example:5433/helhet"
    monkeypatch.delenv("HELHET_PG_PREPARED", raising=False)  # the default
    assert database_from_url(url)["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 2}
    monkeypatch.setenv("HELHET_PG_PREPARE_THRESHOLD", "5")
    assert database_from_url(url)["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}
    monkeypatch.setenv("HELHET_PG_PREPARED", "false")  # behind a transaction-pooling proxy
    assert database_from_url(url)["OPTIONS"] == {}
    assert "server_side_binding" not in str(database_from_url("sqlite:///x.sqlite3"))


@pytest.fixture
def prepared_connection():
    """The test database's connection as the production server configures it: server-side binding, prepared."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    saved = connection.settings_dict["OPTIONS"]
    connection.close()
    connection.settings_dict["OPTIONS"] = {**saved, "server_side_binding": True, "prepare_threshold": 2}
    yield connection
    connection.close()
    connection.settings_dict["OPTIONS"] = saved


@pytest.mark.django_db(transaction=True)
def test_creates_and_copy_batches_run_on_prepared_statements(prepared_connection, api, care):
    """PostgreSQL: the create path's statements get prepared, and the COPY batch path still works beside them."""
    phq9 = get_instrument("phq-9")
    for n in range(4):
        body = phq9_response(care.person.pid, [n % 4] * 9, identifier={"system": "urn:p", "value": str(n)})
        assert api.post("/fhir/QuestionnaireResponse", data=json.dumps(body), content_type=FHIR).status_code == 201
        entries = [AdministrationInput("phq-9", answers_from_scores(phq9, [(n + i) % 4] * 9),
                                       dt.date(2026, 1, 1) + dt.timedelta(days=i), f"copy|{n}|{i}")
                   for i in range(25)]
        assert len(record_administrations(user=care.clinician, person=care.male, entries=entries,
                                          mode=Mode.IMPORT)) == 25
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("audit_auditchainhead" in s and "FOR UPDATE" in s for s in prepared)
    assert any(s.startswith("WITH parent AS (INSERT INTO \"assessment_administration\"") for s in prepared)
    assert any("pathways_episodeofcare" in s and "accounts_staffmembership" in s for s in prepared)
    assert Administration.objects.filter(person=care.person).count() == 4
    assert Administration.objects.filter(person=care.male).count() == 100
    assert ScoreObservation.objects.filter(person=care.male, part="total").count() == 100
    assert AuditEntry.objects.filter(action="create", channel="fhir").count() == 4 and verify_chain().ok
    # A duplicate is still refused with nothing written, on a statement that is prepared by now.
    again = phq9_response(care.person.pid, [1] * 9, identifier={"system": "urn:p", "value": "2"})
    assert api.post("/fhir/QuestionnaireResponse", data=json.dumps(again), content_type=FHIR).status_code == 409
    assert Administration.objects.filter(person=care.person).count() == 4


def test_render_json_writes_what_json_writes():
    body = {"resourceType": "Bundle", "entry": [{"resource": {"text": "Æøå ✓ \u2028", "value": 13.0, "n": 7,
                                                             "flag": None, "ok": True, "list": [1.5, -2]}}]}
    assert json.loads(render_json(body)) == body
    assert "Æøå ✓".encode() in render_json(body)  # UTF-8 as with ensure_ascii=False
    assert json.loads(render_json({1: "a"})) == json.loads(json.dumps({1: "a"}))  # keys as strings in both
    huge = {"value": 2 ** 70}  # beyond orjson: written by the json module
    assert json.loads(render_json(huge)) == huge
