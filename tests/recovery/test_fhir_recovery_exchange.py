"""Recovery plans in a bulk exchange: exported whole (goals, reviews, GAS ratings, the individual plan it belongs
to) and imported again exactly; a second import changes nothing; bad plans are rejected and nothing is written."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from fhir.resources.R4B.careplan import CarePlan

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.fhir.bulk import export_resources
from helhet.fhir.models import ApiClient
from helhet.pathways.models import IndividualPlan
from helhet.recovery import services
from helhet.recovery.models import Goal, GoalRating, GoalReview, Proposal, RecoveryPlan

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()


def make_plan(world: Any) -> RecoveryPlan:
    IndividualPlan.objects.create(person=world.person, status="active", status_date=TODAY - dt.timedelta(days=300),
                                  identifier="ip-exchange")
    plan = services.create_plan(user=world.clinician, person=world.person, created_on=TODAY - dt.timedelta(days=200))
    housing = services.add_goal(user=world.clinician, person=world.person, plan=plan, data={
        "text": "Ha min egen leilighet", "life_area": "housing", "level_expected": "Har leiekontrakt",
        "level_much_more": "Har bodd der et halvt år", "weight": "2", "baseline": "-2", "helpers": "Boveileder"})
    work = services.add_goal(user=world.clinician, person=world.person, plan=plan, data={
        "text": "Komme i jobb", "life_area": "work", "review_date": (TODAY + dt.timedelta(days=30)).isoformat()})
    services.record_review(user=world.clinician, person=world.person, plan=plan,
                           reviewed_on=TODAY - dt.timedelta(days=100), ratings={housing.pk: -1, work.pk: 0},
                           note="God framgang")
    services.record_review(user=world.service_user, person=world.person, plan=plan,
                           reviewed_on=TODAY - dt.timedelta(days=3), ratings={housing.pk: 1})
    services.add_goal(user=world.service_user, person=world.person, plan=plan,
                      data={"text": "Synge i kor", "life_area": "leisure"})
    return plan


def plan_lines(tmp_path: Path) -> Path:
    path = tmp_path / "plans.ndjson"
    resources = [r for r in export_resources(None) if r["resourceType"] == "CarePlan"
                 and r["category"][0]["coding"][0]["code"] == "recovery-plan"]
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    return path


def state() -> list[Any]:
    """What a recovery plan holds, without database ids and users."""
    plans = []
    for plan in RecoveryPlan.objects.order_by("identifier"):
        goals = {g.pk: (g.text, g.life_area, g.level_expected, g.level_much_more, g.weight, g.baseline, g.helpers,
                        g.review_date, g.status, g.proposal, g.by_person, g.created_at.date())
                 for g in plan.goals.order_by("pk")}
        reviews = [(r.reviewed_on, r.self_rating, r.proposal, r.note,
                    sorted((goals[x.goal_id][0], x.rating) for x in r.ratings.all()))
                   for r in plan.reviews.order_by("reviewed_on", "pk")]
        plans.append((plan.identifier, plan.person_id, plan.created_on, plan.status,
                      plan.individual_plan.identifier if plan.individual_plan else None,
                      list(goals.values()), reviews))
    return plans


def run_import(path: Path, *args: str) -> tuple[str, str | None]:
    out = StringIO()
    try:
        call_command("import", str(path), "--no-progress", "--workers", "1", *args, stdout=out, stderr=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def test_a_plan_goes_out_and_comes_back_whole(world, tmp_path):
    make_plan(world)
    path = plan_lines(tmp_path)
    resource = json.loads(path.read_text())
    CarePlan.model_validate(resource)
    assert len(resource["contained"]) == 3 and len(resource["goal"]) == 3
    assert resource["partOf"][0]["identifier"]["value"] == "ip-exchange"
    assert sum(e["url"].endswith("gas-review") for e in resource["extension"]) == 2
    before = state()
    assert any(goal[9] == Proposal.PENDING for goal in before[0][5])  # the person's own goal, still a proposal
    RecoveryPlan.objects.all().delete()
    assert not (Goal.objects.exists() or GoalReview.objects.exists() or GoalRating.objects.exists())
    out, failure = run_import(path)
    assert failure is None and "created 1, updated 0, skipped 0, rejected 0" in out, out
    assert state() == before
    assert json.loads(plan_lines(tmp_path).read_text())["contained"] == resource["contained"]
    out, failure = run_import(path)
    assert failure is None and "created 0, updated 0, skipped 1, rejected 0" in out, out
    assert RecoveryPlan.objects.count() == 1 and Goal.objects.count() == 3


def changed(path: Path, change: Any) -> Path:
    resource = json.loads(path.read_text())
    change(resource)
    path.write_text(json.dumps(resource) + "\n")
    return path


def rating(resource: dict[str, Any]) -> dict[str, Any]:
    review = next(e for e in resource["extension"] if e["url"].endswith("gas-review"))
    return next(p for p in review["extension"] if p["url"] == "rating")["extension"][1]


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: rating(r).update(valueInteger=3), "gas-review rating"),
    (lambda r: r["contained"][0].update(category=[]), "Goal: Choose a life area"),
    (lambda r: r.update(created=(TODAY + dt.timedelta(days=2)).isoformat()), "in the future"),
    (lambda r: r["partOf"][0]["identifier"].update(value="ip-unknown"), "is not known for this patient"),
    (lambda r: r.update(status="draft"), "not supported for a recovery plan"),
])
def test_bad_plans_are_rejected_and_nothing_is_written(world, tmp_path, change, message):
    make_plan(world)
    path = plan_lines(tmp_path)
    RecoveryPlan.objects.all().delete()
    out, failure = run_import(changed(path, change))
    assert failure and "rejected 1" in out and message in out, out
    assert not (RecoveryPlan.objects.exists() or Goal.objects.exists() or GoalReview.objects.exists())


def test_a_stored_plan_is_not_changed_by_an_import(world, tmp_path):
    make_plan(world)
    path = plan_lines(tmp_path)  # the export gives the plan its exchange identifier
    before = state()
    out, failure = run_import(changed(path, lambda r: rating(r).update(valueInteger=2)))
    assert failure and "already stored with other content" in out
    assert state() == before


def test_one_plan_twice_in_a_file_is_taken_once_and_a_different_second_copy_is_refused(world, tmp_path):
    make_plan(world)
    path = plan_lines(tmp_path)
    line = path.read_text()
    before = state()
    RecoveryPlan.objects.all().delete()
    out, failure = run_import(_written(tmp_path / "twice.ndjson", line + line))
    assert failure is None and "created 1, updated 0, skipped 1, rejected 0" in out, out
    assert state() == before
    RecoveryPlan.objects.all().delete()
    different = json.loads(line)
    rating(different).update(valueInteger=2)
    out, failure = run_import(_written(tmp_path / "different.ndjson", line + json.dumps(different) + "\n"))
    assert failure and "created 1, updated 0, skipped 0, rejected 1" in out, out
    assert "line 2" in out and "appears twice with different content" in out
    assert state() == before  # the first copy, as it was


def test_a_copy_of_a_refused_plan_is_refused_too(world, tmp_path):
    make_plan(world)
    path = plan_lines(tmp_path)
    RecoveryPlan.objects.all().delete()
    bad = json.loads(path.read_text())
    bad["partOf"][0]["identifier"]["value"] = "ip-unknown"
    line = json.dumps(bad) + "\n"
    out, failure = run_import(_written(tmp_path / "bad-twice.ndjson", line + line))
    assert failure and "rejected 2" in out and out.count("is not known for this patient") == 2, out
    assert not RecoveryPlan.objects.exists()


def _written(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_as_a_user_only_persons_in_care_and_through_the_api_in_a_transaction(world, builders, tmp_path):
    make_plan(world)
    path = plan_lines(tmp_path)
    RecoveryPlan.objects.all().delete()
    outsider = builders.make_user(Role.CLINICIAN, units=[builders.make_unit()], username="utenfor")
    out, failure = run_import(path, "--as", outsider.username)
    assert failure and "rejected 1" in out and not RecoveryPlan.objects.exists()
    assert AuditEntry.objects.filter(actor="utenfor", person_pid=world.person.pid, outcome="denied").exists()
    _c, token = ApiClient.issue(name="ehr-r", user=world.clinician)
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": json.loads(path.read_text()), "request": {"method": "POST", "url": "CarePlan"}}]}
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.post("/fhir/", data=bundle, content_type="application/fhir+json")
    assert response.status_code == 200, response.content
    location = response.json()["entry"][0]["response"]["location"]
    assert location.startswith("CarePlan/recovery-") and RecoveryPlan.objects.get().goals.count() == 3
    again = api.post("/fhir/", data=bundle, content_type="application/fhir+json")
    assert again.json()["entry"][0]["response"]["status"] == "200 OK" and RecoveryPlan.objects.count() == 1
