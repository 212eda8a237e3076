"""QuestionnaireResponses in bulk (`helhet import` / `helhet export`): helhet/assessment/bulk_import.py.

A system import writes a batch of responses at once and must store what the one-response create
path stores; it refuses what create refuses; importing twice stores nothing twice; an import as a
user still goes through create per response; export, import into an empty database and export
again gives the same responses.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from helhet.assessment.models import Administration, ScoreObservation
from helhet.audit.models import AuditEntry
from helhet.fhir.registry import HANDLERS, FhirContext
from helhet.persons.models import Person

from .conftest import phq9_response

pytestmark = pytest.mark.django_db


def write(path: Path, resources: list[Any]) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in resources))
    return str(path)


def run_import(path: str, *args: str) -> tuple[str, str, str | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import", path, "--no-progress", "--workers", "1", *args, stdout=out, stderr=err)
        return out.getvalue(), err.getvalue(), None
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), str(exc)


def stored_rows(administration: Administration) -> tuple[Any, ...]:
    observations = sorted(
        (o.part, o.value, o.absent_reason, o.band, o.caseness, o.flagged, o.effective, o.fhir_resource,
         o.instrument_id, o.person_id) for o in ScoreObservation.objects.filter(administration=administration))
    a = administration
    return (a.person_id, a.instrument_id, a.instrument_version, a.administered_on, a.answers, a.mode, a.scored_sex,
            a.questionnaire_url, a.declared_total, observations)


def test_a_system_import_stores_what_create_stores(care, tmp_path):
    handler = HANDLERS["QuestionnaireResponse"]
    scores = [1, 1, 2, 2, 1, 1, 1, 1, 1]
    handler.create(FhirContext(user=care.clinician, base_url="", channel="fhir"),
                   phq9_response(care.person.pid, scores, identifier={"system": "urn:a", "value": "api"}))
    by_api = Administration.objects.get()
    bulk_body = phq9_response(care.person.pid, scores, identifier={"system": "urn:a", "value": "file"}, id="x-9")
    out, err, failure = run_import(write(tmp_path / "qr.ndjson", [bulk_body]))
    assert failure is None, err
    assert "created 1, updated 0, skipped 0, rejected 0" in out
    by_file = Administration.objects.exclude(pk=by_api.pk).get()
    assert stored_rows(by_file) == stored_rows(by_api)
    assert by_file.source_identifier == "urn:a|file" and by_file.unit_id is None and by_file.recorded_by is None
    assert by_file.source_resource["subject"] == {"reference": f"Patient/{care.person.pid}"}
    assert "id" not in by_file.source_resource
    entry = AuditEntry.objects.filter(actor="system:import", resource="FHIR import").latest("pk")
    assert entry.detail["persons"] == [care.person.pid]
    male = phq9_response(care.male.pid, scores, identifier={"system": "urn:a", "value": "male"})
    run_import(write(tmp_path / "male.ndjson", [male]))
    assert Administration.objects.get(source_identifier="urn:a|male").scored_sex == "male"  # the person's sex


def test_bad_responses_are_refused_with_their_line_and_the_rest_is_stored(care, tmp_path):
    good = phq9_response(care.person.pid, [1] * 9, identifier={"system": "urn:a", "value": "good"})
    lines = [
        good,
        phq9_response(care.person.pid, [1] * 9, questionnaire="https://example.org/Questionnaire/unknown"),
        phq9_response(care.person.pid, [1] * 9, status="in-progress"),
        phq9_response(care.person.pid, [1] * 9, authored="2999-01-01"),
        phq9_response(care.person.pid, [1] * 9, item=[{"linkId": "bogus", "answer": [{"valueInteger": 1}]}]),
        phq9_response(care.person.pid, [1] * 9, colour=1),
        phq9_response("P-NOTREAL1", [1] * 9),
        {**phq9_response(care.person.pid, [1] * 9), "subject": {"reference": "Group/1"}},
    ]
    out, err, failure = run_import(write(tmp_path / "mixed.ndjson", lines))
    assert "created 1, updated 0, skipped 0, rejected 7" in out and failure
    for line, text in [(2, "unknown questionnaire"), (3, "completed"), (4, "future"), (5, "bogus"), (6, "colour"),
                       (7, "not known here"), (8, "not a Patient")]:
        assert any(row.startswith(f"rejected line {line}: ") and text in row for row in err.splitlines()), (line, err)
    assert Administration.objects.get().source_identifier == "urn:a|good"


def test_importing_twice_stores_nothing_twice_and_a_repeated_response_is_stored_once(care, tmp_path):
    body = phq9_response(care.person.pid, [2] * 9, identifier={"system": "urn:a", "value": "twice"})
    path = write(tmp_path / "twice.ndjson", [body, body, phq9_response(care.male.pid, [0] * 9)])
    out, _err, failure = run_import(path)
    assert failure is None and "created 2, updated 0, skipped 1, rejected 0" in out
    counts = Administration.objects.count(), ScoreObservation.objects.count()
    out, _err, failure = run_import(path, "--restart")
    # the response without an identifier cannot be recognised: stored again, as create would store it
    assert "created 1, updated 0, skipped 2, rejected 0" in out
    assert Administration.objects.filter(source_identifier="urn:a|twice").count() == 1
    assert Administration.objects.count() == counts[0] + 1


def test_an_import_as_a_user_still_creates_each_response_with_the_care_relationship(care, tmp_path):
    care.clinician.username = "kari"
    care.clinician.save()
    lines = [phq9_response(care.person.pid, [1] * 9, identifier={"system": "urn:a", "value": "u1"}),
             phq9_response(care.stranger.pid, [1] * 9)]
    out, err, failure = run_import(write(tmp_path / "as.ndjson", lines), "--as", "kari")
    assert "created 1, updated 0, skipped 0, rejected 1" in out and failure
    assert "rejected line 2: " in err
    administration = Administration.objects.get()
    assert administration.unit_id == care.unit.pk and administration.recorded_by == care.clinician
    assert AuditEntry.objects.filter(person_pid=care.stranger.pid, outcome="denied", channel="cli").exists()


def canonical(path: Path) -> list[dict[str, Any]]:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()
                    if k != "id" and not (k == "reference" and "identifier" in value)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return [strip(json.loads(line)) for line in path.read_text().splitlines()]


def test_export_then_import_into_an_empty_database_then_export_gives_the_same_responses(care, tmp_path):
    from helhet.assessment.models import Mode
    from helhet.assessment.services import record_administration

    handler = HANDLERS["QuestionnaireResponse"]
    handler.create(FhirContext(user=care.clinician, base_url="", channel="fhir"),
                   phq9_response(care.person.pid, [1, 2, 3, 0, 1, 2, 3, 0, 1],
                                 identifier={"system": "urn:other", "value": "r-1"}))
    instrument_answers = Administration.objects.get().answers
    record_administration(user=None, person=care.male, instrument_id="phq-9", answers=instrument_answers,
                          administered_on=Administration.objects.get().administered_on, mode=Mode.SYNTHETIC)
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    call_command("export", str(first), stdout=StringIO(), stderr=StringIO())
    exported = canonical(first)
    responses = [r for r in exported if r["resourceType"] == "QuestionnaireResponse"]
    assert len(responses) == 2 and all(r.get("identifier", {}).get("value") for r in responses)
    Person.objects.all().delete()
    assert not Administration.objects.exists()
    out, err, failure = run_import(str(first))
    assert failure is None, err
    assert f"created {len(exported)}, updated 0, skipped 0, rejected 0" in out
    call_command("export", str(second), stdout=StringIO(), stderr=StringIO())
    assert canonical(second) == exported
    out, _err, _failure = run_import(str(second))
    assert f"created 0, updated 0, skipped {len(exported)}, rejected 0" in out
