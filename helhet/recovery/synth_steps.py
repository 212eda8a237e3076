"""Synthetic recovery plans: goals in the person's own words with the five GAS levels, reviews and ratings.

Who gets a plan (assumed shares, not measured figures): most people in an ACT/FACT team (the
teams work with personal recovery goals as routine), about a third of the others in active care,
and a few people whose care has ended (a completed plan). Plans have one to four goals in
different life areas; reviews follow every three to six months, ratings drift upwards from the
baseline as they do in GAS follow-ups, and now and then a goal is left unrated. Some people have
rated their own progress or proposed a goal that the clinician has not yet answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Exists, Model, OuterRef, Subquery
from django.utils import timezone

from helhet.pathways.models import IndividualPlan
from helhet.pathways.models import PlanStatus as IndividualPlanStatus
from helhet.recovery.models import (
    Goal,
    GoalRating,
    GoalReview,
    GoalStatus,
    PlanStatus,
    Proposal,
    RecoveryPlan,
)
from helhet.synth.registry import SynthContext, SynthEpisode, synth_step

TEAM_SHARE, ACTIVE_SHARE, ENDED_SHARE = 0.7, 0.3, 0.05
SELF_RATING_SHARE, PROPOSAL_SHARE = 0.2, 0.1

# (life area, goal in the person's words, levels -2 .. +2)
GOALS: list[tuple[str, str, tuple[str, str, str, str, str]]] = [
    ("housing", "Ha min egen leilighet", ("Mister rommet jeg har", "Bor på hybel som nå",
                                          "Har leiekontrakt på en leilighet", "Har flyttet inn og møblert",
                                          "Har bodd i leiligheten i et halvt år")),
    ("housing", "Klare meg selv hjemme", ("Trenger hjelp hver dag", "Trenger hjelp flere ganger i uka",
                                          "Handler og lager mat selv", "Holder orden hjemme selv",
                                          "Har gjester på middag")),
    ("work", "Komme i jobb", ("Ingen aktivitet", "Møter IPS-veileder", "Jobber to dager i uka",
                              "Jobber tre dager i uka", "Har fast deltidsjobb")),
    ("work", "Ha noe å stå opp til", ("Ligger mest i senga", "Står opp noen dager",
                                      "Går på dagsenteret tre dager i uka", "Er med i en arbeidsgruppe",
                                      "Har en fast oppgave hver dag")),
    ("network", "Se datteren min oftere", ("Ingen kontakt", "Kontakt på telefon av og til",
                                            "Møtes en gang i måneden", "Møtes annenhver uke",
                                            "Hun overnatter hos meg")),
    ("network", "Få en venn utenfor rusmiljøet", ("Bare venner i miljøet", "Har snakket med noen på kurs",
                                                   "Møter en ny venn en gang i uka", "Har to venner jeg treffer",
                                                   "Er med i en fast gjeng")),
    ("health", "Sove bedre", ("Sover under fire timer", "Sover fire-fem timer", "Sover seks timer de fleste netter",
                              "Sover sju timer", "Våkner uthvilt")),
    ("health", "Ta vare på kroppen", ("Har ikke vært hos fastlegen", "Har bestilt time", "Går til fastlegen fast",
                                      "Trener en gang i uka", "Trener to ganger i uka")),
    ("substance_use", "Ruse meg mindre", ("Ruser meg hver dag", "Ruser meg de fleste dager",
                                          "Rusfrie dager tre dager i uka", "Rusfri i ukedagene",
                                          "Rusfri en hel måned")),
    ("substance_use", "Slutte med amfetamin", ("Bruker mer enn før", "Bruker som før", "Har kuttet ned til helgene",
                                               "Brukt en gang siste måned", "Ikke brukt på tre måneder")),
    ("finances", "Få orden på økonomien", ("Har fått nye inkassokrav", "Regningene ligger uåpnet",
                                           "Har avtale med NAV om budsjett", "Betaler regningene i tide",
                                           "Har spart litt hver måned")),
    ("leisure", "Begynne å fiske igjen", ("Ingen fritidsaktivitet", "Har tenkt på det", "Fisker en gang i måneden",
                                          "Fisker hver uke", "Er med i fiskeklubben")),
    ("leisure", "Synge i kor", ("Går ikke ut", "Har sett på et kor", "Har vært på øving tre ganger",
                                "Går fast på øving", "Har sunget på konsert")),
]
HELPERS = ["Koordinator: følger opp hver uke", "IPS-veileder: finne arbeidsgiver", "Boveileder: hjelp med flytting",
           "Erfaringskonsulent: være med første gang", "Fastlegen: time hver måned", "NAV-veileder: budsjett",
           "Søsteren min: ringer på søndager", ""]


GOAL_COLUMNS = ("plan_id", "text", "life_area", "level_much_less", "level_less", "level_expected", "level_more",
                "level_much_more", "weight", "baseline", "helpers", "review_date", "status", "by_person", "proposal",
                "staff_note")


def _insert(model: type[Model], fields: tuple[str, ...], rows: list[tuple[Any, ...]], *,
            ids: bool = False) -> list[int]:
    """COPY (PostgreSQL) or executemany (SQLite): much faster than bulk_create for 10^5 rows; new ids if asked.

    `created_at` columns get the time of the run. The ids are read back as the rows above the table's highest
    id before the insert, in id order: the synthetic population is written in one transaction by one process.
    """
    meta = model._meta
    column_of = {f.name: f.column for f in meta.concrete_fields}
    column_of.update({f.attname: f.column for f in meta.concrete_fields})
    columns = [column_of[name] for name in fields]
    stamp: list[Any] = []
    if any(f.name == "created_at" for f in meta.concrete_fields):
        columns.append("created_at")
        stamp = [connection.ops.adapt_datetimefield_value(timezone.now())]
    table = connection.ops.quote_name(str(meta.db_table))
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        before = 0
        if ids:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            before = cursor.fetchone()[0]
        if connection.vendor == "postgresql":
            # COPY: the fastest way into PostgreSQL (psycopg 3 adapts dates, booleans and NULLs per row).
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, *stamp))
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})",
                               [(*row, *stamp) for row in rows])
        if not ids:
            return []
        cursor.execute(f"SELECT id FROM {table} WHERE id > %s ORDER BY id", [before])
        found = [row[0] for row in cursor.fetchall()]
    if len(found) != len(rows):
        raise RuntimeError(f"{meta.db_table}: inserted {len(rows)} rows but found {len(found)} new ids")
    return found


def _team_member(episodes: list[SynthEpisode], today: dt.date) -> tuple[bool, bool, dt.date | None]:
    """(in active care, in an ACT/FACT team, start of the latest active episode)."""
    active = [e for e in episodes if e.end_date is None or e.end_date >= today]
    team = any(e.unit_kind in ("act", "fact") for e in active)
    start = max((e.start_date for e in active), default=None)
    return bool(active), team, start


@synth_step(order=150, name="recovery plans")
def recovery_plans(ctx: SynthContext) -> None:
    rng, today = ctx.rng, ctx.today
    plans: list[RecoveryPlan] = []  # unsaved: the values to insert
    drafts: list[dict[str, Any]] = []  # per plan: goals and reviews to make once the plan has its id
    for record in ctx.progress(ctx.persons, total=len(ctx.persons), desc="recovery plans"):
        active, team, start = _team_member(record.episodes, today)
        if active:
            if rng.random() >= (TEAM_SHARE if team else ACTIVE_SHARE):
                continue
            status = PlanStatus.ACTIVE
        elif record.episodes and rng.random() < ENDED_SHARE:
            status = PlanStatus.COMPLETED
            start = max(e.start_date for e in record.episodes)
        else:
            continue
        first = max(start or record.first_contact, today - dt.timedelta(days=3 * 365))
        span = (today - first).days
        if span < 14:
            continue
        created_on = first + dt.timedelta(days=rng.randrange(0, max(1, span - 13)))
        plans.append(RecoveryPlan(person_id=record.id, created_on=created_on, status=status,
                                  identifier=f"synth-{record.pid}"))
        drafts.append({"created_on": created_on, "closed": status != PlanStatus.ACTIVE,
                       "goals": rng.sample(range(len(GOALS)), k=rng.choice((1, 2, 2, 3, 3, 4)))})

    plan_ids = _insert(RecoveryPlan, ("person_id", "created_on", "status", "identifier", "staff_note"),
                       [(p.person_id, p.created_on, p.status, p.identifier, "") for p in plans], ids=True)
    goals: list[tuple[Any, ...]] = []
    reviews: list[tuple[Any, ...]] = []
    ratings: list[tuple[int, int, int]] = []  # (review index, goal index, rating)
    for plan_id, draft in zip(plan_ids, drafts, strict=True):
        indexes = []
        for choice in draft["goals"]:
            area, text, levels = GOALS[choice]
            baseline = -2 if rng.random() < 0.25 else -1
            indexes.append(len(goals))
            goals.append((plan_id, text, area, *levels, rng.choice((1.0, 1.0, 1.0, 2.0, 0.5)), baseline,
                          rng.choice(HELPERS), draft["created_on"] + dt.timedelta(days=rng.choice((90, 120, 180))),
                          GoalStatus.COMPLETED if draft["closed"] else GoalStatus.ACTIVE, rng.random() < 0.3,
                          Proposal.NONE, ""))
        # Reviews every three to six months; ratings drift up from the baseline.
        level = {i: goals[i][9] for i in indexes}
        day = draft["created_on"] + dt.timedelta(days=rng.randint(90, 180))
        while day <= today:
            review_index = len(reviews)
            reviews.append((plan_id, day, False, Proposal.NONE))
            for i in indexes:
                level[i] = max(-2, min(2, level[i] + rng.choice((-1, 0, 0, 1, 1, 1))))
                if rng.random() > 0.1:
                    ratings.append((review_index, i, level[i]))
            day += dt.timedelta(days=rng.randint(90, 180))
        if not draft["closed"] and rng.random() < SELF_RATING_SHARE:
            review_index = len(reviews)
            # Never before the plan was made (a rule of the review form and of the import)
            reviews.append((plan_id, max(draft["created_on"], today - dt.timedelta(days=rng.randrange(30))), True,
                            Proposal.PENDING))
            ratings += [(review_index, i, max(-2, min(2, level[i] + rng.choice((0, 0, 1))))) for i in indexes]
        if not draft["closed"] and rng.random() < PROPOSAL_SHARE:
            area, text, _levels = GOALS[rng.randrange(len(GOALS))]
            goals.append((plan_id, text, area, "", "", "", "", "", 1.0, -1, "", None, GoalStatus.PROPOSED, True,
                          Proposal.PENDING, ""))
    goal_ids = _insert(Goal, GOAL_COLUMNS, goals, ids=True)
    review_ids = _insert(GoalReview, ("plan_id", "reviewed_on", "self_rating", "proposal", "note"),
                         [(*row, "") for row in reviews], ids=True)
    _insert(GoalRating, ("review_id", "goal_id", "rating"),
            [(review_ids[r], goal_ids[g], value) for r, g, value in ratings])
    ctx.count("recovery plans", len(plans))
    ctx.count("recovery goals", len(goals))
    ctx.count("GAS reviews", len(reviews))
    ctx.count("GAS ratings", len(ratings))


@synth_step(order=450, name="recovery plan links")
def link_individual_plans(ctx: SynthContext) -> None:
    """Link each recovery plan to the person's current individual plan, once the pathway steps have made them."""
    current = (IndividualPlan.objects.filter(person_id=OuterRef("person_id"),
                                             status__in=[IndividualPlanStatus.ACTIVE, IndividualPlanStatus.REVISED])
               .order_by("-status_date", "-pk").values("pk")[:1])
    linked = (RecoveryPlan.objects.filter(Exists(current), individual_plan__isnull=True)
              .update(individual_plan=Subquery(current)))
    ctx.count("recovery plans linked to an individual plan", linked)
