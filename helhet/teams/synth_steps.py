"""Synthetic ACT/FACT teams: catchment, realistic staffing, FACT board placements, two or three fidelity reviews.

Staff are synthetic users (no usable password) with staff memberships and staffing
details; the reviews are scored by the same pure `fidelity.score_review` as real ones.
Everything is bulk-inserted; a few hundred rows per team whatever the population size,
plus board placements for a share of each FACT team's caseload.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from helhet.accounts.models import Role, StaffMembership, User
from helhet.organisations.models import UnitKind
from helhet.synth import names
from helhet.synth.registry import SynthContext, chunks, synth_step
from helhet.teams.fidelity import FidelityScale, score_review, shipped_scales
from helhet.teams.models import (
    BoardPlacement,
    BoardReason,
    FidelityItemScore,
    FidelityReview,
    StaffingDetail,
    TeamProfile,
)
from helhet.teams.prefill import Profession

STAFF_PREFIX = "synth-staff-"
# (profession, FTE range per position, positions min-max): a typical Norwegian ACT/FACT team of 9-14 FTE.
STAFFING: list[tuple[Profession, tuple[float, float], tuple[int, int]]] = [
    (Profession.TEAM_LEADER, (1.0, 1.0), (1, 1)),
    (Profession.PSYCHIATRIST, (0.5, 1.0), (1, 1)),
    (Profession.PSYCHOLOGIST, (0.8, 1.0), (1, 2)),
    (Profession.NURSE, (0.8, 1.0), (2, 4)),
    (Profession.SUBSTANCE_SPECIALIST, (0.8, 1.0), (1, 2)),
    (Profession.VOCATIONAL_SPECIALIST, (0.5, 1.0), (0, 1)),
    (Profession.PEER_SPECIALIST, (0.5, 1.0), (0, 1)),
    (Profession.SOCIAL_WORKER, (0.8, 1.0), (1, 2)),
    (Profession.CASE_MANAGER, (0.8, 1.0), (0, 2)),
    (Profession.GP, (0.1, 0.2), (0, 1)),
    (Profession.ADMINISTRATIVE, (0.2, 0.5), (0, 1)),
]
BOARD_NOW_SHARE = 0.08
BOARD_PAST_SHARE = 0.15


def _staff(ctx: SynthContext, team: Any) -> list[tuple[User, StaffMembership, StaffingDetail]]:
    rng = ctx.rng
    made: list[tuple[User, StaffMembership, StaffingDetail]] = []
    for profession, (low, high), (fewest, most) in STAFFING:
        for _n in range(rng.randint(fewest, most)):
            female = rng.random() < 0.7
            given = rng.choice(names.GIVEN_FEMALE if female else names.GIVEN_MALE)
            family = rng.choice(names.FAMILY)
            username = f"{STAFF_PREFIX}{team.code}-{len(made) + 1}"
            role = Role.TEAM_LEADER if profession == Profession.TEAM_LEADER else Role.CLINICIAN
            user = User(username=username, first_name=given, last_name=family, role=role, password="!synthetic")
            fte = round(rng.uniform(low, high) * 10) / 10 if high > low else low
            start = ctx.today - dt.timedelta(days=rng.randint(60, 2500))
            membership = StaffMembership(unit=team, profession=profession.value.replace("_", " "),
                                         fte=max(fte, 0.1), start_date=start)
            detail = StaffingDetail(profession=profession.value,
                                    field_experience=profession in (Profession.SUBSTANCE_SPECIALIST,
                                                                    Profession.VOCATIONAL_SPECIALIST)
                                    and rng.random() < 0.8)
            made.append((user, membership, detail))
    return made


def _review_dates(ctx: SynthContext) -> list[dt.date]:
    rng = ctx.rng
    last = ctx.today - dt.timedelta(days=rng.randint(20, 200))
    count = rng.choice([2, 3])
    dates = [last - dt.timedelta(days=365 * i + rng.randint(-30, 30)) for i in range(count)]
    return sorted(d for d in dates if d >= ctx.start) or [last]


def _scores(ctx: SynthContext, scale: FidelityScale, level: float, offsets: dict[str, float]
            ) -> tuple[dict[str, int | None], dict[str, str]]:
    scores: dict[str, int | None] = {}
    reasons: dict[str, str] = {}
    for item in scale.items:
        value = level + offsets[item.id] + ctx.rng.gauss(0, 0.5)
        scores[item.id] = min(5, max(1, round(value)))
        if item.justification_required or ctx.rng.random() < 0.3:
            reasons[item.id] = f"Synthetic review note: {item.name.en.lower()} rated {scores[item.id]}."
    return scores, reasons


@synth_step(order=160, name="teams")
def teams(ctx: SynthContext) -> None:
    """Team profiles, staff, FACT board placements and fidelity reviews for every ACT/FACT team."""
    team_units = list(ctx.units.get("team", []))
    if not team_units:
        return
    rng = ctx.rng
    scale = shipped_scales()["dacts"]
    # A second run (synth --replace) keeps the staff it made and replaces the synthetic reviews.
    FidelityReview.objects.filter(team__in=team_units, recorded_by__username__startswith=STAFF_PREFIX).delete()
    staffed = set(StaffMembership.objects.filter(unit__in=team_units, user__username__startswith=STAFF_PREFIX)
                  .values_list("unit_id", flat=True))
    have_profile = set(TeamProfile.objects.filter(unit__in=team_units).values_list("unit_id", flat=True))
    TeamProfile.objects.bulk_create([
        TeamProfile(unit=team, catchment_adults=rng.randint(25, 140) * 1000,
                    established_on=ctx.start - dt.timedelta(days=rng.randint(0, 2000)))
        for team in team_units if team.pk not in have_profile])

    new_staff: list[tuple[User, StaffMembership, StaffingDetail]] = []
    for team in team_units:
        if team.pk not in staffed:
            new_staff += _staff(ctx, team)
    users = User.objects.bulk_create([u for u, _m, _d in new_staff])
    for user, (_u, membership, _d) in zip(users, new_staff, strict=True):
        membership.user_id = user.pk
    memberships = StaffMembership.objects.bulk_create([m for _u, m, _d in new_staff])
    for membership, (_u, _m, detail) in zip(memberships, new_staff, strict=True):
        detail.membership_id = membership.pk
    StaffingDetail.objects.bulk_create([d for _u, _m, d in new_staff])
    ctx.count("team staff", len(new_staff))

    staff_by_team: dict[int, list[tuple[int, str]]] = {}
    for user_id, unit_id, role in (StaffMembership.objects.filter(unit__in=team_units,
                                                                  user__username__startswith=STAFF_PREFIX)
                                   .values_list("user_id", "unit_id", "user__role").order_by("user_id")):
        staff_by_team.setdefault(unit_id, []).append((user_id, role))

    reviews: list[FidelityReview] = []
    review_scores: list[tuple[dict[str, int | None], dict[str, str]]] = []
    review_reviewers: list[list[int]] = []
    for team in team_units:
        staff = staff_by_team.get(team.pk, [])
        leader = next((uid for uid, role in staff if role == Role.TEAM_LEADER), None)
        others = [uid for uid, role in staff if role != Role.TEAM_LEADER]
        level = rng.gauss(3.1, 0.45)
        offsets = {item.id: rng.gauss(0, 0.6) for item in scale.items}
        for review_date in _review_dates(ctx):
            scores, reasons = _scores(ctx, scale, level, offsets)
            result = score_review(scale, scores, reasons)
            reviews.append(FidelityReview(
                team=team, scale_id=scale.id, scale_version=scale.version, review_date=review_date,
                recorded_by_id=leader, total_mean=result.total_mean, total_score=result.total_score,
                subscale_means=result.subscale_means, complete=result.complete,
                level_id=result.level.id if result.level else "",
                provisional_level_id=result.provisional_level.id if result.provisional_level else ""))
            review_scores.append((scores, reasons))
            review_reviewers.append(([leader] if leader else []) + rng.sample(others, min(1, len(others))))
            level += rng.uniform(0.05, 0.4)  # teams tend to move towards the model between reviews
    saved = FidelityReview.objects.bulk_create(reviews)
    items: list[FidelityItemScore] = []
    links: list[Any] = []
    through = FidelityReview.reviewers.through
    for review, (scores, reasons), reviewer_ids in zip(saved, review_scores, review_reviewers, strict=True):
        items += [FidelityItemScore(review_id=review.pk, item_id=item.id, subscale=item.subscale, position=index,
                                    score=scores[item.id], justification=reasons.get(item.id, ""))
                  for index, item in enumerate(scale.items)]
        links += [through(fidelityreview_id=review.pk, user_id=uid) for uid in reviewer_ids]
    for batch in chunks(items, 5000):
        FidelityItemScore.objects.bulk_create(batch)
    through.objects.bulk_create(links)
    ctx.count("fidelity reviews", len(saved))

    fact_ids = {team.pk for team in team_units if team.kind == UnitKind.FACT}
    reasons_list = list(BoardReason.values)
    placements: list[BoardPlacement] = []
    for record in ctx.persons:
        for episode in record.episodes:
            if episode.unit_id not in fact_ids or episode.end_date is not None:
                continue
            roll = rng.random()
            if roll < BOARD_NOW_SHARE:
                since = max(episode.start_date, ctx.today - dt.timedelta(days=rng.randint(1, 90)))
                placements.append(BoardPlacement(team_id=episode.unit_id, person_id=record.id, since=since,
                                                 reason=rng.choice(reasons_list)))
            elif roll < BOARD_NOW_SHARE + BOARD_PAST_SHARE:
                since = max(episode.start_date, ctx.today - dt.timedelta(days=rng.randint(60, 365)))
                until = min(ctx.today - dt.timedelta(days=1), since + dt.timedelta(days=rng.randint(7, 60)))
                if until >= since:
                    placements.append(BoardPlacement(team_id=episode.unit_id, person_id=record.id, since=since,
                                                     until=until, reason=rng.choice(reasons_list)))
    for placement_batch in chunks(placements, 5000):
        BoardPlacement.objects.bulk_create(placement_batch)
    ctx.count("board placements", len(placements))
