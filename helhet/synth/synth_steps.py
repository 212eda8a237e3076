"""Foundation steps of the synthetic population: units and teams, persons with diagnoses, episodes of care."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from helhet.organisations.models import HealthTrust, Municipality, ServiceUnit, UnitKind
from helhet.pathways.models import EpisodeOfCare, EpisodeStatus
from helhet.persons.models import Condition, ConditionKind, ImmigrantBackground, Person
from helhet.persons.nin import make_synthetic_national_id
from helhet.persons.pseudonyms import _ALPHABET, encrypt_nin, nin_lookup_hash
from helhet.synth import names
from helhet.synth.registry import SynthContext, SynthEpisode, SynthPerson, chunks, synth_step

BATCH = 2000
SUBSTANCE_DIAGNOSES = [
    ("F10.2", "Alcohol dependence", 40), ("F12.2", "Cannabis dependence", 15), ("F11.2", "Opioid dependence", 12),
    ("F15.2", "Stimulant dependence", 12), ("F19.2", "Multiple drug use, dependence", 21),
]
MENTAL_DIAGNOSES = [
    ("F32.1", "Depressive episode, moderate", 22), ("F33.1", "Recurrent depressive disorder", 10),
    ("F41.1", "Generalised anxiety disorder", 14), ("F43.1", "Post-traumatic stress disorder", 12),
    ("F20.0", "Paranoid schizophrenia", 12), ("F31.6", "Bipolar affective disorder, mixed", 8),
    ("F60.3", "Emotionally unstable personality disorder", 12), ("F90.0", "Attention-deficit hyperactivity disorder", 10),
]


def _weighted(ctx: SynthContext, options: list[tuple[str, str, int]]) -> tuple[str, str]:
    code, display, _w = ctx.rng.choices(options, weights=[w for *_rest, w in options])[0]
    return code, display


@synth_step(order=100, name="units")
def units(ctx: SynthContext) -> None:
    """Specialist units per trust, a municipal service per municipality, and ACT/FACT teams."""
    created = 0
    by_kind: dict[str, list[ServiceUnit]] = defaultdict(list)
    specialist = [
        ("dps", UnitKind.DPS, False, "DPS poliklinikk"), ("dps-dogn", UnitKind.DPS, True, "DPS døgnavdeling"),
        ("tsb", UnitKind.TSB, False, "TSB poliklinikk"), ("tsb-dogn", UnitKind.TSB, True, "TSB døgnbehandling"),
        ("akutt", UnitKind.WARD, True, "Akuttpsykiatrisk sengepost"),
    ]
    trusts = list(HealthTrust.objects.order_by("code"))
    for trust in trusts:
        for suffix, kind, inpatient, label in specialist:
            unit, was_created = ServiceUnit.objects.get_or_create(
                code=f"{trust.code}-{suffix}",
                defaults={"name": f"{label}, {trust.name}", "kind": kind, "trust": trust, "inpatient": inpatient},
            )
            created += was_created
            by_kind[kind + ("-inpatient" if inpatient else "")].append(unit)
    municipalities = list(Municipality.objects.select_related("catchment_trust").order_by("number"))
    for municipality in municipalities:
        unit, was_created = ServiceUnit.objects.get_or_create(
            code=f"k{municipality.number}-rus-psyk",
            defaults={"name": f"Psykisk helse og rus, {municipality.name}", "kind": UnitKind.MUNICIPAL},
        )
        if was_created:
            unit.municipalities.set([municipality])
            created += 1
        by_kind[UnitKind.MUNICIPAL].append(unit)
    # ACT/FACT teams: co-owned by a trust and 1-4 municipalities in its catchment; ACT in the most central ones.
    by_trust: dict[int, list[Municipality]] = defaultdict(list)
    for municipality in municipalities:
        if municipality.catchment_trust_id is not None:
            by_trust[municipality.catchment_trust_id].append(municipality)
    for trust in trusts:
        members = sorted(by_trust.get(trust.pk, []), key=lambda m: -m.centrality_index)
        if not members:
            continue
        teams = 1 + (len(members) > 15) + (members[0].centrality_class <= 2)
        for index in range(teams):
            owners = members[index * 3: index * 3 + ctx.rng.randint(1, 4)] or members[:1]
            kind = UnitKind.ACT if owners[0].centrality_class <= 2 and index == 0 else UnitKind.FACT
            unit, was_created = ServiceUnit.objects.get_or_create(
                code=f"{trust.code}-{kind}-{index + 1}",
                defaults={"name": f"{kind.upper()}-team {owners[0].name}", "kind": kind, "trust": trust},
            )
            if was_created:
                unit.municipalities.set(owners)
                created += 1
            by_kind["team"].append(unit)
    ctx.units = dict(by_kind)
    ctx.count("units", created)


def _pseudonym(ctx: SynthContext, used: set[str]) -> str:
    while True:
        pid = "P-" + "".join(ctx.rng.choice(_ALPHABET) for _ in range(8))
        if pid not in used:
            used.add(pid)
            return pid


def _national_id(ctx: SynthContext, birth_year: int, used: set[str]) -> str:
    # Synthetic numbers (month + 80) can never belong to a real person.
    while True:
        birth_date = dt.date(birth_year, 1, 1) + dt.timedelta(days=ctx.rng.randrange(365))
        individual = ctx.rng.randrange(0, 500) if birth_year < 2000 else ctx.rng.randrange(500, 1000)
        number = make_synthetic_national_id(birth_date, individual)
        if number is not None and number not in used:
            used.add(number)
            return number


@synth_step(order=110, name="persons")
def persons(ctx: SynthContext) -> None:
    """Persons across municipalities, weighted towards central ones, with substance and mental diagnoses."""
    total = ctx.requested_persons
    municipalities = list(Municipality.objects.prefetch_related("districts").order_by("number"))
    # No population figures ship with the reference data; the centrality index stands in as a weight.
    weights = [1 + 100 * (m.centrality_index / 1000) ** 4 for m in municipalities]
    pids: set[str] = set(Person.objects.values_list("pid", flat=True))
    numbers: set[str] = set()
    rng = ctx.rng
    made: list[tuple[Person, SynthPerson]] = []
    for _ in ctx.progress(range(total), total=total, desc="persons"):
        municipality = rng.choices(municipalities, weights=weights)[0]
        sex = "male" if rng.random() < 0.62 else "female"
        age = min(85, max(18, int(rng.gauss(40, 13))))
        birth_year = ctx.today.year - age
        roll = rng.random()
        background = (ImmigrantBackground.IMMIGRANT if roll < 0.14 else ImmigrantBackground.NORWEGIAN_BORN
                      if roll < 0.17 else None if roll < 0.22 else ImmigrantBackground.NONE)
        immigrant = background in (ImmigrantBackground.IMMIGRANT, ImmigrantBackground.NORWEGIAN_BORN)
        if sex == "male":
            given = rng.choice(names.GIVEN_IMMIGRANT_MALE if immigrant else names.GIVEN_MALE)
        else:
            given = rng.choice(names.GIVEN_IMMIGRANT_FEMALE if immigrant else names.GIVEN_FEMALE)
        family = rng.choice(names.FAMILY_IMMIGRANT if immigrant and rng.random() < 0.7 else names.FAMILY)
        districts = list(municipality.districts.all())
        district = rng.choice(districts) if districts else None
        number = _national_id(ctx, birth_year, numbers)
        substance = [_weighted(ctx, SUBSTANCE_DIAGNOSES)[0] for _ in range(1 + (rng.random() < 0.25))]
        mental = [_weighted(ctx, MENTAL_DIAGNOSES)[0] for _ in range(1 + (rng.random() < 0.35))]
        first_contact = ctx.start + dt.timedelta(days=rng.randrange((ctx.today - ctx.start).days - 30))
        person = Person(
            pid=_pseudonym(ctx, pids), given_name=given, family_name=family, nin_encrypted=encrypt_nin(number),
            nin_hash=nin_lookup_hash(number), birth_year=birth_year, sex=sex, municipality=municipality,
            district=district, immigrant_background=background, consent_next_of_kin=rng.random() < 0.55,
            consent_research=rng.random() < 0.4,
        )
        record = SynthPerson(
            id=0, pid=person.pid, sex=sex, birth_year=birth_year, municipality=municipality.number,
            centrality_class=municipality.centrality_class, substance=sorted(set(substance)),
            mental=sorted(set(mental)), first_contact=first_contact, consent_next_of_kin=person.consent_next_of_kin,
            catchment_trust_id=district.catchment_trust_id if district else municipality.catchment_trust_id,
        )
        made.append((person, record))
    displays = {code: display for code, display, _w in SUBSTANCE_DIAGNOSES + MENTAL_DIAGNOSES}
    for batch in chunks(made, BATCH):
        saved = Person.objects.bulk_create([person for person, _r in batch])
        conditions = []
        for person, (_p, record) in zip(saved, batch, strict=True):
            record.id = person.pk
            for kind, codes in ((ConditionKind.SUBSTANCE, record.substance), (ConditionKind.MENTAL, record.mental)):
                conditions += [Condition(person_id=person.pk, code=code, display=displays[code], kind=kind,
                                         recorded_on=record.first_contact) for code in codes]
        Condition.objects.bulk_create(conditions)
        ctx.count("conditions", len(conditions))
    ctx.persons.extend(record for _p, record in made)
    ctx.count("persons", len(made))


def _pick_unit(ctx: SynthContext, key: str, trust_id: int | None) -> Any:
    candidates = [u for u in ctx.units.get(key, []) if u.trust_id == trust_id] or ctx.units.get(key, [])
    return ctx.rng.choice(candidates) if candidates else None


@synth_step(order=120, name="episodes")
def episodes(ctx: SynthContext) -> None:
    """Episodes in municipal services, DPS, TSB, wards and ACT/FACT teams over several years."""
    rng, today = ctx.rng, ctx.today
    municipal = {u.code[1:5]: u for u in ctx.units.get(UnitKind.MUNICIPAL, [])}
    team_of: dict[str, Any] = {}
    for team in ctx.units.get("team", []):
        for municipality in team.municipalities.all():
            team_of.setdefault(municipality.number, team)
    made: list[tuple[EpisodeOfCare, SynthPerson, Any]] = []

    def add(record: SynthPerson, unit: Any, start: dt.date, length_days: int | None) -> None:
        if unit is None or start > today:
            return
        end = start + dt.timedelta(days=length_days) if length_days is not None else None
        if end is not None and end >= today:
            end = None if rng.random() < 0.8 else end
        status = EpisodeStatus.FINISHED if end is not None and end < today else EpisodeStatus.ACTIVE
        if end is not None and end > today:
            status = EpisodeStatus.ACTIVE
        made.append((EpisodeOfCare(person_id=record.id, unit=unit, status=status, start_date=start, end_date=end,
                                   identifier=f"synth-{record.pid}-{len(record.episodes) + len(made)}"), record, unit))

    for record in ctx.progress(ctx.persons, total=len(ctx.persons), desc="episodes"):
        trust = record.catchment_trust_id
        start = record.first_contact
        if rng.random() < 0.85:
            add(record, municipal.get(record.municipality), start, None if rng.random() < 0.7 else rng.randint(200, 1500))
        if rng.random() < 0.55:
            add(record, _pick_unit(ctx, UnitKind.DPS, trust), start + dt.timedelta(days=rng.randint(0, 400)),
                None if rng.random() < 0.45 else rng.randint(90, 900))
        if rng.random() < 0.45:
            add(record, _pick_unit(ctx, UnitKind.TSB, trust), start + dt.timedelta(days=rng.randint(0, 500)),
                None if rng.random() < 0.4 else rng.randint(60, 700))
        for _stay in range(rng.choices([0, 1, 2, 3], weights=[65, 22, 9, 4])[0]):
            key = rng.choice([f"{UnitKind.DPS}-inpatient", f"{UnitKind.TSB}-inpatient", f"{UnitKind.WARD}-inpatient"])
            stay_start = start + dt.timedelta(days=rng.randint(0, max(1, (today - start).days)))
            add(record, _pick_unit(ctx, key, trust), stay_start, rng.randint(5, 70))
        team = team_of.get(record.municipality)
        if team is not None and rng.random() < 0.18:
            add(record, team, start + dt.timedelta(days=rng.randint(0, 300)), None if rng.random() < 0.75 else
                rng.randint(365, 1400))
    for batch in chunks(made, BATCH * 2):
        saved = EpisodeOfCare.objects.bulk_create([episode for episode, _r, _u in batch])
        for episode, (_e, record, unit) in zip(saved, batch, strict=True):
            record.episodes.append(SynthEpisode(
                id=episode.pk, unit_id=unit.pk, unit_kind=unit.kind, inpatient=unit.inpatient,
                start_date=episode.start_date, end_date=episode.end_date, status=episode.status))
    ctx.count("episodes", len(made))
