"""The fast paths of the bulk import (issue 4 performance) keep the behaviour of the plain paths.

- `bulk.insert_rows` (COPY on PostgreSQL, bulk_create elsewhere) stores the same rows, defaults included;
- structural validation with remembered nested elements accepts and rejects exactly what plain
  `model_validate` accepts and rejects, also for an element met before in a valid resource;
- verdicts computed in a worker process and applied by the writer give the same items as validating in place;
- `any_of` (one array parameter on PostgreSQL) finds what `__in` finds;
- the same resource twice in one batch is created once and skipped once (it used to fail).
"""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from fhir.resources.R4B.encounter import Encounter as EncounterModel

from helhet.fhir import bulk
from helhet.fhir.bulk import ImportContext, ImportItem, any_of, insert_rows, parse_chunk, validate_chunk
from helhet.pathways.models import Encounter, EpisodeOfCare, ResponsibilityGroup
from helhet.persons.models import Person

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()
UNIT = "urn:helhet:unit"


def contact(pid: str, unit: str, ident: str, *, start: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Encounter", "identifier": [{"system": "urn:test", "value": ident}],
            "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                            "code": "AMB"},
            "subject": {"reference": f"Patient/{pid}"}, "serviceProvider": {"identifier": {"system": UNIT,
                                                                                            "value": unit}},
            "period": {"start": start or (TODAY - dt.timedelta(days=3)).isoformat()}, **extra}


def test_insert_rows_stores_what_bulk_create_stores_with_defaults_json_and_choices(world):
    person = world.person
    before = timezone.now()
    ids = insert_rows(Encounter, [
        {"person_id": person.pk, "unit_id": world.dps.pk, "start_date": TODAY, "identifier": "e-1"},
        {"person_id": person.pk, "unit_id": world.ward.pk, "start_date": TODAY - dt.timedelta(days=9),
         "end_date": TODAY - dt.timedelta(days=2), "kind": "admission", "mode": "face_to_face", "staff_count": 3,
         "minutes": None, "housing_at_discharge": "temporary", "identifier": "e-2"},
    ])
    first, second = (Encounter.objects.get(pk=pk) for pk in ids)
    assert (first.kind, first.mode, first.staff_count, first.minutes, first.housing_at_discharge, first.episode_id
            ) == ("contact", "face_to_face", 1, None, "", None)  # the field defaults, as bulk_create gives them
    assert (second.kind, second.staff_count, second.end_date, second.identifier) == (
        "admission", 3, TODAY - dt.timedelta(days=2), "e-2")
    [group_id] = insert_rows(ResponsibilityGroup, [{"person_id": person.pk, "established_on": TODAY,
                                                   "members": [{"name": "Fastlege", "role": "GP", "unit": None}]}])
    group = ResponsibilityGroup.objects.get(pk=group_id)
    assert group.members == [{"name": "Fastlege", "role": "GP", "unit": None}] and group.identifier == ""
    [person_id] = insert_rows(Person, [{"pid": "P-FASTPATH", "given_name": "Rask", "family_name": "Vei",
                                        "birth_year": 1977, "municipality_id": person.municipality_id}])
    stored = Person.objects.get(pk=person_id)
    assert stored.created_at >= before and stored.sex == "unknown" and stored.nin_hash is None
    assert not stored.consent_next_of_kin and stored.nin_encrypted == ""
    assert insert_rows(Encounter, []) == []


def test_insert_rows_refuses_a_row_that_breaks_a_constraint(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Encounter, [{"person_id": world.person.pk, "unit_id": world.dps.pk, "start_date": TODAY,
                                 "end_date": TODAY - dt.timedelta(days=1)}])  # ends before it starts
    assert not Encounter.objects.exists()


def plain_verdict(resource: dict[str, Any]) -> str:
    try:
        bulk.validate_r4b(resource, EncounterModel)
    except bulk.Rejected as exc:
        return exc.message
    return ""


def test_remembered_elements_accept_and_reject_exactly_what_plain_validation_does(world):
    pid = world.person.pid
    good = contact(pid, "dps-test", "c-1")
    bad_nested = contact(pid, "dps-test", "c-2")
    bad_nested["serviceProvider"] = {"identifier": {"system": UNIT, "value": "dps-test"}, "display": 7}
    null_in_list = contact(pid, "dps-test", "c-3", type=[None])
    wrong_type = contact(pid, "dps-test", "c-4")
    wrong_type["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": ["AMB"]}
    bad_date = contact(pid, "dps-test", "c-5", start="2024-13-40")
    lines = [good, bad_nested, good, null_in_list, wrong_type, contact(pid, "dps-test", "c-6"), bad_date, good]
    chunk = [(n, json.dumps(resource).encode()) for n, resource in enumerate(lines, start=1)]
    expected = [plain_verdict(resource) for resource in lines]
    assert [message == "" for message in expected] == [True, False, True, False, False, True, False, True]
    bulk._ELEMENT_MEMO.clear()
    for _round in range(2):  # the second round meets every element again, remembered
        verdicts = validate_chunk(chunk)
        assert [message for _ok, message, _prepared in verdicts] == expected
        assert [ok for ok, _message, _prepared in verdicts] == [not message for message in expected]
    assert bulk._ELEMENT_MEMO  # something was remembered
    from fhir_core.types import FhirBase

    assert "memoized" not in repr(FhirBase.fhir_model_validator)  # and the library is left as it was


def test_verdicts_from_a_worker_give_the_same_items_as_validating_in_place(world):
    pid = world.person.pid
    bad = contact(pid, "dps-test", "c-2")
    bad["period"] = {"start": "yesterday"}
    chunk = [(1, json.dumps(contact(pid, "dps-test", "c-1")).encode()), (2, b"{not json"),
             (3, json.dumps(bad).encode()), (5, json.dumps({"resourceType": "Observation"}).encode()),
             (6, json.dumps({"resourceType": "QuestionnaireResponse", "status": "completed"}).encode())]
    in_place = parse_chunk(chunk)
    from_worker = parse_chunk(chunk, validate_chunk(chunk))
    assert [(i.index, i.outcome, i.message, i.status, i.validated) for i in in_place] == [
        (i.index, i.outcome, i.message, i.status, i.validated) for i in from_worker]
    assert [(i.outcome, i.validated) for i in in_place] == [("", True), ("rejected", False), ("rejected", False),
                                                           ("", False), ("", True)]


def test_any_of_finds_what_in_finds(world, builders):
    other = builders.make_person()
    pids = [world.person.pid, other.pid, "P-NOTTHERE"]
    assert set(Person.objects.filter(any_of(Person, "pid", pids)).values_list("pid", flat=True)) == set(pids[:2])
    assert not Person.objects.filter(any_of(Person, "pid", [])).exists()
    builders.make_episode(other, world.dps)
    EpisodeOfCare.objects.filter(person=other).update(identifier="ep-x")
    joined = EpisodeOfCare.objects.filter(any_of(EpisodeOfCare, "identifier", ["ep-x"]), person__pid=other.pid)
    assert [e.person_id for e in joined] == [other.pk]


def test_the_same_resource_twice_in_one_batch_is_created_once(world, tmp_path: Path):
    pid = world.person.pid
    line = json.dumps(contact(pid, "dps-test", "twice"))
    path = tmp_path / "twice.ndjson"
    path.write_text(f"{line}\n{line}\n")
    out = StringIO()
    call_command("import", str(path), "--no-progress", "--workers", "1", stdout=out, stderr=StringIO())
    assert "created 1, updated 0, skipped 1, rejected 0" in out.getvalue()
    assert Encounter.objects.filter(identifier="twice").count() == 1
    changed = contact(pid, "dps-test", "twice", start=(TODAY - dt.timedelta(days=5)).isoformat())
    path.write_text(f"{json.dumps(changed)}\n{line}\n")
    with pytest.raises(CommandError):
        call_command("import", str(path), "--no-progress", "--restart", stdout=out, stderr=StringIO())


def test_a_batch_of_a_bundle_resolves_a_repeated_entry_to_the_first_ones_location(world):
    ictx = ImportContext(user=None, channel="cli", api=False)
    resource = contact(world.person.pid, "dps-test", "bundle-twice")
    items = [ImportItem(index=1, resource=resource, full_url="urn:uuid:a"),
             ImportItem(index=2, resource=dict(resource), full_url="urn:uuid:b")]
    bulk.process_batch(ictx, items)
    assert [item.outcome for item in items] == ["created", "skipped"]
    assert items[0].location == items[1].location == ictx.urns["urn:uuid:b"]
