"""The whole synthetic population: export → import into an empty database → export gives the same resources,
and every pathway and recovery table has exactly as many rows as before (so a record kind that does not
travel fails the test)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import F, Model

from helhet.persons.models import Person
from helhet.persons.pseudonyms import decrypt_nin
from helhet.recovery.models import GoalReview
from helhet.synth.service import generate_population

pytestmark = pytest.mark.django_db
FNR, DNR = "urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2"


def exchanged_models() -> list[type[Model]]:
    """Every model of the pathway and recovery apps, and the persons themselves."""
    return [Person, *apps.get_app_config("pathways").get_models(), *apps.get_app_config("recovery").get_models()]


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in exchanged_models()}


def canonical(path: Path) -> list[dict[str, Any]]:
    """The resources without this server's ids (a new database assigns its own), references by identifier."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()
                    if k != "id" and not (k == "reference" and "identifier" in value)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return [strip(json.loads(line)) for line in path.read_text().splitlines()]


def run(command: str, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_the_synthetic_population_survives_export_import_export_whole(refdata, tmp_path):
    generate_population(persons=80, seed=7, show_progress=False)
    before = row_counts()
    # The population has some of everything the timeline shows, so that each kind is really exchanged.
    for label in ("pathways.PathwayDecision", "pathways.ResponsibilityGroupMeeting", "pathways.NextOfKinContact",
                  "pathways.EvaluationPoint", "pathways.Coordinator", "pathways.IndividualPlan",
                  "recovery.RecoveryPlan", "recovery.Goal", "recovery.GoalReview", "recovery.GoalRating"):
        assert before[label] > 0, label
    # ... and keeps the rules the import checks (a self-rating is never dated before its plan).
    assert not GoalReview.objects.filter(reviewed_on__lt=F("plan__created_on")).exists()
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    run("export", str(first))
    exported = canonical(first)
    Person.objects.all().delete()  # the persons' records go with them: empty but for units, users, reference data
    assert {label: n for label, n in row_counts().items() if n} == {}
    out = run("import", str(first), "--no-progress", "--workers", "1")
    assert f"created {len(exported)}, updated 0, skipped 0, rejected 0" in out, out[-2000:]
    assert row_counts() == before
    run("export", str(second))
    again = canonical(second)
    assert len(again) == len(exported)
    assert again == exported
    out = run("import", str(second), "--no-progress", "--workers", "1")
    assert f"created 0, updated 0, skipped {len(exported)}, rejected 0" in out, out[-2000:]
    assert row_counts() == before


def test_the_exchanged_patient_carries_the_national_identity_number(builders, tmp_path):
    person = builders.make_person(family_name="Nummersen")
    path = tmp_path / "p.ndjson"
    run("export", str(path))
    patient = next(json.loads(line) for line in path.read_text().splitlines()
                   if json.loads(line)["id"] == person.pid)
    numbers = [i for i in patient["identifier"] if i["system"] in (FNR, DNR)]
    assert numbers == [{"use": "official", "system": FNR, "value": decrypt_nin(person.nin_encrypted)}]
    # Imported into an empty database, the person is found again by the number.
    nin_hash = person.nin_hash
    Person.objects.all().delete()
    run("import", str(path), "--no-progress", "--workers", "1")
    assert Person.objects.get(pid=person.pid).nin_hash == nin_hash


def test_a_synthetic_d_number_goes_under_the_d_number_system():
    from helhet.persons.fhir_resources import national_id_system
    from helhet.persons.nin import check_digits

    # day 41 (+40: D-number), month 81 (+80: synthetic), 1980, individual 123
    first_nine = next(f"418180{n:03d}" for n in range(100, 500) if check_digits(f"418180{n:03d}"))
    assert national_id_system(first_nine + str(check_digits(first_nine))) == DNR
