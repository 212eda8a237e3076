"""The API create path's plain-SQL pieces load and store exactly what the ORM would (both databases).

``insert_objects`` and ``insert_with_children`` (administration and observation rows), ``fetch_instance`` (the token's user, the
subject), the care-relationship query compiled once a day, and the audit entry appended last.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from helhet.accounts.access import authorize_person, care_relationship, open_person
from helhet.accounts.models import StaffMembership, User
from helhet.assessment.library import get_instrument
from helhet.assessment.models import Administration, Mode, ScoreObservation
from helhet.assessment.scoring import score_response
from helhet.assessment.services import (
    insert_objects,
    insert_with_children,
    observation_rows,
    record_administration,
)
from helhet.audit.models import AuditEntry
from helhet.audit.services import verify_chain
from helhet.fhir.models import ApiClient
from helhet.pathways.models import EpisodeOfCare
from helhet.persons.models import Person
from helhet.rows import fetch_instance

from .conftest import answers_from_scores, phq9_response

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"
DAY = dt.date(2026, 3, 2)


def _values(obj):
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _stored(model, obj):
    """All concrete field values of the row as read back through the ORM."""
    return _values(model.objects.get(pk=obj.pk))


def test_insert_objects_stores_what_the_orm_stores(care):
    phq9 = get_instrument("phq-9")
    result = score_response(phq9, answers_from_scores(phq9, [1, 2, 3, 0, 1, 2, 3, 0, 1]), sex="female")
    source = {"resourceType": "QuestionnaireResponse", "status": "completed", "note": "æøå ✓"}

    def administration(identifier):
        return Administration(person=care.person, instrument_id="phq-9", instrument_version=phq9.version,
                              administered_on=DAY, answers=dict(result.answers), mode=Mode.FHIR, scored_sex="female",
                              recorded_by=care.clinician, unit=care.unit, source_identifier=identifier,
                              questionnaire_url=phq9.url, declared_total=13.5, source_resource=source)

    by_orm = Administration.objects.create(**{f.name: getattr(administration("a|1"), f.name)
                                              for f in Administration._meta.concrete_fields if not f.primary_key})
    by_sql = administration("a|2")
    insert_objects([by_sql])
    assert by_sql.pk and by_sql.pk != by_orm.pk and not by_sql._state.adding and by_sql.created_at
    orm_row, sql_row = _stored(Administration, by_orm), _stored(Administration, by_sql)
    for row in (orm_row, sql_row):
        row.pop("id"), row.pop("created_at"), row.pop("source_identifier")
    assert sql_row == orm_row and sql_row["source_resource"] == source
    orm_obs = ScoreObservation.objects.bulk_create(observation_rows(by_orm, phq9, result))
    sql_obs = observation_rows(by_sql, phq9, result)
    insert_objects(sql_obs)
    assert len(sql_obs) == len(orm_obs) > 1 and all(o.pk for o in sql_obs)

    def comparable(rows):
        out = []
        for obs in rows:
            values = _stored(ScoreObservation, obs)
            values.pop("id"), values.pop("administration_id")
            out.append(values)
        return out

    assert comparable(sql_obs) == comparable(orm_obs)
    assert [ScoreObservation.objects.get(pk=o.pk).part for o in sql_obs] == [o.part for o in sql_obs]

    # The administration with its observations in one go (one statement on PostgreSQL): the same rows.
    together = administration("a|3")
    together_obs = observation_rows(together, phq9, result)
    insert_with_children(together, together_obs, "administration")
    assert together.pk and not together._state.adding and together.pk not in (by_orm.pk, by_sql.pk)
    together_row = _stored(Administration, together)
    together_row.pop("id"), together_row.pop("created_at"), together_row.pop("source_identifier")
    assert together_row == orm_row
    assert comparable(together_obs) == comparable(orm_obs)
    assert [o.administration_id for o in together_obs] == [together.pk] * len(orm_obs)
    assert [ScoreObservation.objects.get(pk=o.pk).part for o in together_obs] == [o.part for o in together_obs]
    assert list(together.observations.order_by("pk").values_list("pk", flat=True)) == [o.pk for o in together_obs]


def test_insert_with_children_refuses_a_value_too_long_and_writes_nothing(care):
    """PostgreSQL (SQLite enforces no lengths): the one-statement form casts its values, and a cast must not cut."""
    from django.db import DataError, IntegrityError, connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not enforce a column's length")

    phq9 = get_instrument("phq-9")
    result = score_response(phq9, answers_from_scores(phq9, [1, 2, 3, 0, 1, 2, 3, 0, 1]), sex="female")
    parent = Administration(person=care.person, instrument_id="phq-9", instrument_version=phq9.version,
                            administered_on=DAY, answers=dict(result.answers), mode=Mode.FHIR,
                            questionnaire_url=phq9.url)
    children = observation_rows(parent, phq9, result)
    children[-1].part = "x" * 81  # the column holds 80
    before = (Administration.objects.count(), ScoreObservation.objects.count())
    with pytest.raises((DataError, IntegrityError)), transaction.atomic():
        insert_with_children(parent, children, "administration")
    assert (Administration.objects.count(), ScoreObservation.objects.count()) == before


def test_fetch_instance_loads_what_the_orm_loads(care):
    for person in (care.person, care.male):
        loaded = fetch_instance(Person, "WHERE t.pid = %s", [person.pid])
        assert isinstance(loaded, Person) and not loaded._state.adding
        assert _values(loaded) == _stored(Person, person) and loaded.created_at
    assert fetch_instance(Person, "WHERE t.pid = %s", ["P-NOSUCH"]) is None


def test_bearer_token_is_refused_once_revoked_or_its_account_deactivated(api, care):
    body = json.dumps(phq9_response(care.person.pid, [1] * 9))
    assert api.post("/fhir/QuestionnaireResponse", data=body, content_type=FHIR).status_code == 201
    ApiClient.objects.filter(user=care.clinician).update(active=False)
    assert api.post("/fhir/QuestionnaireResponse", data=body, content_type=FHIR).status_code == 401
    ApiClient.objects.filter(user=care.clinician).update(active=True)
    User.objects.filter(pk=care.clinician.pk).update(is_active=False)
    assert api.post("/fhir/QuestionnaireResponse", data=body, content_type=FHIR).status_code == 401
    assert Administration.objects.count() == 1


def test_care_relationship_follows_memberships_and_episodes_as_they_change(care, builders):
    def fresh():
        return User.objects.get(pk=care.clinician.pk)  # no unit ids remembered from an earlier check

    relationship = care_relationship(fresh(), care.person)
    episode = EpisodeOfCare.objects.get(person=care.person, unit=care.unit)
    assert relationship is not None and relationship.episode_id == episode.pk
    assert relationship.description == f"episode {episode.pk} in {care.unit.code} ({episode.status})"
    assert care_relationship(fresh(), care.stranger) is None
    # A second unit whose episode started later is the one named (latest start first).
    later = builders.make_episode(care.person, care.other_unit, start=episode.start_date + dt.timedelta(days=1))
    StaffMembership.objects.create(user=care.clinician, unit=care.other_unit)
    assert care_relationship(fresh(), care.person).episode_id == later.pk
    assert care_relationship(fresh(), care.stranger) is not None
    # A membership that ended yesterday no longer counts; neither does an episode that ended.
    StaffMembership.objects.filter(user=care.clinician, unit=care.other_unit).update(
        end_date=dt.date.today() - dt.timedelta(days=1))
    assert care_relationship(fresh(), care.stranger) is None
    assert care_relationship(fresh(), care.person).episode_id == episode.pk
    EpisodeOfCare.objects.filter(pk=episode.pk).update(end_date=dt.date.today() - dt.timedelta(days=1))
    assert care_relationship(fresh(), care.person) is None
    assert care_relationship(fresh(), care.person, day=dt.date.today() - dt.timedelta(days=2)).episode_id == episode.pk
    StaffMembership.objects.filter(user=care.clinician).delete()
    assert care_relationship(fresh(), care.male) is None


def test_authorize_person_returns_the_event_open_person_records(care):
    before = AuditEntry.objects.count()
    person, relationship, event = authorize_person(care.clinician, care.person.pid, action="create",
                                                   resource="QuestionnaireResponse", channel="fhir")
    assert person == care.person and AuditEntry.objects.count() == before  # nothing recorded yet
    open_person(care.clinician, care.person, action="create", resource="QuestionnaireResponse", channel="fhir")
    entry = AuditEntry.objects.latest("seq")
    assert (entry.actor, entry.actor_role, entry.action, entry.resource, entry.person_pid, entry.purpose,
            entry.channel, entry.outcome) == (event.actor, event.actor_role, event.action, event.resource,
                                              event.person_pid, event.purpose, event.channel, "allowed")
    assert relationship.description == entry.purpose


def test_the_write_is_audited_last_in_its_transaction_and_the_chain_verifies(api, care):
    for n in range(3):
        body = phq9_response(care.person.pid, [n] * 9, identifier={"system": "urn:t", "value": str(n)})
        assert api.post("/fhir/QuestionnaireResponse", data=json.dumps(body), content_type=FHIR).status_code == 201
    entries = list(AuditEntry.objects.filter(action="create", channel="fhir").order_by("seq"))
    assert len(entries) == 3 and {e.person_pid for e in entries} == {care.person.pid}
    assert all(e.detail == {"instrument": "phq-9", "mode": "fhir"} and e.actor == care.clinician.username
               for e in entries)
    # A refused duplicate leaves neither rows nor an audit entry of a write behind.
    again = phq9_response(care.person.pid, [1] * 9, identifier={"system": "urn:t", "value": "1"})
    assert api.post("/fhir/QuestionnaireResponse", data=json.dumps(again), content_type=FHIR).status_code == 409
    assert AuditEntry.objects.filter(action="create", channel="fhir").count() == 3
    assert Administration.objects.count() == 3
    result = verify_chain()
    assert result.ok and result.checked == AuditEntry.objects.count()


def test_record_administration_by_a_system_is_a_system_event(care):
    phq9 = get_instrument("phq-9")
    record_administration(user=None, person=care.person, instrument_id="phq-9",
                          answers=answers_from_scores(phq9, [1] * 9), administered_on=DAY, mode=Mode.IMPORT)
    entry = AuditEntry.objects.latest("seq")
    assert (entry.actor, entry.action, entry.person_pid) == ("system:assessment", "create", care.person.pid)
    assert verify_chain().ok
