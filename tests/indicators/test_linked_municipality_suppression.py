"""Suppression linked across the two trees: trusts and units by municipality and centrality class.

Two trusts of one region; decided referrals in 2025 (rejected of all), by the person's municipality
(M1 and M1B are trust 1's catchment, M2 and M3 trust 2's; S is a municipal service in M1, so its
items count for trust 1):

    unit            M1        M1B       M2        M3
    A (trust 1)     10 / 20   5 / 10
    S (municipal)   3 / 6
    B (trust 2)     1 / 3               10 / 20   5 / 10

Table by table, trust 2's table by municipality hides M1 (3 is small) and M3 (its complement), while
the country's and trust 1's show M1: trust 2's M1 = 14/29 - 13/26 = 1/3. Linked, the municipality
cube (trust tree x municipalities, centrality classes above them) leaves no hidden count that all
the published tables together determine: checked here by an audit built from the published tables
alone, over the items' finest cells (trust, unit, municipality).
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
PLACES = ("region", "trust", "team", "municipality", "centrality")
Atom = tuple[str, str, str]  # the items of (trust, unit, municipality)


def refer(builders, unit, municipality: str, count: int, rejected: int) -> None:
    for index in range(count):
        Referral.objects.create(person=builders.make_person(municipality=municipality), to_unit=unit,
                                status="rejected" if index < rejected else "accepted", sent_date=DAY,
                                received_date=DAY, assessed_date=DAY + dt.timedelta(days=4))


@pytest.fixture
def world(builders):
    """The referrals above, and their counts by (trust, unit, municipality): (rejected, all)."""
    builders.make_person()  # (loads the registers)
    with_catchment = HealthTrust.objects.filter(catchment_municipalities__isnull=False).distinct().order_by("code")
    region = next(r for r in with_catchment.values_list("region", flat=True) if with_catchment.filter(region=r)[1:])
    trust_1, trust_2 = with_catchment.filter(region=region)[:2]
    m1, m1b = (m.number for m in Municipality.objects.filter(catchment_trust=trust_1)[:2])
    m2, m3 = (m.number for m in Municipality.objects.filter(catchment_trust=trust_2)[:2])
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust_1)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust_2)
    s = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-s", municipalities=[m1])
    atoms: dict[Atom, tuple[int, int]] = {}
    for unit, trust, municipality, count, rejected in [
            (a, trust_1, m1, 20, 10), (a, trust_1, m1b, 10, 5), (s, trust_1, m1, 6, 3),
            (b, trust_2, m1, 3, 1), (b, trust_2, m2, 20, 10), (b, trust_2, m3, 10, 5)]:
        refer(builders, unit, municipality, count, rejected)
        atoms[(trust.code, unit.code, municipality)] = (rejected, count)
    return {"trusts": (trust_1.code, trust_2.code), "places": (m1, m1b, m2, m3), "atoms": atoms}


def one(scope: engine.Scope, by: str | list[str]) -> engine.PublishedResult:
    [result] = engine.published(PERIOD, scope, by=by, indicator_ids=[REJECTION])
    return result


def per_table(scope: engine.Scope, by: str) -> engine.PublishedResult:
    [raw] = engine.evaluate(PERIOD, scope, by=by, indicator_ids=[REJECTION])
    return engine.publish_result(raw)


def row(result: engine.PublishedResult, by: str, key: str):  # type: ignore[no-untyped-def]
    return next(r.cell for r in result.strata[by] if r.stratum == key)


def test_per_table_suppression_alone_would_give_a_trusts_items_in_a_municipality_away(world):
    (trust_1, trust_2), (m1, *_rest) = world["trusts"], world["places"]
    assert row(per_table(engine.Scope("trust", trust_2), "municipality"), "municipality", m1).suppressed
    country = row(per_table(engine.NATIONAL, "municipality"), "municipality", m1)
    trust = row(per_table(engine.Scope("trust", trust_1), "municipality"), "municipality", m1)
    assert (country.numerator - trust.numerator, country.denominator - trust.denominator) == (1, 3)


def test_linked_no_hidden_count_is_determined_by_all_the_published_tables_together(world):
    atoms: dict[Atom, tuple[int, int]] = world["atoms"]
    region_of = dict(HealthTrust.objects.values_list("code", "region__code"))
    class_of = {m: str(c) for m, c in Municipality.objects.values_list("number", "centrality_class")}
    scopes: dict[engine.Scope, Callable[[Atom], bool]] = {engine.NATIONAL: lambda atom: True}
    for trust in world["trusts"]:
        scopes[engine.Scope("trust", trust)] = lambda atom, trust=trust: atom[0] == trust
        scopes[engine.Scope("region", region_of[trust])] = lambda atom, r=region_of[trust]: region_of[atom[0]] == r
    for unit in ("dps-a", "dps-b", "kommune-s"):
        scopes[engine.Scope("unit", unit)] = lambda atom, unit=unit: atom[1] == unit
    for place in world["places"]:
        scopes[engine.Scope("municipality", place)] = lambda atom, place=place: atom[2] == place
    stratum: dict[str, Callable[[Atom, str], bool]] = {
        "region": lambda atom, key: region_of[atom[0]] == key, "trust": lambda atom, key: atom[0] == key,
        "team": lambda atom, key: atom[1] == key, "municipality": lambda atom, key: atom[2] == key,
        "centrality": lambda atom, key: class_of[atom[2]] == key}

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
        result = one(scope, list(PLACES))
        publish(frozenset(a for a in atoms if inside(a)), result.total)
        for by, rows in result.strata.items():
            for published_row in rows:
                publish(frozenset(a for a in atoms if inside(a) and stratum[by](a, published_row.stratum)),
                        published_row.cell)
    cells: dict[Hashable, Cell] = {atom: Cell(*counts) for atom, counts in atoms.items()}
    cells |= {members: Cell(*map(sum, zip(*(atoms[a] for a in members), strict=True))) for members in hidden}
    relations = [LinkedRelation(members, tuple(sorted(members))) for members in hidden]
    suppressed = {members for members, is_hidden in hidden.items() if is_hidden}

    (_trust_1, trust_2), (m1, *_rest) = world["trusts"], world["places"]
    assert figures > 90 and frozenset({(trust_2, "dps-b", m1)}) in suppressed
    assert not determined_cells(LinkedCells(cells, relations), {*atoms, *suppressed}) & suppressed
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert {"municipality", "centrality"} <= pattern.cubes
