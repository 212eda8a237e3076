"""Synthetic pathways on top of the foundation's episodes, with the gaps the alerts are for.

Steps 130–139. Proportions are plausible, not measured: about one person in eight has a
rejected referral (a quarter of those are never accepted elsewhere), one discharge in five has
no follow-up contact within 7 days, a third of the persons with concurrent services lack a
coordinator, and some evaluation points in TSB are missed. Everything is bulk-inserted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, models

from helhet.organisations.models import UnitKind
from helhet.pathways.models import (
    ClinicalDecision,
    ContactMode,
    Coordinator,
    Encounter,
    EncounterKind,
    EpisodeOfCare,
    EpisodeStatus,
    EvaluationPoint,
    HousingStatus,
    IndividualPlan,
    NextOfKinContact,
    PathwayDecision,
    PathwayType,
    PlanStatus,
    Referral,
    ReferralStatus,
    RejectionReason,
    ResponsibilityGroup,
    ResponsibilityGroupMeeting,
)
from helhet.synth import names
from helhet.synth.registry import SynthContext, SynthEpisode, SynthPerson, chunks, synth_step

BATCH = 5000
DAY = dt.timedelta(days=1)
REJECTION_REASONS = [(r.value, w) for r, w in (
    (RejectionReason.WRONG_LEVEL, 30), (RejectionReason.NO_RIGHT, 20), (RejectionReason.SUBSTANCE_FIRST, 15),
    (RejectionReason.MENTAL_FIRST, 8), (RejectionReason.INSUFFICIENT, 15), (RejectionReason.WRONG_UNIT, 10))]
# Plain strings (.value): the raw inserts below bind them as parameters.
HOUSING = [(HousingStatus.PERMANENT.value, 58), (HousingStatus.TEMPORARY.value, 20), (HousingStatus.NONE.value, 12),
           (HousingStatus.UNKNOWN.value, 10)]
MODES = [(ContactMode.FACE_TO_FACE.value, 45), (ContactMode.HOME_VISIT.value, 20), (ContactMode.PHONE.value, 25),
         (ContactMode.VIDEO.value, 5), (ContactMode.SMS.value, 5)]
REFERRAL_FIELDS = ("person", "from_unit", "from_description", "to_unit", "status", "sent_date", "received_date",
                   "assessed_date", "rejection_reason", "rejection_note", "pathway_type", "identifier")
ACCEPTED, REJECTED = ReferralStatus.ACCEPTED.value, ReferralStatus.REJECTED.value
ENCOUNTER_FIELDS = ("person", "unit", "episode", "kind", "mode", "start_date", "end_date", "staff_count", "minutes",
                    "housing_at_discharge", "identifier")
ADMISSION, CONTACT = str(EncounterKind.ADMISSION), str(EncounterKind.CONTACT)
FACE_TO_FACE = str(ContactMode.FACE_TO_FACE)
RELATIONS = ["mor", "far", "partner", "søster", "bror", "datter", "sønn", "venn"]


def _weighted(ctx: SynthContext, options: list[tuple[Any, int]]) -> Any:
    return ctx.rng.choices([o for o, _w in options], weights=[w for _o, w in options])[0]


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return str(field.column)


def _insert(ctx: SynthContext, model: type[models.Model], fields: tuple[str, ...], rows: list[tuple[Any, ...]],
            name: str) -> None:
    """Plain multi-row inserts for rows nothing else refers to: several times faster than bulk_create."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(model, f)) for f in fields)
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    with connection.cursor() as cursor:
        for batch in chunks(rows, BATCH):
            cursor.executemany(sql, batch)
    ctx.count(name, len(rows))


def _bulk(ctx: SynthContext, model: type[models.Model], rows: list[Any], name: str) -> list[Any]:
    saved: list[Any] = []
    for batch in chunks(rows, BATCH):
        saved += model._default_manager.bulk_create(batch)
    ctx.count(name, len(rows))
    return saved


def _concurrent(person: SynthPerson, today: dt.date) -> list[SynthEpisode]:
    return [e for e in person.episodes if e.status == EpisodeStatus.ACTIVE and e.start_date <= today
            and (e.end_date is None or e.end_date >= today) and not e.inpatient]


@synth_step(order=130, name="referrals")
def referrals(ctx: SynthContext) -> None:
    """Referrals behind specialist and team episodes, rejected referrals, and pakkeforløp decisions."""
    rng, today = ctx.rng, ctx.today
    specialist = {UnitKind.DPS: ctx.units.get(UnitKind.DPS, []), UnitKind.TSB: ctx.units.get(UnitKind.TSB, [])}
    made: list[tuple[Any, ...]] = []  # REFERRAL_FIELDS
    cancelled: list[tuple[Any, ...]] = []
    decisions: list[tuple[str, dt.date, str]] = []  # (referral identifier, day, decision)
    for person in ctx.progress(ctx.persons, total=len(ctx.persons), desc="referrals"):
        municipal = next((e for e in person.episodes if e.unit_kind == UnitKind.MUNICIPAL), None)
        sender_id = municipal.unit_id if municipal is not None else None
        serial = 0
        for episode in person.episodes:
            if episode.unit_kind not in (UnitKind.DPS, UnitKind.TSB, UnitKind.ACT, UnitKind.FACT) or episode.inpatient:
                continue
            if episode.unit_id == sender_id:
                continue
            sent = episode.start_date - rng.randint(3, 45) * DAY
            received = sent + rng.randint(0, 4) * DAY
            pathway = (PathwayType.TSB if episode.unit_kind == UnitKind.TSB else PathwayType.ADULT_MENTAL
                       if episode.unit_kind == UnitKind.DPS else "")
            serial += 1
            identifier = f"synth-{person.pid}-ref{serial}"
            made.append((person.id, sender_id, "" if sender_id else "Fastlege", episode.unit_id, ACCEPTED, sent,
                         min(received, episode.start_date), episode.start_date, "", "", str(pathway), identifier))
            if pathway and rng.random() < 0.75:
                first = min(today, episode.start_date + rng.randint(7, 60) * DAY)
                decisions.append((identifier, first, ClinicalDecision.EXTENDED_ASSESSMENT if rng.random() < 0.4
                                  else ClinicalDecision.TREATMENT_TSB if pathway == PathwayType.TSB
                                  else ClinicalDecision.TREATMENT_MENTAL))
                if rng.random() < 0.3:
                    decisions.append((identifier, min(today, first + rng.randint(14, 90) * DAY),
                                      _weighted(ctx, [(ClinicalDecision.TREATMENT_MENTAL, 3),
                                                      (ClinicalDecision.TREATMENT_TSB, 3),
                                                      (ClinicalDecision.GP_MUNICIPALITY, 2),
                                                      (ClinicalDecision.NO_FURTHER_NEED, 1)])))
        if rng.random() < 0.12:
            # A rejected referral, often a "søknad" read as a "henvisning"; mostly recent, so some still alert.
            kind = UnitKind.DPS if rng.random() < 0.6 else UnitKind.TSB
            options = [u for u in specialist[kind] if u.trust_id == person.catchment_trust_id] or specialist[kind]
            if not options:
                continue
            unit = rng.choice(options)
            days_back = rng.randint(10, 400) if rng.random() < 0.5 else rng.randint(10, 60)
            sent = max(person.first_contact, today - days_back * DAY)
            assessed = min(today, sent + rng.randint(3, 21) * DAY)
            serial += 1
            made.append((person.id, sender_id, "" if sender_id else "Fastlege", unit.pk, REJECTED, sent, sent, assessed,
                         _weighted(ctx, REJECTION_REASONS), "Søknad, ikke henvisning" if rng.random() < 0.2 else "",
                         PathwayType.TSB.value if kind == UnitKind.TSB else PathwayType.ADULT_MENTAL.value,
                         f"synth-{person.pid}-ref{serial}"))
            cancelled.append((person.id, unit.pk, EpisodeStatus.CANCELLED.value, sent, assessed,
                              f"synth-{person.pid}-wait{serial}"))
    _insert(ctx, Referral, REFERRAL_FIELDS, made, "referrals")
    _insert(ctx, EpisodeOfCare, ("person", "unit", "status", "start_date", "end_date", "identifier"), cancelled,
            "cancelled waiting-list episodes")
    ids = dict(Referral.objects.filter(identifier__startswith="synth-").values_list("identifier", "pk"))
    _insert(ctx, PathwayDecision, ("referral", "decided_on", "decision"),
            [(ids[identifier], day, str(decision)) for identifier, day, decision in decisions], "pathway decisions")


@synth_step(order=132, name="admissions and contacts")
def admissions_and_contacts(ctx: SynthContext) -> None:
    """An admission for each inpatient episode; follow-up after discharge (sometimes late or missing); contacts."""
    rng, today = ctx.rng, ctx.today
    municipal_or_team = (UnitKind.MUNICIPAL, UnitKind.ACT, UnitKind.FACT, UnitKind.DPS, UnitKind.TSB)
    made: list[tuple[Any, ...]] = []  # ENCOUNTER_FIELDS
    for person in ctx.progress(ctx.persons, total=len(ctx.persons), desc="admissions and contacts"):
        outpatient = [e for e in person.episodes if not e.inpatient and e.unit_kind in municipal_or_team]
        serial = 0
        stays: dict[int, list[tuple[dt.date, dt.date]]] = {}  # unit -> admissions made so far
        for episode in person.episodes:
            if episode.inpatient:
                # A discharge is recorded once it has happened (an active episode may have a planned end), and a
                # person cannot be admitted twice to one unit at the same time: what the import refuses, synth skips.
                discharged = episode.end_date if episode.end_date and episode.end_date <= today else None
                until = discharged or dt.date.max
                if any(episode.start_date <= end and start <= until for start, end in stays.get(episode.unit_id, [])):
                    continue
                stays.setdefault(episode.unit_id, []).append((episode.start_date, until))
                serial += 1
                made.append((person.id, episode.unit_id, episode.id, ADMISSION, FACE_TO_FACE, episode.start_date,
                             discharged, 1, None, _weighted(ctx, HOUSING) if discharged else "",
                             f"synth-{person.pid}-enc{serial}"))
                if discharged is None or not outpatient:
                    continue
                roll = rng.random()
                follow = (rng.randint(1, 7) if roll < 0.78 else rng.randint(8, 40) if roll < 0.9 else None)
                if follow is not None and discharged + follow * DAY <= today:
                    by = rng.choice(outpatient)
                    serial += 1
                    made.append((person.id, by.unit_id, by.id, CONTACT, _weighted(ctx, MODES),
                                 discharged + follow * DAY, None, 1, rng.choice((30, 45, 60)), "",
                                 f"synth-{person.pid}-enc{serial}"))
            elif episode.status == EpisodeStatus.ACTIVE and episode.unit_kind in municipal_or_team:
                team = episode.unit_kind in (UnitKind.ACT, UnitKind.FACT)
                for _contact in range(rng.randint(0, 4 if team else 2)):
                    day = today - rng.randint(0, min(120, (today - episode.start_date).days)) * DAY
                    serial += 1
                    made.append((person.id, episode.unit_id, episode.id, CONTACT, _weighted(ctx, MODES), day, None,
                                 2 if team and rng.random() < 0.4 else 1, rng.choice((20, 30, 45, 60, 90)), "",
                                 f"synth-{person.pid}-enc{serial}"))
    _insert(ctx, Encounter, ENCOUNTER_FIELDS, made, "encounters")


@synth_step(order=134, name="evaluation points")
def evaluation_points(ctx: SynthContext) -> None:
    """TSB evaluation points about every 8 weeks (6 inpatient) in the first year, some of them missed."""
    rng, today = ctx.rng, ctx.today
    made: list[tuple[Any, ...]] = []
    for person in ctx.progress(ctx.persons, total=len(ctx.persons), desc="evaluation points"):
        for episode in person.episodes:
            if episode.unit_kind != UnitKind.TSB:
                continue
            interval = 42 if episode.inpatient else 56
            last_day = min(today, episode.end_date or today, episode.start_date + 365 * DAY)
            diligent = rng.random() < 0.7
            serial = len(made)
            day = episode.start_date + rng.randint(interval - 21, interval) * DAY
            while day <= last_day:
                if diligent or rng.random() < 0.5:
                    made.append((person.id, episode.id, day, rng.choice((2, 3, 3, 4, 4, 5)), "", "",
                                 rng.random() < 0.2, f"synth-{person.pid}-eval{len(made) - serial + 1}-{episode.id}"))
                day += rng.randint(interval - 14, interval) * DAY
    _insert(ctx, EvaluationPoint, ("person", "episode", "evaluated_on", "benefit", "status_note", "further_needs",
                                   "plan_update_needed", "identifier"), made, "evaluation points")


@synth_step(order=136, name="plans and coordinators")
def plans_and_coordinators(ctx: SynthContext) -> None:
    """IP, coordinator and responsibility group for most persons with concurrent services, not all."""
    rng, today = ctx.rng, ctx.today
    plans: list[tuple[Any, ...]] = []
    coordinators: list[tuple[Any, ...]] = []
    groups: list[tuple[ResponsibilityGroup, list[dt.date]]] = []
    for person in ctx.progress(ctx.persons, total=len(ctx.persons), desc="plans and coordinators"):
        services = _concurrent(person, today)
        if len(services) < 2 and rng.random() > 0.05:
            continue
        if not services:
            continue
        since = max(e.start_date for e in services[:2])
        unit = rng.choice(services)
        if rng.random() < 0.55:
            offered = min(today, since + rng.randint(7, 120) * DAY)
            plans.append((person.id, PlanStatus.OFFERED.value, offered, unit.unit_id, f"synth-{person.pid}-ip1"))
            if rng.random() < 0.2:
                outcome = PlanStatus.DECLINED.value
            else:
                outcome = PlanStatus.ACTIVE.value
            decided = min(today, offered + rng.randint(7, 60) * DAY)
            plans.append((person.id, outcome, decided, unit.unit_id, f"synth-{person.pid}-ip2"))
            if outcome == PlanStatus.ACTIVE and rng.random() < 0.3:
                plans.append((person.id, PlanStatus.REVISED.value, min(today, decided + rng.randint(90, 400) * DAY),
                               unit.unit_id, f"synth-{person.pid}-ip3"))
        if rng.random() < 0.67:
            female = rng.random() < 0.7
            name = f"{rng.choice(names.GIVEN_FEMALE if female else names.GIVEN_MALE)} {rng.choice(names.FAMILY)}"
            start = min(today, since + rng.randint(0, 90) * DAY)
            coordinators.append((person.id, name, unit.unit_id, None, start, None))
            if rng.random() < 0.35:
                established = min(today, start + rng.randint(0, 60) * DAY)
                members = [{"name": name, "role": "koordinator", "unit": ""},
                           {"name": "Bruker", "role": "bruker", "unit": ""}]
                meetings = [established]
                while meetings[-1] + 100 * DAY < today and len(meetings) < 8:
                    meetings.append(meetings[-1] + rng.randint(40, 100) * DAY)
                groups.append((ResponsibilityGroup(person_id=person.id, established_on=established, members=members,
                                                   identifier=f"synth-{person.pid}-group"), meetings))
    _insert(ctx, IndividualPlan, ("person", "status", "status_date", "responsible_unit", "identifier"), plans,
            "individual plan statuses")
    _insert(ctx, Coordinator, ("person", "name", "unit", "user", "start_date", "end_date"), coordinators,
            "coordinators")
    saved = _bulk(ctx, ResponsibilityGroup, [group for group, _m in groups], "responsibility groups")
    _insert(ctx, ResponsibilityGroupMeeting, ("group", "held_on", "summary", "identifier"),
            [(group.pk, day, "", f"{group.identifier}-meeting{n}") for group, (_g, days) in zip(saved, groups, strict=True)
             for n, day in enumerate(days, start=1)],
            "responsibility group meetings")


@synth_step(order=138, name="next-of-kin contacts")
def next_of_kin_contacts(ctx: SynthContext) -> None:
    """Where the person consented: a contact within 30 days of first contact for most, later or never for some."""
    rng, today = ctx.rng, ctx.today
    made: list[tuple[Any, ...]] = []
    for person in ctx.progress(ctx.persons, total=len(ctx.persons), desc="next-of-kin contacts"):
        if not person.consent_next_of_kin or not person.episodes:
            continue
        roll = rng.random()
        if roll > 0.85:
            continue  # consented, never contacted
        first = person.first_contact + (rng.randint(1, 30) if roll < 0.6 else rng.randint(31, 200)) * DAY
        unit_id = person.episodes[0].unit_id
        relation = rng.choice(RELATIONS)
        day = first
        while day <= today:
            made.append((person.id, unit_id, day, relation, "", f"synth-{person.pid}-nok{day.isoformat()}"))
            day += rng.randint(90, 400) * DAY
    _insert(ctx, NextOfKinContact, ("person", "unit", "contact_date", "relation", "note", "identifier"), made,
            "next-of-kin contacts")
