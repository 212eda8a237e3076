"""QuestionnaireResponses scored ahead by the import's worker processes (`bulk_import.prepare_response`) are stored
exactly as the writer stores them when it scores them itself.

The same synthetic population (every instrument, persons of each sex, and lines the import refuses) is imported
with worker processes (`--workers 2`, where the workers score) and without (`--workers 1`, where the writer
scores); every stored row, the summary with its reject lines, and the number of audit entries are the same.
"""

from __future__ import annotations

import json
import pickle
import random
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from helhet.assessment.bulk_import import Prepared, _depends_on_sex, _stored, prepare_response
from helhet.assessment.library import default_library
from helhet.assessment.models import Administration, ScoreObservation
from helhet.audit.models import AuditEntry
from helhet.fhir.bulk import parse_chunk, validate_chunk
from helhet.persons.models import Person
from helhet.synth.service import generate_population

pytestmark = pytest.mark.django_db


def run_import(path: Path, workers: int) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import", str(path), "--no-progress", "--workers", str(workers), "--batch-size", "150",
                     stdout=out, stderr=err)
    except CommandError:
        pass  # some lines are refused on purpose; the summary says which
    return out.getvalue().split("; ")[0], err.getvalue()


def stored() -> list[tuple[Any, ...]]:
    """Every administration with its observations, keyed by what the import cannot choose (no ids)."""
    observations: dict[int, list[tuple[Any, ...]]] = {}
    for o in ScoreObservation.objects.all():
        observations.setdefault(o.administration_id, []).append(
            (o.part, o.value, o.absent_reason, o.band, o.caseness, o.flagged, o.effective, o.fhir_resource,
             o.instrument_id, o.person_id == o.administration.person_id))
    rows = []
    for a in Administration.objects.select_related("person"):
        rows.append((a.person.pid, a.source_identifier, a.instrument_id, a.instrument_version, a.administered_on,
                     a.answers, a.mode, a.scored_sex, a.questionnaire_url, a.declared_total, a.source_resource,
                     a.unit_id, a.recorded_by_id, sorted(observations.get(a.pk, []), key=repr)))
    return sorted(rows, key=repr)


def population_file(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    generate_population(persons=40, seed=11, show_progress=False)
    exported = tmp_path / "exported.ndjson"
    call_command("export", str(exported), stdout=StringIO(), stderr=StringIO())
    resources = [json.loads(line) for line in exported.read_text().splitlines()]
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    for patient, gender in zip(patients, ["unknown", "other", "male", "female"] * 3, strict=False):
        patient["gender"] = gender  # every scoring sex, also for the instruments read per sex
    responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    assert {r["questionnaire"].split("|")[0].rsplit("/", 1)[1] for r in responses} >= {"audit", "phq-9"}
    first = responses[0]
    bad = [
        {**first, "identifier": {"value": "unknown-questionnaire"},
         "questionnaire": "https://example.org/Questionnaire/unknown"},
        {**first, "identifier": {"value": "future"}, "authored": "2999-01-01"},
        {**first, "identifier": {"value": "bogus-item"}, "item": [{"linkId": "bogus", "answer": [{"valueInteger": 1}]}]},
        {**first, "identifier": {"value": "not-a-day"}, "authored": "2024"},
        {**first, "identifier": {"value": "draft"}, "status": "in-progress"},
        {**first, "identifier": {"value": "stranger"}, "subject": {"reference": "Patient/P-NOTREAL1"}},
    ]
    path = tmp_path / "population.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*resources, *bad]))
    return path, responses


def test_responses_scored_by_the_workers_are_stored_as_the_writer_stores_them(refdata, tmp_path):
    path, responses = population_file(tmp_path)
    results = {}
    for workers in (1, 2):
        Person.objects.all().delete()  # an empty database but for units (the persons' records go with them)
        assert not Administration.objects.exists()
        audit_before = AuditEntry.objects.count()
        summary, rejects = run_import(path, workers)
        results[workers] = (summary, rejects, AuditEntry.objects.count() - audit_before, stored())
    assert results[1] == results[2]
    summary, rejects, _audit, rows = results[2]
    assert f"created {sum(1 for _ in path.open()) - 6}, updated 0, skipped 0, rejected 6" in summary
    assert len(rows) == len(responses)
    for text in ("unknown questionnaire", "future", "bogus", "must give the day", "completed", "not known here"):
        assert text in rejects, text
    assert {row[7] for row in rows} == {"", "male", "female"}


def test_the_worker_prepares_what_the_writer_would_compute(refdata, tmp_path):
    path, responses = population_file(tmp_path)
    chunk = [(n, line) for n, line in enumerate(path.read_bytes().splitlines(keepends=True), start=1)]
    verdicts = pickle.loads(pickle.dumps(validate_chunk(chunk)))  # as the worker sends them
    items = parse_chunk(chunk, verdicts)
    prepared = [item.prepared for item in items if item.resource_type == "QuestionnaireResponse"]
    assert len(prepared) == len(responses) + 6
    assert all(isinstance(p, Prepared) and p.rejection is None for p in prepared[:len(responses)])
    unknown, future, bogus, not_a_day, draft, stranger = prepared[len(responses):]
    assert unknown is None  # perhaps a registered external Questionnaire: the writer looks it up
    assert future is not None and future.by_sex  # the future date is refused by the writer's row check
    assert bogus is not None and bogus.rejection is not None and "bogus" in bogus.rejection[0]
    assert not_a_day is not None and not_a_day.rejection is not None
    assert draft is not None and stranger is not None  # their status and subject are the writer's checks
    assert all(item.prepared is None for item in items if item.resource_type != "QuestionnaireResponse")
    assert prepare_response({"resourceType": "QuestionnaireResponse", "status": "completed"}) is None


def random_answers(rng: random.Random, instrument: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for item in instrument.items:
        if rng.random() < 0.1:
            continue  # unanswered
        if item.type == "choice":
            answers[item.link_id] = rng.choice(item.options).code
        elif item.type in ("integer", "decimal") and item.min_value is not None and item.max_value is not None:
            answers[item.link_id] = rng.randint(int(item.min_value), int(item.max_value))
    return answers


@pytest.mark.parametrize("instrument", list(default_library()), ids=lambda instrument: instrument.id)
def test_one_scoring_serves_every_sex_only_where_the_instrument_does_not_read_the_sex(instrument):
    """`_depends_on_sex` decides whether the worker scores once or per sex: it must never miss a difference."""
    rng = random.Random(instrument.id)
    differs = False
    for _ in range(300):
        answers = random_answers(rng, instrument)
        by_sex = [_stored(instrument, answers, sex) for sex in (None, "male", "female")]
        differs |= not (by_sex[0] == by_sex[1] == by_sex[2])
    if not _depends_on_sex(instrument.id):
        assert not differs
