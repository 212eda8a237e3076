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

import pytest

from helhet.indicators import engine
from helhet.organisations.models import Municipality, UnitKind
from tests.indicators.published_audit import (
    PERIOD,
    REJECTION,
    every_scope,
    per_table,
    publish_everything,
    refer,
    row,
    two_trusts_of_a_region,
)

pytestmark = pytest.mark.django_db
Atom = tuple[str, str, str, str]  # the items of (trust, unit, municipality, sex)


@pytest.fixture
def world(builders):
    """The referrals above, and their counts by (trust, unit, municipality, sex): (rejected, all)."""
    builders.make_person()  # (loads the registers)
    trust_1, trust_2 = two_trusts_of_a_region()
    m1, m2 = (m.number for m in Municipality.objects.filter(catchment_trust=trust_1)[:2])
    m3 = Municipality.objects.filter(catchment_trust=trust_2).first().number
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust_1)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust_2)
    atoms: dict[Atom, tuple[int, int]] = {}
    for unit, trust, municipality, sex, count, rejected in [
            (a, trust_1, m1, "female", 2, 1), (a, trust_1, m1, "male", 8, 4),
            (a, trust_1, m2, "female", 10, 5), (a, trust_1, m2, "male", 10, 5),
            (b, trust_2, m3, "female", 10, 5), (b, trust_2, m3, "male", 10, 5)]:
        refer(builders, unit, count, rejected, municipality=municipality, sex=sex)
        atoms[(trust.code, unit.code, municipality, sex)] = (rejected, count)
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
