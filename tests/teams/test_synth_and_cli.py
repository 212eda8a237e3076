"""The synthetic teams (staffing, reviews, board) and the `helhet fidelity` command."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count

from helhet.audit.models import AuditEntry
from helhet.organisations.models import UnitKind
from helhet.synth import synth_steps as foundation
from helhet.synth.registry import STEPS, SynthContext
from helhet.teams import synth_steps
from helhet.teams.fidelity import score_review, shipped_scales
from helhet.teams.models import BoardPlacement, FidelityReview, StaffingDetail, TeamProfile
from helhet.teams.services import staff_composition

TODAY = dt.date(2026, 6, 1)


def synth_teams(persons: int = 300, seed: int = 5) -> SynthContext:
    ctx = SynthContext(rng=random.Random(seed), seed=seed, today=TODAY, start=TODAY.replace(year=TODAY.year - 5),
                       requested_persons=persons, show_progress=False)
    for step in (foundation.units, foundation.persons, foundation.episodes, synth_steps.teams):
        step(ctx)
    return ctx


def test_the_teams_step_is_registered_at_160() -> None:
    assert [(s.order, s.function) for s in STEPS if s.name == "teams"] == [(160, synth_steps.teams)]


def test_synthetic_teams_have_staff_reviews_and_boards(refdata: None) -> None:
    ctx = synth_teams()
    teams = ctx.units["team"]
    assert teams and TeamProfile.objects.filter(unit__in=teams).count() == len(teams)
    per_team = dict(FidelityReview.objects.values_list("team_id").annotate(n=Count("id")))
    assert set(per_team) == {t.pk for t in teams} and set(per_team.values()) <= {2, 3}
    dacts = shipped_scales()["dacts"]
    for review in FidelityReview.objects.prefetch_related("item_scores", "reviewers")[:10]:
        items = list(review.item_scores.all())
        assert len(items) == 28 and review.reviewers.exists() and review.review_date < TODAY
        again = score_review(dacts, {i.item_id: i.score for i in items},
                             {i.item_id: i.justification for i in items if i.justification})
        assert again.total_mean == pytest.approx(review.total_mean) and again.level.id == review.level_id  # type: ignore[union-attr]
    for team in teams[:5]:
        lines = {line.profession.value: line.fte for line in staff_composition(team, TODAY)}
        assert lines["team_leader"] == 1.0 and lines["nurse"] >= 1.6 and 0.5 <= lines["psychiatrist"] <= 1.0
        assert 6 <= sum(lines.values()) <= 20
    assert StaffingDetail.objects.count() == ctx.counts["team staff"]
    placements = BoardPlacement.objects.select_related("team")
    assert placements.exists() and {p.team.kind for p in placements} == {UnitKind.FACT}


def test_a_second_run_replaces_reviews_and_keeps_staff(refdata: None) -> None:
    first = synth_teams(persons=100)
    staff = StaffingDetail.objects.count()
    reviews = FidelityReview.objects.count()
    synth_step_ctx = SynthContext(rng=random.Random(9), seed=9, today=TODAY, start=first.start, show_progress=False,
                                  units=first.units)
    synth_steps.teams(synth_step_ctx)
    assert StaffingDetail.objects.count() == staff and synth_step_ctx.counts["team staff"] == 0
    assert 2 * len(first.units["team"]) <= FidelityReview.objects.count() <= 3 * len(first.units["team"])
    assert reviews > 0


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("fidelity", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_cli_exports_json_and_csv(refdata: None, tmp_path: Any) -> None:
    ctx = synth_teams(persons=100)
    team = ctx.units["team"][0]
    data = json.loads(run("export", "--format", "json", "--team", team.code))
    assert {r["team_code"] for r in data["reviews"]} == {team.code}
    assert len(data["reviews"]) == FidelityReview.objects.filter(team=team).count()
    target = tmp_path / "reviews.csv"
    run("export", "--format", "csv", "--output", str(target))
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == 28 * FidelityReview.objects.count()
    assert AuditEntry.objects.filter(actor="system:fidelity export", action="export").count() == 2
    region = team.trust.region.code
    regional = json.loads(run("export", "--region", region))
    assert regional["reviews"] and {r["region"] for r in regional["reviews"]} == {region}
    assert "dacts" in run("scales")


def test_cli_refuses_unknown_team_region_and_format(refdata: None) -> None:
    with pytest.raises(CommandError, match="no ACT/FACT team with code 'nope'"):
        run("export", "--team", "nope")
    with pytest.raises(CommandError, match="unknown region 'XX'"):
        run("export", "--region", "XX")
    with pytest.raises(CommandError):
        run("export", "--format", "xml")


def test_licensed_scales_load_from_the_configured_directory(refdata: None, tmp_path: Any,
                                                             monkeypatch: Any) -> None:
    import shutil
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "made_up_scale.json"
    shutil.copy(fixture, tmp_path / "made_up_scale.json")
    monkeypatch.setenv("HELHET_FIDELITY_SCALES_DIR", str(tmp_path))
    assert "made-up-fact" in run("scales")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(CommandError, match="broken.json: not valid JSON"):
        run("scales")
