"""Assessment histories for the synthetic population: a baseline and follow-ups with plausible trajectories.

About half the persons are assessed (routine assessment does not reach everyone), with
the instruments their diagnoses call for (AUDIT for alcohol, DUDIT for drugs, PHQ-9 /
GAD-7 / SCL-10 for mental health, the living-conditions mapping and the somatic check
for some), at the start of their first episode and at up to two follow-ups three to
eight months apart while in care. A latent severity moves along a trajectory (most
improve, some are stable, a few get worse) with noise; item answers are drawn around it. Some administrations leave an item out, so some totals are absent, as in real
data. Every score comes from the real engine (``scoring.score_response``).

Speed (≤ ~30 s extra for 100,000 persons): the rows are written as plain tuples —
``executemany`` on SQLite, ``COPY`` on PostgreSQL — instead of model instances, with
administration ids assigned here (the population is generated inside one transaction)
and the id sequence reset afterwards. ``observation_values`` builds the same rows as
``services.observation_rows``; a test holds the two equal.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from functools import cache
from typing import Any

from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone

from helhet.assessment.library import Instrument, get_instrument
from helhet.assessment.models import (
    FLAGS_PART,
    TOTAL_PART,
    Administration,
    Mode,
    ScoreObservation,
    flag_part,
    item_part,
)
from helhet.assessment.scoring import Answer, ScoreResult, _caseness, score_response
from helhet.synth.registry import SynthContext, SynthPerson, synth_step

BATCH_PERSONS = 2500
MISSING_ITEM_RATE = 0.04  # administrations with one scored item left unanswered
MAX_FOLLOW_UPS = 2
# Trajectory of the latent severity per year: improving, stable, worsening (weights in %).
TRAJECTORIES = ((-0.22, 55), (0.0, 30), (0.15, 15))

ALCOHOL = ("F10",)
DRUGS = ("F11", "F12", "F13", "F14", "F15", "F16", "F18", "F19")
ANXIETY = ("F40", "F41", "F43")
DEPRESSION = ("F32", "F33", "F31")


def _has(codes: list[str], prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(prefixes) for code in codes)


def _instruments_for(rng: random.Random, person: SynthPerson) -> list[str]:
    if rng.random() < 0.5:
        return []  # routine assessment does not reach everyone
    chosen: list[str] = []
    if _has(person.substance, ALCOHOL) and rng.random() < 0.65:
        chosen.append("audit")
    elif rng.random() < 0.08:
        chosen.append("audit-c")
    if _has(person.substance, DRUGS) and rng.random() < 0.5:
        chosen.append("dudit")
    if rng.random() < (0.6 if _has(person.mental, DEPRESSION) else 0.3):
        chosen.append("phq-9")
    if rng.random() < (0.55 if _has(person.mental, ANXIETY) else 0.12):
        chosen.append("gad-7")
    if rng.random() < 0.06:
        chosen.append("scl-10")
    if rng.random() < 0.22:
        chosen.append("living-conditions")
    if rng.random() < 0.1:
        chosen.append("somatic-health")
    return chosen


def _visit_dates(rng: random.Random, person: SynthPerson, today: dt.date) -> list[dt.date]:
    starts = [e.start_date for e in person.episodes] or [person.first_contact]
    start = min(starts) + dt.timedelta(days=rng.randint(0, 21))
    ends = [e.end_date for e in person.episodes]
    last = today if any(end is None for end in ends) or not ends else min(today, max(e for e in ends if e))
    dates: list[dt.date] = []
    day = start
    while day <= last and len(dates) <= MAX_FOLLOW_UPS:
        dates.append(day)
        day = day + dt.timedelta(days=rng.randint(90, 240))
    return dates


Ladders = dict[str, dict[str, list[str]]]


def _ladders(instruments: dict[str, Instrument]) -> Ladders:
    """Per instrument, per scored item: the answer codes from the best score to the worst."""
    ladders: Ladders = {}
    for instrument in instruments.values():
        ladders[instrument.id] = {
            link_id: [o.code for o in sorted((o for o in instrument.item_by_link[link_id].options
                                               if o.score is not None), key=lambda o: float(o.score or 0))]
            for link_id in instrument.scoring.items
        }
    return ladders


def _scored_answers(rng: random.Random, instrument: Instrument, ladder: dict[str, list[str]], level: float
                    ) -> dict[str, Answer]:
    """Answers near the latent level (0 best … 1 worst), item by item with noise."""
    answers: dict[str, Answer] = {}
    random_ = rng.random
    for link_id, codes in ladder.items():
        top = len(codes) - 1
        index = int(level * top + (random_() + random_() - 1.0) * 1.2 + 0.5)
        answers[link_id] = codes[0 if index < 0 else top if index > top else index]
    if instrument.id == "audit" and answers["audit-1"] == ladder["audit-1"][0]:
        # Interview version: after "never" on question 1 the interviewer skips to 9 and 10.
        for link_id in ("audit-2", "audit-3", "audit-4", "audit-5", "audit-6", "audit-7", "audit-8"):
            del answers[link_id]
    elif random_() < MISSING_ITEM_RATE:
        del answers[rng.choice(list(answers))]
    if instrument.id == "phq-9" and random_() < 0.8:  # the unscored functional question
        answers["phq9-difficulty"] = rng.choice(("not-difficult", "somewhat", "very", "extremely"))
    return answers


def _somatic_answers(rng: random.Random, person: SynthPerson, level: float, base: dict[str, float]
                     ) -> dict[str, Answer]:
    male = person.sex == "male"
    height = base.setdefault("height", round(rng.gauss(179 if male else 166, 7), 1))
    weight = base.setdefault("weight", round(rng.gauss(84 if male else 70, 15), 1))
    weight = round(min(max(weight + rng.gauss(0, 2.5), 40.0), 180.0), 1)
    base["weight"] = weight
    answers: dict[str, Answer] = {
        "soma-systolic": int(min(max(rng.gauss(126 + 14 * level, 13), 90), 210)),
        "soma-diastolic": int(min(max(rng.gauss(80 + 7 * level, 9), 50), 125)),
        "soma-weight": weight,
        "soma-height": min(max(height, 140.0), 210.0),
        "soma-smoking": rng.choices(["never", "former", "occasional", "daily"], weights=[15, 15, 15, 55])[0],
        "soma-activity": rng.choice(["rarely", "weekly-1-2", "weekly-3-plus"]),
        "soma-diet": rng.choices(["regular", "irregular", "poor"], weights=[30, 45, 25])[0],
        "soma-dental": rng.choices(["no-problems", "some-problems", "major-problems"], weights=[30, 40, 30])[0],
        "soma-gp-contact": rng.choice(["within-6-months", "6-12-months", "over-12-months", "no-gp"]),
        "soma-injecting": rng.choices(["never", "not-last-12-months", "last-12-months"], weights=[70, 15, 15])[0],
    }
    if rng.random() < 0.7:
        answers["soma-waist"] = round(min(max(weight * 1.05 + rng.gauss(0, 6), 55.0), 180.0), 1)
    if rng.random() < 0.5:
        answers["soma-hba1c"] = round(min(max(rng.gauss(38, 8), 20.0), 120.0), 1)
    if rng.random() < 0.4:
        answers["soma-total-cholesterol"] = round(min(max(rng.gauss(5.2, 1.0), 2.0), 12.0), 1)
    if answers["soma-injecting"] != "never":
        answers["soma-hcv"] = rng.choice(["not-tested", "negative-recent", "cleared", "active", "unknown"])
        answers["soma-hiv"] = rng.choice(["not-tested", "negative-recent", "negative-old", "unknown"])
    return answers


def _history(rng: random.Random, person: SynthPerson, today: dt.date, instruments: dict[str, Instrument],
             ladders: Ladders) -> list[tuple[Instrument, dt.date, dict[str, Answer]]]:
    chosen = _instruments_for(rng, person)
    if not chosen:
        return []
    dates = _visit_dates(rng, person, today)
    if not dates:
        return []
    severity = min(max(rng.betavariate(2.2, 2.0), 0.02), 0.98)
    slope = rng.choices([s for s, _w in TRAJECTORIES], weights=[w for _s, w in TRAJECTORIES])[0]
    slope += rng.gauss(0.0, 0.05)
    body: dict[str, float] = {}
    made = []
    for instrument_id in chosen:
        instrument = instruments[instrument_id]
        offset = rng.gauss(0.0, 0.1)  # the domains of one person move together, not identically
        for index, day in enumerate(dates):
            if index and rng.random() < 0.5:
                continue  # a follow-up of this instrument was not done
            years = (day - dates[0]).days / 365.25
            level = min(max(severity + offset + slope * years + rng.gauss(0.0, 0.06), 0.0), 1.0)
            if instrument.scoring.method == "none":
                answers = _somatic_answers(rng, person, level, body)
            else:
                answers = _scored_answers(rng, instrument, ladders[instrument_id], level)
            made.append((instrument, day, answers))
    return made


ObservationValues = tuple[str, float | None, str, str, bool | None, bool | None, bool]
OBSERVATION_FIELDS = ("part", "value", "absent_reason", "band", "caseness", "flagged", "fhir_resource")


def observation_values(instrument: Instrument, result: ScoreResult) -> list[ObservationValues]:
    """The ScoreObservation rows of one result as tuples (OBSERVATION_FIELDS), as services.observation_rows makes them."""
    rows: list[ObservationValues] = []
    scoring = instrument.scoring
    if scoring.method != "none":
        score = result.score
        rows.append((TOTAL_PART, None if score is None else float(score),
                     "" if score is not None else (result.missing_reason or "not computed"),
                     result.band.code if result.band is not None else "", _caseness(instrument, result), None, True))
    elif scoring.flags:
        raised = len(result.flags)
        rows.append((FLAGS_PART, float(raised), "", "", None,
                     True if raised else (None if result.flags_undetermined else False), True))
    for sub in result.subscales:
        rows.append((sub.code, None if sub.value is None else float(sub.value), sub.missing_reason or "", "", None,
                     None, False))
    for derived in result.derived:
        rows.append((derived.code, derived.value, derived.missing_reason or "",
                     derived.band.code if derived.band is not None else "", None, None, derived.value is not None))
    raised_codes = {flag.code for flag in result.flags}
    undetermined = {flag.code: flag for flag in result.flags_undetermined}
    for rule in scoring.flags:
        if rule.code in raised_codes:
            rows.append((flag_part(rule.code), None, "", "", None, True, False))
        elif rule.code in undetermined:
            missing = undetermined[rule.code].items
            reason = ("unanswered: " + ", ".join(missing)) if missing else \
                "depends on the person's sex, which is unknown"
            rows.append((flag_part(rule.code), None, reason, "", None, None, False))
        else:
            rows.append((flag_part(rule.code), None, "", "", None, False, False))
    for link_id, band in result.item_bands.items():
        rows.append((item_part(link_id), float(result.item_scores[link_id]), "", band.code, None, None, False))
    return rows


@cache
def _date_value(day: dt.date) -> Any:
    return connection.ops.adapt_datefield_value(day)


class _Writer:
    """Plain-tuple bulk inserts: executemany on SQLite, COPY on PostgreSQL."""

    ADMIN_VARYING = ("id", "person", "instrument_id", "instrument_version", "administered_on", "answers",
                     "scored_sex", "unit", "questionnaire_url")

    def __init__(self) -> None:
        fields = Administration._meta.concrete_fields
        fixed = {"mode": Mode.SYNTHETIC.value, "created_at": timezone.now()}
        self.admin_fields = [f for f in fields if f.name in self.ADMIN_VARYING]
        self.admin_fields.sort(key=lambda f: self.ADMIN_VARYING.index(f.name))
        self.admin_constant = [(f.column, f.get_db_prep_save(fixed.get(f.name, f.get_default()), connection))
                               for f in fields if f.name not in self.ADMIN_VARYING]
        obs_fields = {f.name: f.column for f in ScoreObservation._meta.concrete_fields}
        self.obs_columns: list[str] = [obs_fields[name] for name in (
            "administration", "person", "instrument_id", "effective", *OBSERVATION_FIELDS)]
        self.next_id = (Administration.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        self.postgres = connection.vendor == "postgresql"

    def answers_value(self, answers: dict[str, Answer]) -> Any:
        # JSON text: what JSONField stores on SQLite, and what COPY reads into jsonb on PostgreSQL.
        return json.dumps(answers)

    def admin_columns(self) -> list[str]:
        return [str(f.column) for f in self.admin_fields] + [str(column) for column, _v in self.admin_constant]

    def write(self, model: type[Any], columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)

    def finish(self) -> None:
        """Point the id sequence past the ids assigned here (PostgreSQL; SQLite follows by itself)."""
        statements = connection.ops.sequence_reset_sql(no_style(), [Administration])
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


@synth_step(order=140, name="assessments")
def assessments(ctx: SynthContext) -> None:
    """Administrations with their score observations, scored by the real engine, bulk-inserted."""
    rng, today = ctx.rng, ctx.today
    ids = ("audit", "audit-c", "dudit", "phq-9", "gad-7", "scl-10", "living-conditions", "somatic-health")
    instruments = {i: get_instrument(i) for i in ids}
    ladders = _ladders(instruments)
    writer = _Writer()
    _date_value.cache_clear()
    constants = tuple(value for _c, value in writer.admin_constant)
    admin_columns = writer.admin_columns()
    administrations_made = observations_made = 0
    persons = ctx.persons
    for start in ctx.progress(range(0, len(persons), BATCH_PERSONS), total=-(-len(persons) // BATCH_PERSONS),
                              desc="assessments"):
        admin_rows: list[tuple[Any, ...]] = []
        obs_rows: list[tuple[Any, ...]] = []
        for person in persons[start:start + BATCH_PERSONS]:
            sex = person.sex if person.sex in ("male", "female") else None
            unit_id = person.episodes[0].unit_id if person.episodes else None
            for instrument, day, answers in _history(rng, person, today, instruments, ladders):
                result = score_response(instrument, answers, sex=sex)
                admin_id = writer.next_id
                writer.next_id += 1
                day_value = _date_value(day)
                admin_rows.append((admin_id, person.id, instrument.id, instrument.version, day_value,
                                   writer.answers_value(dict(result.answers)), sex or "", unit_id,
                                   instrument.url, *constants))
                head = (admin_id, person.id, instrument.id, day_value)
                obs_rows.extend(head + values for values in observation_values(instrument, result))
        writer.write(Administration, admin_columns, admin_rows)
        writer.write(ScoreObservation, writer.obs_columns, obs_rows)
        administrations_made += len(admin_rows)
        observations_made += len(obs_rows)
    writer.finish()
    _date_value.cache_clear()
    ctx.count("administrations", administrations_made)
    ctx.count("score_observations", observations_made)
