"""Model constraints the rest of the system relies on."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from helhet.assessment.models import Administration, Mode, RegisteredQuestionnaire, ScoreObservation

pytestmark = pytest.mark.django_db


def _administration(person, identifier=""):
    return Administration.objects.create(person=person, instrument_id="phq-9", instrument_version="1.0.0",
                                         administered_on=dt.date(2026, 1, 1), answers={}, mode=Mode.IMPORT,
                                         source_identifier=identifier)


def test_source_identifier_is_unique_per_person_only_when_given(care):
    _administration(care.person, "a|1")
    _administration(care.person)
    _administration(care.person)
    _administration(care.male, "a|1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _administration(care.person, "a|1")


def test_registered_questionnaire_url_is_unique():
    RegisteredQuestionnaire.objects.create(url="http://x/q", instrument_id="gad-7", resource={}, mapping={})
    with pytest.raises(IntegrityError), transaction.atomic():
        RegisteredQuestionnaire.objects.create(url="http://x/q", instrument_id="phq-9", resource={}, mapping={})


def test_indicator_indexes_exist():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, ScoreObservation._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    assert ("person_id", "instrument_id", "part", "effective") in indexed
    assert ("instrument_id", "part", "effective") in indexed


def test_deleting_a_person_removes_their_scores(care):
    administration = _administration(care.person)
    ScoreObservation.objects.create(administration=administration, person=care.person, instrument_id="phq-9",
                                    part="total", value=3, effective=administration.administered_on)
    care.person.delete()
    assert not Administration.objects.exists() and not ScoreObservation.objects.exists()
