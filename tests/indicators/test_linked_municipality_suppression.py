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

import pytest

from helhet.indicators import engine
from helhet.organisations.models import Municipality, UnitKind
from tests.indicators.published_audit import (
    PERIOD,
    REJECTION,
    every_scope,
    per_table,
    publish_everything,
    refer_each,
    row,
    two_trusts_of_a_region,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(builders):
    """The referrals above, and their counts by (trust, unit, municipality): (rejected, all)."""
    builders.make_person()  # (loads the registers)
    trust_1, trust_2 = two_trusts_of_a_region()
    m1, m1b = (m.number for m in Municipality.objects.filter(catchment_trust=trust_1)[:2])
    m2, m3 = (m.number for m in Municipality.objects.filter(catchment_trust=trust_2)[:2])
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust_1)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust_2)
    s = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-s", municipalities=[m1])
    atoms = refer_each(builders, [
        (a, trust_1, m1, 20, 10), (a, trust_1, m1b, 10, 5), (s, trust_1, m1, 6, 3),
        (b, trust_2, m1, 3, 1), (b, trust_2, m2, 20, 10), (b, trust_2, m3, 10, 5)])
    return {"trusts": (trust_1.code, trust_2.code), "places": (m1, m1b, m2, m3), "atoms": atoms}


def test_per_table_suppression_alone_would_give_a_trusts_items_in_a_municipality_away(world):
    (trust_1, trust_2), (m1, *_rest) = world["trusts"], world["places"]
    assert row(per_table(engine.Scope("trust", trust_2), "municipality"), "municipality", m1).suppressed
    country = row(per_table(engine.NATIONAL, "municipality"), "municipality", m1)
    trust = row(per_table(engine.Scope("trust", trust_1), "municipality"), "municipality", m1)
    assert (country.numerator - trust.numerator, country.denominator - trust.denominator) == (1, 3)


def test_linked_no_hidden_count_is_determined_by_all_the_published_tables_together(world):
    scopes, strata = every_scope(world["trusts"], ("dps-a", "dps-b", "kommune-s"), world["places"],
                                 by=("region", "trust", "team", "municipality", "centrality"))
    published = publish_everything(world["atoms"], scopes, strata)
    (_trust_1, trust_2), (m1, *_rest) = world["trusts"], world["places"]
    assert published.figures > 90 and frozenset({(trust_2, "dps-b", m1)}) in published.hidden
    assert not published.determined()
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert {"municipality", "centrality"} <= pattern.cubes
