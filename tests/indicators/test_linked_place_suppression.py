"""Suppression linked across municipalities and sex (the place cubes).

Two trusts of one region; decided referrals in 2025 (rejected of all), by the person's municipality
and sex (M1 and M2 are trust 1's catchment, M3 trust 2's):

    unit            M1 women   M1 men    M2 women   M2 men    M3 women   M3 men
    A (trust 1)     1 / 2      4 / 8     5 / 10     5 / 10
    B (trust 2)                                               5 / 10     5 / 10

Table by table, M1's table by sex hides its women (2 is small) and its men (the complement), while
M2's and M3's show theirs: M1's women = the country's 11/22 - 5/10 - 5/10 = 1/2. Linked, the place
cube (municipalities x sex, with the country's table by sex as the margin it shares with the trust
tree's cube) leaves no hidden count that all the published tables together determine: checked here
by an audit built from the published tables alone, over the items' finest cells (trust, unit,
municipality, sex).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable

import pytest

from helhet.indicators import engine
from helhet.indicators.suppression import Cell, LinkedCells, LinkedRelation, determined_cells
from helhet.organisations.models import HealthTrust, Municipality, UnitKind
from helhet.pathways.models import Referral

pytestmark = pytest.mark.django_db
REJECTION = "rop-05a-referral-rejection"
PERIOD = "2025"
DAY = dt.date(2025, 5, 2)
BY = ("region", "trust", "team", "municipality", "centrality", "sex")
Atom = tuple[str, str, str, str]  # the items of (trust, unit, municipality, sex)


@pytest.fixture
def world(builders):
    """The referrals above, and their counts by (trust, unit, municipality, sex): (rejected, all)."""
    builders.make_person()  # (loads the registers)
    with_catchment = HealthTrust.objects.filter(catchment_municipalities__isnull=False).distinct().order_by("code")
    region = next(r for r in with_catchment.values_list("region", flat=True) if with_catchment.filter(region=r)[1:])
    trust_1, trust_2 = with_catchment.filter(region=region)[:2]
    m1, m2 = (m.number for m in Municipality.objects.filter(catchment_trust=trust_1)[:2])
    m3 = Municipality.objects.filter(catchment_trust=trust_2).first().number
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust_1)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust_2)
    atoms: dict[Atom, tuple[int, int]] = {}
    for unit, trust, municipality, sex, count, rejected in [
            (a, trust_1, m1, "female", 2, 1), (a, trust_1, m1, "male", 8, 4),
            (a, trust_1, m2, "female", 10, 5), (a, trust_1, m2, "male", 10, 5),
            (b, trust_2, m3, "female", 10, 5), (b, trust_2, m3, "male", 10, 5)]:
        for index in range(count):
            Referral.objects.create(person=builders.make_person(municipality=municipality, sex=sex), to_unit=unit,
                                    status="rejected" if index < rejected else "accepted", sent_date=DAY,
                                    received_date=DAY, assessed_date=DAY + dt.timedelta(days=4))
        atoms[(trust.code, unit.code, municipality, sex)] = (rejected, count)
    return {"trusts": (trust_1.code, trust_2.code), "places": (m1, m2, m3), "atoms": atoms}


def row(result: engine.PublishedResult, by: str, key: str):  # type: ignore[no-untyped-def]
    return next(r.cell for r in result.strata[by] if r.stratum == key)


def test_per_table_suppression_alone_would_give_a_municipalitys_women_away(world):
    m1, m2, m3 = world["places"]

    def per_table(scope: engine.Scope):  # type: ignore[no-untyped-def]
        [raw] = engine.evaluate(PERIOD, scope, by="sex", indicator_ids=[REJECTION])
        return engine.publish_result(raw)

    assert row(per_table(engine.Scope("municipality", m1)), "sex", "female").suppressed
    country = row(per_table(engine.NATIONAL), "sex", "female")
    others = [row(per_table(engine.Scope("municipality", m)), "sex", "female") for m in (m2, m3)]
    assert not any(cell.suppressed for cell in others)
    assert (country.numerator - sum(c.numerator for c in others),
            country.denominator - sum(c.denominator for c in others)) == (1, 2)


def test_linked_no_hidden_count_is_determined_by_all_the_published_tables_together(world):
    atoms: dict[Atom, tuple[int, int]] = world["atoms"]
    region_of = dict(HealthTrust.objects.values_list("code", "region__code"))
    class_of = {m: str(c) for m, c in Municipality.objects.values_list("number", "centrality_class")}
    scopes: dict[engine.Scope, Callable[[Atom], bool]] = {engine.NATIONAL: lambda atom: True}
    for trust in world["trusts"]:
        scopes[engine.Scope("trust", trust)] = lambda atom, trust=trust: atom[0] == trust
        scopes[engine.Scope("region", region_of[trust])] = lambda atom, r=region_of[trust]: region_of[atom[0]] == r
    for unit in ("dps-a", "dps-b"):
        scopes[engine.Scope("unit", unit)] = lambda atom, unit=unit: atom[1] == unit
    for place in world["places"]:
        scopes[engine.Scope("municipality", place)] = lambda atom, place=place: atom[2] == place
    stratum: dict[str, Callable[[Atom, str], bool]] = {
        "region": lambda atom, key: region_of[atom[0]] == key, "trust": lambda atom, key: atom[0] == key,
        "team": lambda atom, key: atom[1] == key, "municipality": lambda atom, key: atom[2] == key,
        "centrality": lambda atom, key: class_of[atom[2]] == key, "sex": lambda atom, key: atom[3] == key}

    # Every published figure is the sum of the finest cells it counts: one unknown each, the same
    # figure wherever it is published (hidden only where it is hidden everywhere).
    hidden: dict[frozenset[Atom], bool] = {}
    figures = 0

    def publish(members: frozenset[Atom], cell) -> None:  # type: ignore[no-untyped-def]
        nonlocal figures
        assert members, "a published row counts something"
        if not cell.suppressed:
            assert (cell.numerator, cell.denominator) == tuple(map(sum, zip(*(atoms[a] for a in members),
                                                                            strict=True)))
        hidden[members] = hidden.get(members, True) and cell.suppressed
        figures += 1

    for scope, inside in scopes.items():
        [result] = engine.published(PERIOD, scope, by=list(BY), indicator_ids=[REJECTION])
        publish(frozenset(a for a in atoms if inside(a)), result.total)
        for by, rows in result.strata.items():
            for published_row in rows:
                publish(frozenset(a for a in atoms if inside(a) and stratum[by](a, published_row.stratum)),
                        published_row.cell)
    cells: dict[Hashable, Cell] = {atom: Cell(*counts) for atom, counts in atoms.items()}
    cells |= {members: Cell(*map(sum, zip(*(atoms[a] for a in members), strict=True))) for members in hidden}
    relations = [LinkedRelation(members, tuple(sorted(members))) for members in hidden]
    suppressed = {members for members, is_hidden in hidden.items() if is_hidden}

    trust_1, m1 = world["trusts"][0], world["places"][0]
    assert figures > 80 and frozenset({(trust_1, "dps-a", m1, "female")}) in suppressed
    assert not determined_cells(LinkedCells(cells, relations), {*atoms, *suppressed}) & suppressed
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert (f"municipality:{m1}", "sex", "") in pattern.cube_nodes
