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

from collections.abc import Hashable

import pytest

from helhet.indicators import engine
from helhet.organisations.models import HealthTrust, Municipality, UnitKind
from tests.indicators.published_audit import (
    PERIOD,
    REJECTION,
    PublishedFigures,
    every_scope,
    per_table,
    publish_everything,
    refer,
    refer_each,
    row,
    two_trusts_of_a_region,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(builders):
    """The referrals above, and their counts by (trust, unit, municipality, sex): (rejected, all)."""
    builders.make_person()  # (loads the registers)
    trust_1, trust_2 = two_trusts_of_a_region()
    m1, m2 = (m.number for m in Municipality.objects.filter(catchment_trust=trust_1)[:2])
    m3 = Municipality.objects.filter(catchment_trust=trust_2).first().number
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust_1)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust_2)
    atoms = refer_each(builders, [
        (a, trust_1, m1, "female", 2, 1), (a, trust_1, m1, "male", 8, 4),
        (a, trust_1, m2, "female", 10, 5), (a, trust_1, m2, "male", 10, 5),
        (b, trust_2, m3, "female", 10, 5), (b, trust_2, m3, "male", 10, 5)])
    return {"trusts": (trust_1.code, trust_2.code), "places": (m1, m2, m3), "atoms": atoms}


def test_per_table_suppression_alone_would_give_a_municipalitys_women_away(world):
    m1, m2, m3 = world["places"]
    assert row(per_table(engine.Scope("municipality", m1), "sex"), "sex", "female").suppressed
    country = row(per_table(engine.NATIONAL, "sex"), "sex", "female")
    others = [row(per_table(engine.Scope("municipality", m), "sex"), "sex", "female") for m in (m2, m3)]
    assert not any(cell.suppressed for cell in others)
    assert (country.numerator - sum(c.numerator for c in others),
            country.denominator - sum(c.denominator for c in others)) == (1, 2)


def test_linked_no_hidden_count_is_determined_by_all_the_published_tables_together(world):
    scopes, strata = every_scope(world["trusts"], ("dps-a", "dps-b"), world["places"],
                                 by=("region", "trust", "team", "municipality", "centrality", "sex"))
    published = publish_everything(world["atoms"], scopes, strata)
    trust_1, m1 = world["trusts"][0], world["places"][0]
    assert published.figures > 80 and frozenset({(trust_1, "dps-a", m1, "female")}) in published.hidden
    assert not published.determined()
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert (f"municipality:{m1}", "sex", "") in pattern.cube_nodes


# ---------------------------------------------------------------------------
# 5a's reasons by municipality. One unit A of trust 1; rejected referrals in 2025 by the person's
# municipality and reason (of 20 decided in M1, 40 in M2):
#
#     reason        M1    M2    the country (= A = trust 1 = its region)
#     wrong level    8    10    18
#     other          2    10    12
#     no right             6     6
#
# Table by table, M1's reasons table hides "other" (2 is small) and its complement, while M2's and
# the country's show theirs: M1's "other" = 12 - 10 = 2. Linked, a municipality's reasons table is
# the place cube of the reasons (the country's reasons table is its margin, as it is the trust tree's).

REASONS = {"m1": {"wrong_level": 8, "other": 2}, "m2": {"wrong_level": 10, "other": 10, "no_right": 6}}


@pytest.fixture
def by_reason(builders):
    builders.make_person()  # (loads the registers)
    trust_1, _trust_2 = two_trusts_of_a_region()
    places = dict(zip(REASONS, (m.number for m in Municipality.objects.filter(catchment_trust=trust_1)[:2]),
                      strict=False))
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust_1)
    for place, counts in REASONS.items():
        given = [reason for reason, count in counts.items() for _ in range(count)]
        refer(builders, a, 2 * len(given), len(given), reasons=given, municipality=places[place])
    return {"trust": trust_1.code, "places": places}


def reasons_of(scope: engine.Scope, *, linked: bool = True) -> tuple[int | None, dict[str, int | None]]:
    """The scope's published numerator and reasons table (``linked``: as ``engine.published`` gives it)."""
    if linked:
        [result] = engine.published(PERIOD, scope, indicator_ids=[REJECTION])
    else:
        [raw] = engine.evaluate(PERIOD, scope, indicator_ids=[REJECTION])
        result = engine.publish_result(raw)
    return result.total.numerator, {r.key: r.count for r in result.breakdowns["rejection_reason"].rows}


def test_per_table_a_municipalitys_reasons_were_the_countrys_less_the_others(by_reason):
    m1, m2 = (engine.Scope("municipality", by_reason["places"][p]) for p in ("m1", "m2"))
    _, in_m1 = reasons_of(m1, linked=False)
    _, in_m2 = reasons_of(m2, linked=False)
    _, country = reasons_of(engine.NATIONAL, linked=False)
    assert in_m1["other"] is None and in_m2["other"] is not None and country["other"] is not None
    assert country["other"] - in_m2["other"] == 2


def test_linked_no_reason_count_is_determined_by_all_the_reasons_tables_together(by_reason):
    # An audit built from the published reasons tables and numerators alone: each figure is the sum of
    # the (municipality, reason) counts it covers, every scope's table and numerator. A reason the
    # tables list is a count even at 0 (a reader cannot tell a hidden 0).
    places = by_reason["places"]
    listed = reasons_of(engine.NATIONAL)[1]
    atoms: dict[Hashable, tuple[int | None, int]] = {(place, reason): (None, counts.get(reason, 0))
                                                    for place, counts in REASONS.items() for reason in listed}
    region = HealthTrust.objects.get(code=by_reason["trust"]).region.code
    scopes = {engine.NATIONAL: lambda place: True, engine.Scope("region", region): lambda place: True,
              engine.Scope("trust", by_reason["trust"]): lambda place: True,
              engine.Scope("unit", "dps-a"): lambda place: True,
              **{engine.Scope("municipality", number): lambda place, p=p: place == p for p, number in places.items()}}
    hidden: dict[frozenset[Hashable], bool] = {}
    for scope, inside in scopes.items():
        numerator, table = reasons_of(scope)
        figures = {frozenset(a for a in atoms if inside(a[0])): numerator}
        figures |= {frozenset(a for a in atoms if inside(a[0]) and a[1] == reason): count
                    for reason, count in table.items()}
        for members, count in figures.items():
            if members:
                if count is not None:
                    assert count == sum(atoms[a][1] for a in members)
                hidden[members] = hidden.get(members, True) and count is None
    published = PublishedFigures(atoms, hidden=frozenset(m for m, h in hidden.items() if h),
                                 shown=frozenset(m for m, h in hidden.items() if not h), figures=len(hidden))
    assert frozenset({("m1", "other")}) in published.hidden
    assert not published.determined()
