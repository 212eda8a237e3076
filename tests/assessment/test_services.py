"""record_administration / record_administrations / latest_results / history."""

from __future__ import annotations

import datetime as dt

import pytest

from helhet.accounts.access import AccessDenied
from helhet.assessment import services
from helhet.assessment.library import get_instrument
from helhet.assessment.models import Administration, Mode, ScoreObservation
from helhet.assessment.scoring import ScoringError
from helhet.assessment.services import (
    AdministrationInput,
    DuplicateSubmission,
    history,
    latest_results,
    record_administration,
    record_administrations,
)
from helhet.audit.models import AuditEntry

from .conftest import answers_from_scores

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)


def phq9(scores):
    return answers_from_scores(get_instrument("phq-9"), scores)


def record(care, scores, *, day=DAY, person=None, **extra):
    return record_administration(
        user=care.clinician, person=person or care.person, instrument_id="phq-9", answers=phq9(scores),
        administered_on=day, mode=Mode.CLINICIAN, **extra,
    )


def test_record_stores_answers_observations_and_audit(care):
    administration = record(care, [1, 1, 2, 2, 1, 1, 1, 1, 1], unit=care.unit)
    assert administration.instrument_version == get_instrument("phq-9").version
    assert administration.scored_sex == "female"
    parts = {o.part: o for o in ScoreObservation.objects.filter(administration=administration)}
    total = parts["total"]
    assert (total.value, total.band, total.caseness, total.effective) == (11.0, "moderate", True, DAY)
    assert total.person_id == care.person.pk and total.fhir_resource
    flag = parts["flag-self-harm-thoughts"]
    assert flag.flagged is True and flag.value is None and not flag.fhir_resource
    entry = AuditEntry.objects.filter(action="create", person_pid=care.person.pid).latest("seq")
    assert entry.actor == care.clinician.username and entry.resource == "QuestionnaireResponse"
    assert entry.detail == {"instrument": "phq-9", "mode": "clinician"} and entry.channel == "web"
    assert administration.unit == care.unit  # given explicitly


def test_unit_defaults_to_the_responsible_unit_and_observations_come_prefetched(care, django_assert_num_queries):
    administration = record(care, [1] * 9)
    assert administration.unit_id == care.unit.pk
    with django_assert_num_queries(0):
        assert {o.part for o in administration.observations.all()} == {"total", "flag-self-harm-thoughts"}


def test_missing_items_give_an_absent_total_with_a_reason_never_zero(care):
    administration = record(care, [1, None, 2, 2, None, 1, 1, 1, 0])
    total = administration.observations.get(part="total")
    assert total.value is None and "2 scored items unanswered" in total.absent_reason
    assert total.caseness is None and total.band == ""
    flag = administration.observations.get(part="flag-self-harm-thoughts")
    assert flag.flagged is False


def test_sex_specific_cutoffs_use_the_persons_sex(care, builders):
    unknown = builders.make_person(sex="unknown")
    builders.make_episode(unknown, care.unit)
    answers = answers_from_scores(get_instrument("audit-c"), [1, 1, 1])  # 3: positive for women only
    rows = {}
    for person in (care.person, care.male, unknown):
        a = record_administration(user=care.clinician, person=person, instrument_id="audit-c", answers=answers,
                                  administered_on=DAY, mode=Mode.CLINICIAN)
        rows[person.sex] = a.observations.get(part="total").caseness
    assert rows == {"female": True, "male": False, "unknown": None}


def test_bad_answers_raise_and_write_nothing(care):
    before = (Administration.objects.count(), ScoreObservation.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ScoringError, match="phq-9: item 'phq9-1'"):
        record_administration(user=care.clinician, person=care.person, instrument_id="phq-9",
                              answers={"phq9-1": "LA9999-9"}, administered_on=DAY, mode=Mode.CLINICIAN)
    with pytest.raises(ScoringError, match="not an item"):
        record_administration(user=care.clinician, person=care.person, instrument_id="phq-9",
                              answers={"nope": 1}, administered_on=DAY, mode=Mode.CLINICIAN)
    with pytest.raises(ScoringError, match="not an instrument"):
        record_administration(user=care.clinician, person=care.person, instrument_id="ors",
                              answers={}, administered_on=DAY, mode=Mode.CLINICIAN)
    with pytest.raises(ScoringError, match="in the future"):
        record(care, [0] * 9, day=dt.date.today() + dt.timedelta(days=1))
    assert (Administration.objects.count(), ScoreObservation.objects.count(), AuditEntry.objects.count()) == before


@pytest.mark.django_db(transaction=True)  # outside a test transaction, as in production
def test_person_without_care_relationship_is_refused_audited_and_nothing_written(care):
    with pytest.raises(AccessDenied):
        record(care, [0] * 9, person=care.stranger)
    assert AuditEntry.objects.filter(person_pid=care.stranger.pid, outcome="denied", action="create").exists()
    assert not Administration.objects.filter(person=care.stranger).exists()
    assert not ScoreObservation.objects.filter(person=care.stranger).exists()


def test_duplicate_source_identifier_is_refused(care):
    first = record(care, [0] * 9, source_identifier="urn:x|1")
    with pytest.raises(DuplicateSubmission) as caught:
        record(care, [1] * 9, source_identifier="urn:x|1")
    assert caught.value.existing == first
    assert Administration.objects.filter(person=care.person).count() == 1
    record(care, [1] * 9, source_identifier="urn:x|1", person=care.male)  # per person
    record(care, [1] * 9)
    record(care, [1] * 9)  # blank identifiers never collide


def test_system_writes_are_audited_as_system_events(care):
    record_administration(user=None, person=care.person, instrument_id="gad-7",
                          answers=answers_from_scores(get_instrument("gad-7"), [1] * 7),
                          administered_on=DAY, mode=Mode.IMPORT)
    assert AuditEntry.objects.filter(actor="system:assessment", person_pid=care.person.pid).exists()


def test_latest_results_and_history_with_fixed_queries(care, django_assert_num_queries):
    for day, score in [(DAY, 3), (DAY + dt.timedelta(days=30), 2), (DAY + dt.timedelta(days=10), 1)]:
        record(care, [score] * 9, day=day)
    record_administration(user=care.clinician, person=care.person, instrument_id="gad-7",
                          answers=answers_from_scores(get_instrument("gad-7"), [0] * 7),
                          administered_on=DAY, mode=Mode.CLINICIAN)
    record(care, [3] * 9, person=care.male, day=DAY + dt.timedelta(days=60))
    with django_assert_num_queries(1):
        latest = latest_results(care.person)
    assert sorted(latest) == ["gad-7", "phq-9"]
    assert latest["phq-9"].administration.administered_on == DAY + dt.timedelta(days=30)
    assert latest["phq-9"].result.total == 18 and latest["gad-7"].result.total == 0
    with django_assert_num_queries(1):
        points = history(care.person, "phq-9")
    assert [(p.effective, p.result.total) for p in points] == [
        (DAY, 27), (DAY + dt.timedelta(days=10), 9), (DAY + dt.timedelta(days=30), 18)]
    assert [band for _day, r in points for band in [r.band.code if r.band else None]] == [
        "severe", "mild", "moderately-severe"]


def test_batch_stores_all_or_nothing(care, django_assert_max_num_queries):
    entries = [AdministrationInput("phq-9", phq9([i % 4] * 9), DAY - dt.timedelta(days=i), f"b|{i}")
               for i in range(200)]
    with django_assert_max_num_queries(30):  # bulk: not one per administration
        stored = record_administrations(user=care.clinician, person=care.person, entries=entries,
                                        mode=Mode.IMPORT)
    assert len(stored) == 200 and all(a.pk for a in stored)
    assert ScoreObservation.objects.filter(person=care.person, part="total").count() == 200
    assert [p.result.total for p in history(care.person, "phq-9")][-4:] == [27, 18, 9, 0]
    bad = [AdministrationInput("phq-9", phq9([0] * 9), DAY, "c|1"),
           AdministrationInput("phq-9", {"phq9-1": "zzz"}, DAY, "c|2")]
    with pytest.raises(ScoringError, match="entry 1"):
        record_administrations(user=care.clinician, person=care.person, entries=bad, mode=Mode.IMPORT)
    again = [AdministrationInput("phq-9", phq9([0] * 9), DAY, "c|9"), entries[5]]
    with pytest.raises(DuplicateSubmission):
        record_administrations(user=care.clinician, person=care.person, entries=again, mode=Mode.IMPORT)
    assert Administration.objects.filter(person=care.person).count() == 200


def test_a_failure_after_the_administration_insert_rolls_everything_back(care, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    # score_parts runs after the administration rows are written, in every path (single, bulk_create, COPY).
    monkeypatch.setattr(services, "score_parts", fail)
    audit_before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError):
        record(care, [1] * 9)
    with pytest.raises(RuntimeError):
        record_administrations(user=care.clinician, person=care.person, mode=Mode.IMPORT,
                               entries=[AdministrationInput("phq-9", phq9([1] * 9), DAY)])
    assert Administration.objects.count() == 0 and AuditEntry.objects.count() == audit_before


def test_batch_rows_equal_the_single_path_rows(care, builders):
    """The batch path (COPY on PostgreSQL, bulk_create elsewhere) stores exactly what the single path stores."""
    twin = builders.make_person(sex=care.person.sex)
    builders.make_episode(twin, care.unit)
    living = get_instrument("living-conditions")
    cases = [("phq-9", phq9([1, None, 2, 2, 1, 1, 1, 1, 0])), ("phq-9", phq9([3] * 9)),
             ("audit", answers_from_scores(get_instrument("audit"), [4, 4, 4, 2, 0, 0, 0, 0, 0, 4])),
             ("living-conditions", {item.link_id: item.options[index % len(item.options)].code
                                    for index, item in enumerate(living.items) if item.type == "choice"})]

    def rows(person):
        return sorted(
            (o.administration.instrument_id, o.administration.administered_on, o.part, o.value, o.absent_reason,
             o.band, o.caseness, o.flagged, o.fhir_resource, o.effective)
            for o in ScoreObservation.objects.filter(person=person).select_related("administration"))

    for day, (instrument_id, answers) in enumerate(cases):
        record_administration(user=care.clinician, person=care.person, instrument_id=instrument_id,
                              answers=answers, administered_on=DAY + dt.timedelta(days=day), mode=Mode.CLINICIAN)
    stored = record_administrations(
        user=care.clinician, person=twin, mode=Mode.IMPORT,
        entries=[AdministrationInput(i, a, DAY + dt.timedelta(days=d), f"s|{d}") for d, (i, a) in enumerate(cases)])
    single = rows(care.person)
    assert single == rows(twin) and len(single) > 12
    assert {r[2] for r in single} >= {"total", "consumption", "flag-step-up", "item-lc-finances"}
    assert [a.pk for a in stored] == list(Administration.objects.filter(person=twin).order_by("pk")
                                          .values_list("pk", flat=True))
    reread = Administration.objects.get(pk=stored[1].pk)
    assert reread.answers == stored[1].answers and reread.unit_id == care.unit.pk and reread.created_at
