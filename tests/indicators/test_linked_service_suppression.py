"""Suppression linked across trusts for municipal services (the service rows).

Two trusts of one region; decided referrals in 2025 (rejected of all), by the person's municipality
(M1 is trust 1's catchment, M2 trust 2's). S is a municipal service for both municipalities, so its
items count for trust 1 or trust 2 by where its persons live; W serves M1 and V M2:

    unit            M1        M2
    A (trust 1)     10 / 20
    B (trust 2)               10 / 20
    S (municipal)   10 / 20   1 / 3
    W (municipal)   10 / 20
    V (municipal)             10 / 20

Trust 2's by-team table hides S (3 is small) and V (its complement among the rows that are no unit
of the trust, whose sum is shown: the trust less B), while the country's by-team table (S's
dashboard total) and trust 1's show S: S's items in trust 2 = 11/23 - 10/20 = 1/3. That is so table
by table, and it was so with the rows that are no unit of a trust suppressed as a table of their
own in each scope. Linked, the service rows of every by-team table (trust, region, country) are one
system with the hierarchy, and no hidden count is determined by all the published tables
together: checked by an audit built from the published tables alone, over the items' finest cells
(trust, unit, municipality). Two more worlds: three trusts (a service's own table by trust), and
sex (its own table by sex; atoms (trust, unit, municipality, sex)).
"""

from __future__ import annotations

import pytest

from helhet.indicators import engine
from helhet.indicators.suppression import AuditTooLarge
from helhet.organisations.models import Municipality, UnitKind
from tests.indicators.published_audit import (
    PERIOD,
    REJECTION,
    every_scope,
    per_table,
    publish_everything,
    refer_each,
    row,
    trusts_of_a_region,
    two_trusts_of_a_region,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(builders):
    """The referrals above, and their counts by (trust, unit, municipality): (rejected, all)."""
    builders.make_person()  # (loads the registers)
    trust_1, trust_2 = two_trusts_of_a_region()
    m1 = Municipality.objects.filter(catchment_trust=trust_1).first().number
    m2 = Municipality.objects.filter(catchment_trust=trust_2).first().number
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust_1)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust_2)
    s = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-s", municipalities=[m1, m2])
    w = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-w", municipalities=[m1])
    v = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-v", municipalities=[m2])
    atoms = refer_each(builders, [
        (a, trust_1, m1, 20, 10), (b, trust_2, m2, 20, 10), (s, trust_1, m1, 20, 10), (s, trust_2, m2, 3, 1),
        (w, trust_1, m1, 20, 10), (v, trust_2, m2, 20, 10)])
    return {"trusts": (trust_1.code, trust_2.code), "atoms": atoms}


def test_per_table_suppression_alone_would_give_a_services_items_in_a_trust_away(world):
    trust_1, trust_2 = world["trusts"]
    assert row(per_table(engine.Scope("trust", trust_2), "team"), "team", "kommune-s").suppressed
    country = row(per_table(engine.NATIONAL, "team"), "team", "kommune-s")
    trust = row(per_table(engine.Scope("trust", trust_1), "team"), "team", "kommune-s")
    assert (country.numerator - trust.numerator, country.denominator - trust.denominator) == (1, 3)


def test_linked_no_hidden_count_is_determined_by_all_the_published_tables_together(world):
    scopes, strata = every_scope(world["trusts"], ("dps-a", "dps-b", "kommune-s", "kommune-w", "kommune-v"), (),
                                 by=("region", "trust", "team"))
    published = publish_everything(world["atoms"], scopes, strata)
    trust_2 = world["trusts"][1]
    assert published.figures > 20 and any((trust_2, "kommune-s") == atom[:2] for members in published.hidden
                                           for atom in members)
    assert not published.determined()
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert "service" in pattern.cubes


def test_the_services_dashboard_shows_its_total_when_nothing_hidden_can_be_worked_out_from_it(world):
    # Its row in the country's by-team table, not small, and hiding it is not needed to protect
    # its small part in trust 2 (S's row in trust 1's table is hidden with it).
    [result] = engine.published(PERIOD, engine.Scope("unit", "kommune-s"), indicator_ids=[REJECTION])
    assert not result.total.suppressed and (result.total.numerator, result.total.denominator) == (11, 23)


@pytest.fixture
def three_trusts(builders):
    """S serves a municipality of each of three trusts (20/40, 10/20 and 1/3); each trust has a unit
    (10/20); W, small, serves trust 1's municipality and V trust 3's (10/20). Linked, trust 1's table
    hides S with W, so S's row in trust 2's is shown and S's table by trust must hide its trust-1
    row: table by table it would hide the smaller trust-2 row, and S's trust-3 row would be S less
    the other two."""
    builders.make_person()
    trusts = trusts_of_a_region(3)
    places = [Municipality.objects.filter(catchment_trust=trust).first().number for trust in trusts]
    s = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-s", municipalities=places)
    w = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-w", municipalities=places[:1])
    v = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-v", municipalities=places[2:])
    units = [builders.make_unit(UnitKind.DPS, code=f"dps-{k}", trust=trust) for k, trust in enumerate(trusts)]
    atoms = refer_each(builders, [
        *((u, t, m, 20, 10) for u, t, m in zip(units, trusts, places, strict=True)),
        (s, trusts[0], places[0], 40, 20), (s, trusts[1], places[1], 20, 10), (s, trusts[2], places[2], 3, 1),
        (w, trusts[0], places[0], 2, 1), (v, trusts[2], places[2], 20, 10)])
    return {"trusts": [t.code for t in trusts], "units": [u.code for u in units], "atoms": atoms}


def test_a_services_table_by_trust_follows_its_rows_in_the_trusts_tables(three_trusts):
    scopes, strata = every_scope(three_trusts["trusts"], [*three_trusts["units"], "kommune-s", "kommune-w", "kommune-v"],
                                 (),
                                 by=("region", "trust", "team"))
    published = publish_everything(three_trusts["atoms"], scopes, strata)
    assert not published.determined()


@pytest.fixture
def by_sex(builders):
    """A and B units of trusts 1 and 2 (10/20 women and 10/20 men each); S serves a municipality of
    each trust: 10/20 women and 10/20 men in trust 1's, 1/2 women and 10/20 men in trust 2's. S's
    table by sex alone shows its women, 11/22; less its women in trust 1 (trust 1's women less A's,
    all shown) that gives its 1/2 women in trust 2 away. Linked, S's table by sex is the sum of its
    parts' cells."""
    builders.make_person()
    trusts = two_trusts_of_a_region()
    places = [Municipality.objects.filter(catchment_trust=trust).first().number for trust in trusts]
    s = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-s", municipalities=places)
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trusts[0])
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trusts[1])
    atoms = refer_each(builders, [
        (a, trusts[0], places[0], "female", 20, 10), (a, trusts[0], places[0], "male", 20, 10),
        (b, trusts[1], places[1], "female", 20, 10), (b, trusts[1], places[1], "male", 20, 10),
        (s, trusts[0], places[0], "female", 20, 10), (s, trusts[0], places[0], "male", 20, 10),
        (s, trusts[1], places[1], "female", 2, 1), (s, trusts[1], places[1], "male", 20, 10)])
    return {"trusts": [t.code for t in trusts], "places": places, "atoms": atoms}


def test_a_services_tables_by_sex_and_municipality_follow_its_parts(by_sex):
    scopes, strata = every_scope(by_sex["trusts"], ("dps-a", "dps-b", "kommune-s"), by_sex["places"],
                                 by=("region", "trust", "team", "municipality", "centrality", "sex"))
    published = publish_everything(by_sex["atoms"], scopes, strata)
    assert published.figures > 80
    assert not published.determined()
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert ("service:kommune-s", "sex", "") in pattern.cube_nodes


def too_large_to_audit(monkeypatch, *, but: set[str]) -> None:
    """Every linked system is too large to audit but one that links no more than ``but``."""
    audit = engine._suppress_cubes

    def too_large(result, cubes, *, linked, **kwargs):  # type: ignore[no-untyped-def]
        if linked - but:
            raise AuditTooLarge("(the test's)")
        return audit(result, cubes, linked=linked, **kwargs)

    monkeypatch.setattr(engine, "_suppress_cubes", too_large)


@pytest.mark.parametrize("linked", [{"service"}, set()])
def test_beyond_the_audit_limit_the_tables_not_linked_are_withheld(by_sex, monkeypatch, caplog, linked):
    # Suppressed one by one, S's table by sex would give its women in trust 2 away (above). Withheld,
    # no table that is not linked adds anything to those that are: the service rows alone linked, or
    # nothing but the hierarchy.
    too_large_to_audit(monkeypatch, but=linked)
    engine._PATTERN_MEMO.clear()
    scopes, strata = every_scope(by_sex["trusts"], ("dps-a", "dps-b", "kommune-s"), by_sex["places"],
                                 by=("region", "trust", "team", "municipality", "centrality", "sex"))
    published = publish_everything(by_sex["atoms"], scopes, strata)
    assert not published.determined()
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert pattern.cubes == linked
    assert "cubes not linked" in caplog.text and ("service rows not linked" in caplog.text) == (not linked)
    for scope in (engine.NATIONAL, engine.Scope("trust", by_sex["trusts"][0]), engine.Scope("unit", "kommune-s")):
        [result] = engine.published(PERIOD, scope, by="sex", indicator_ids=[REJECTION])
        assert result.strata["sex"] and all(r.cell.suppressed for r in result.strata["sex"])
    [country] = engine.published(PERIOD, engine.NATIONAL, by="trust", indicator_ids=[REJECTION])
    assert not any(r.cell.suppressed for r in country.strata["trust"])  # (the hierarchy: linked, shown)
