"""`helhet import` of NDJSON and Bundle files, and `helhet export`: line-numbered rejects, no duplicates, round trip."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from helhet.audit.models import AuditEntry
from helhet.fhir.models import ImportCheckpoint
from helhet.pathways import services
from helhet.pathways.models import Coordinator, Encounter, EpisodeOfCare, IndividualPlan, Referral
from helhet.persons.models import Person

pytestmark = pytest.mark.django_db
PID = "P-IMPORT01"


def write_lines(path: Path, lines: list[Any]) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


def run_import(path: str, *args: str) -> tuple[str, str, str | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import", path, "--no-progress", *args, stdout=out, stderr=err)
        failure = None
    except CommandError as exc:
        failure = str(exc)
    return out.getvalue(), err.getvalue(), failure


def mixed_file(tmp_path: Path, fhir: Any, builders: Any) -> str:
    patient = fhir.patient(builders.synthetic_national_id(1970), family="Linjesen")
    patient["identifier"].append({"system": "urn:helhet:pid", "value": PID})
    return write_lines(tmp_path / "mixed.ndjson", [
        patient,                                                                      # 1
        fhir.episode(PID, "ward-a", ident="ep-1", start=100),                         # 2
        "{not json",                                                                  # 3
        fhir.admission(PID, "ward-zz", ident="adm-0", start=50),                      # 4 unknown unit
        fhir.admission(PID, "ward-a", ident="adm-1", start=20, end=30),               # 5 discharge before admission
        fhir.admission(PID, "ward-a", ident="adm-2", start=60, end=40, housing="none"),  # 6
        fhir.admission(PID, "ward-a", ident="adm-3", start=45, end=35),               # 7 overlaps line 6
        fhir.contact(PID, "dps-a", ident="c-0", start=-5),                            # 8 future
        "",                                                                           # 9 blank
        fhir.contact(PID, "dps-a", ident="c-1", start=5),                             # 10
        {"resourceType": "Observation", "status": "final"},                           # 11 unsupported
    ])


def test_bad_lines_are_rejected_with_their_line_numbers_and_the_rest_is_imported(world, fhir, builders, tmp_path):
    path = mixed_file(tmp_path, fhir, builders)
    out, err, failure = run_import(path, "--batch-size", "3")
    assert "created 4, updated 0, skipped 0, rejected 6" in out
    assert failure == "6 resource(s) rejected; the rest was imported"
    for line, text in [(3, "not valid JSON"), (4, "Unknown unit 'ward-zz'"), (5, "before the admission"),
                       (7, "overlaps"), (8, "in the future"), (11, "cannot be imported")]:
        assert any(row.startswith(f"rejected line {line}: ") and text in row for row in err.splitlines()), (line, err)
    person = Person.objects.get(pid=PID)
    assert sorted(Encounter.objects.filter(person=person).values_list("identifier", flat=True)) == ["adm-2", "c-1"]
    assert EpisodeOfCare.objects.filter(person=person).count() == 1
    checkpoint = ImportCheckpoint.objects.get()
    assert checkpoint.finished and checkpoint.lines_done == 11
    assert AuditEntry.objects.filter(actor="system:import", resource="FHIR import").exists()


def test_importing_the_same_file_again_creates_no_duplicates(world, fhir, builders, tmp_path):
    path = mixed_file(tmp_path, fhir, builders)
    run_import(path)
    counts = (Person.objects.count(), EpisodeOfCare.objects.count(), Encounter.objects.count())
    out, _err, _failure = run_import(path)
    assert "created 0, updated 0, skipped 4, rejected 6" in out
    assert (Person.objects.count(), EpisodeOfCare.objects.count(), Encounter.objects.count()) == counts


def test_a_changed_resource_is_updated_in_place(world, fhir, tmp_path):
    pid = world.person.pid
    first = write_lines(tmp_path / "a.ndjson", [fhir.admission(pid, "ward-a", ident="adm-9", start=9)])
    run_import(first)
    second = write_lines(tmp_path / "b.ndjson", [fhir.admission(pid, "ward-a", ident="adm-9", start=9, end=2,
                                                                housing="temporary")])
    out, _err, failure = run_import(second)
    assert failure is None and "created 0, updated 1" in out
    stay = Encounter.objects.get(identifier="adm-9")
    assert stay.end_date == dt.date.today() - dt.timedelta(days=2) and stay.housing_at_discharge == "temporary"


def test_as_a_user_persons_without_a_care_relationship_are_rejected_and_audited(world, fhir, tmp_path):
    path = write_lines(tmp_path / "as.ndjson", [
        fhir.contact(world.person.pid, "dps-a", ident="c-1", start=3),
        fhir.contact(world.stranger.pid, "dps-a", ident="c-2", start=3),
    ])
    out, err, failure = run_import(path, "--as", "kari")
    assert "created 1, updated 0, skipped 0, rejected 1" in out and failure
    assert "rejected line 2: You have no care relationship" in err
    assert not Encounter.objects.filter(person=world.stranger).exists()
    assert AuditEntry.objects.filter(person_pid=world.stranger.pid, outcome="denied", channel="cli").exists()
    listed = AuditEntry.objects.filter(actor="kari", action="list", resource="FHIR import").get()
    assert listed.detail["persons"] == [world.person.pid]


def test_a_bundle_file_is_all_or_nothing(world, fhir, tmp_path):
    pid = world.person.pid
    good = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": fhir.contact(pid, "dps-a", ident="c-1", start=3)},
        {"resource": fhir.admission(pid, "ward-a", ident="adm-1", start=10, end=5, housing="permanent")}]}
    bad = json.loads(json.dumps(good))
    bad["entry"].append({"resource": fhir.admission(pid, "ward-a", ident="adm-2", start=8)})  # overlaps adm-1
    (tmp_path / "bad.json").write_text(json.dumps(bad, indent=2))
    out, err, failure = run_import(str(tmp_path / "bad.json"))
    assert failure == "the Bundle was rejected; nothing was written"
    assert "entry 3 (Encounter): This admission overlaps" in err
    assert not Encounter.objects.exists()
    (tmp_path / "good.json").write_text(json.dumps(good, indent=2))
    out, err, failure = run_import(str(tmp_path / "good.json"))
    assert failure is None and "(bundle): created 2" in out
    assert Encounter.objects.count() == 2


def record_a_pathway(world: Any, builders: Any) -> None:
    """Some of everything for the clinician's person, through the pathway services."""
    user, pid, today = world.clinician, world.person.pid, dt.date.today()
    services.record_admission(user=user, pid=pid, unit="ward-a", admitted_on=today - dt.timedelta(days=40))
    stay = Encounter.objects.get(person=world.person, kind="admission")
    services.record_discharge(user=user, pid=pid, admission_id=stay.pk, discharged_on=today - dt.timedelta(days=30),
                              housing="temporary")
    services.record_contact(user=user, pid=pid, unit="dps-a", contact_date=today - dt.timedelta(days=20),
                            mode="phone", minutes=15)
    services.send_referral(user=user, pid=pid, from_unit="dps-a", to_unit="tsb-b",
                           sent_date=today - dt.timedelta(days=25), pathway_type="D01")
    services.record_plan_status(user=user, pid=pid, status="offered", status_date=today - dt.timedelta(days=10),
                                unit="dps-a")
    services.assign_coordinator(user=user, pid=pid, name="Kari Koordinator", unit="dps-a",
                                start_date=today - dt.timedelta(days=9))
    services.record_group_meeting(user=user, pid=pid, held_on=today - dt.timedelta(days=8),
                                  members=[{"name": "Fastlege", "role": "GP"}])


def canonical(path: Path) -> list[dict[str, Any]]:
    """The resources without this server's ids (which a new database assigns anew), references by identifier."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()
                    if k != "id" and not (k == "reference" and "identifier" in value)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return [strip(json.loads(line)) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("as_user", [None, "kari"])
def test_export_then_import_into_an_empty_database_then_export_gives_the_same_resources(
        world, builders, tmp_path, as_user):
    record_a_pathway(world, builders)
    args = ["--as", as_user] if as_user else []
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    call_command("export", str(first), *args, stdout=StringIO(), stderr=StringIO())
    exported = canonical(first)
    kinds = [r["resourceType"] for r in exported]
    for kind in ("Patient", "EpisodeOfCare", "ServiceRequest", "Encounter", "CarePlan", "CareTeam"):
        assert kind in kinds
    if as_user:
        assert all(r["identifier"][0]["value"] != world.stranger.pid for r in exported if r["resourceType"] ==
                   "Patient")
        assert kinds.count("Patient") == 1
    Person.objects.all().delete()  # the persons' records go with them: an empty database but for units and users
    assert not (EpisodeOfCare.objects.exists() or Encounter.objects.exists() or Referral.objects.exists()
                or IndividualPlan.objects.exists() or Coordinator.objects.exists())
    out, err, failure = run_import(str(first), *args)
    assert failure is None, err
    assert f"created {len(exported)}, updated 0, skipped 0, rejected 0" in out
    call_command("export", str(second), *args, stdout=StringIO(), stderr=StringIO())
    assert canonical(second) == exported
    out, _err, _failure = run_import(str(second), *args)
    assert f"created 0, updated 0, skipped {len(exported)}, rejected 0" in out


def test_a_malformed_first_line_is_still_read_as_ndjson(world, fhir, tmp_path):
    path = write_lines(tmp_path / "first-bad.ndjson", ["{oops", fhir.contact(world.person.pid, "dps-a", ident="c",
                                                                              start=1)])
    out, err, failure = run_import(path)
    assert "created 1, updated 0, skipped 0, rejected 1" in out
    assert "rejected line 1: not valid JSON" in err and failure


@pytest.mark.parametrize("first", [True, False])
def test_absurdly_deep_nesting_is_a_rejected_line_not_a_crash(world, fhir, tmp_path, first):
    deep = '{"resourceType": "Patient", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    good = fhir.contact(world.person.pid, "dps-a", ident="c", start=1)
    path = write_lines(tmp_path / "deep.ndjson", [deep, good] if first else [good, deep])
    out, err, failure = run_import(path)
    assert "created 1, updated 0, skipped 0, rejected 1" in out
    assert f"rejected line {1 if first else 2}: not valid JSON: nested too deeply" in err and failure


def test_an_absurdly_deep_bundle_file_is_refused_with_a_message(world, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"resourceType": "Bundle", "entry": ' + "[" * 100_000 + "]" * 100_000 + "}")
    out, err, failure = run_import(str(path))
    assert failure and "nested too deeply" in failure


def test_an_export_appends_its_audit_entries_when_the_file_is_written(world, fhir, builders, tmp_path, monkeypatch):
    """The chain's head is not locked while an export runs: its entries are appended at the end."""
    from helhet.fhir.management.commands import export as export_command

    record_a_pathway(world, builders)
    real = export_command.export_resources
    during: list[int] = []

    def watched(user, **kwargs):
        for resource in real(user, **kwargs):
            if resource["resourceType"] != "Patient":  # the Patients are out: audited, but not appended yet
                during.append(AuditEntry.objects.count())
            yield resource

    monkeypatch.setattr(export_command, "export_resources", watched)
    before = AuditEntry.objects.count()
    call_command("export", str(tmp_path / "out.ndjson"), "--as", "kari", stdout=StringIO(), stderr=StringIO())
    assert during and set(during) == {before}
    entry = AuditEntry.objects.filter(resource="FHIR export").latest("seq")
    assert entry.seq > before and world.person.pid in entry.detail["persons"]


def test_a_failed_export_leaves_no_file_and_no_audit_entry(world, fhir, builders, tmp_path, monkeypatch):
    """An export that fails halfway removes what it had written (national identity numbers included)."""
    from helhet.fhir.management.commands import export as export_command

    record_a_pathway(world, builders)
    real = export_command.export_resources

    def failing(user, **kwargs):
        for resource in real(user, **kwargs):
            if resource["resourceType"] != "Patient":  # the Patients are written (and audited) by now
                raise RuntimeError("disk gone")
            yield resource

    monkeypatch.setattr(export_command, "export_resources", failing)
    target = tmp_path / "out.ndjson"
    exports_before = AuditEntry.objects.filter(resource="FHIR export").count()
    with pytest.raises(RuntimeError, match="disk gone"):
        call_command("export", str(target), stdout=StringIO(), stderr=StringIO())
    assert list(tmp_path.iterdir()) == []
    assert AuditEntry.objects.filter(resource="FHIR export").count() == exports_before
