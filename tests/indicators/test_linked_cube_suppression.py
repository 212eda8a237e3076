"""Suppression linked across levels within stratifications: sex (and age band, immigrant background)
and 5a's reasons, trust by trust and unit by unit (engine.linked_pattern's cubes).

A trust holds units A and B. Decided referrals in 2025 (rejected of all):

    sex      A        B        trust
    female   1 / 3    5 / 10   6 / 13
    male     10 / 20  5 / 10   15 / 30

Table by table, A's table by sex hides both rows (3 is small, and then its complement) while the
trust's and B's show their female rows: A's women = 6/13 - 5/10 = 1/3. Linked, B's female row (and
with it B's male row) is hidden too, and the trust's stays shown.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Hashable

import pytest
from django.core.management import call_command

from helhet.indicators import engine
from helhet.indicators.models import IndicatorSnapshot
from helhet.indicators.suppression import Cell, LinkedCells, LinkedRelation, determined_cells
from helhet.organisations.models import HealthTrust, ServiceUnit, UnitKind
from tests.indicators.published_audit import PERIOD, REJECTION, per_table, refer, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def trust_by_sex(builders):
    trust = HealthTrust.objects.select_related("region").order_by("code").first()
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust)
    refer(builders, a, 3, 1, sex="female")
    refer(builders, a, 20, 10, sex="male")
    refer(builders, b, 10, 5, sex="female")
    refer(builders, b, 10, 5, sex="male")
    return trust


def one(scope: engine.Scope, by: str | None = None, **kwargs) -> engine.PublishedResult:
    [result] = engine.published(PERIOD, scope, by=by, indicator_ids=[REJECTION], **kwargs)
    return result




def test_per_table_suppression_alone_would_give_a_units_women_away(trust_by_sex):
    trust, a, b = (engine.Scope("trust", trust_by_sex.code), engine.Scope("unit", "dps-a"),
                   engine.Scope("unit", "dps-b"))
    assert row(per_table(a, "sex"), "sex", "female").suppressed
    trust_female, b_female = row(per_table(trust, "sex"), "sex", "female"), row(per_table(b, "sex"), "sex", "female")
    assert (trust_female.numerator - b_female.numerator, trust_female.denominator - b_female.denominator) == (1, 3)


@pytest.mark.parametrize("cached", [False, True])
def test_linked_the_subtraction_has_a_hidden_term_at_every_level(trust_by_sex, cached):
    trust = trust_by_sex
    a, b = one(engine.Scope("unit", "dps-a"), "sex", cached=cached), one(engine.Scope("unit", "dps-b"), "sex",
                                                                          cached=cached)
    by_trust = one(engine.Scope("trust", trust.code), "sex", cached=cached)
    # A's women stay hidden on A's page, and B's women (the other term of the subtraction) on B's.
    assert row(a, "sex", "female").suppressed and row(a, "sex", "male").suppressed
    assert row(b, "sex", "female").reason == "complementary" and row(b, "sex", "male").suppressed
    # The totals and the trust's table are untouched: 6/13 and 15/30 are safe to show.
    assert not a.total.suppressed and not b.total.suppressed
    shown = row(by_trust, "sex", "female")
    assert (shown.numerator, shown.denominator) == (6, 13)
    # The region and the country have no other trust with referrals: the same rows, shown.
    for scope in (engine.Scope("region", trust.region.code), engine.NATIONAL):
        assert (row(one(scope, "sex", cached=cached), "sex", "female").denominator) == 13


def test_other_stratifications_of_the_same_scopes_are_linked_too(trust_by_sex):
    # Age band and immigrant background are cubes of the same pattern; each unit's table hides what
    # the pattern hides for the unit's node, and whatever else its own one-way rule needs.
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert {"sex", "age", "immigrant", "breakdown"} <= pattern.cubes
    for by in ("age", "immigrant"):
        for code in ("dps-a", "dps-b"):
            result = one(engine.Scope("unit", code), by)
            hidden = {r.stratum for r in result.strata[by] if r.cell.suppressed}
            assert {key for node, name, key in pattern.cube_hidden if node == f"team:{code}" and name == by} <= hidden
            assert all(r.cell.denominator >= 5 for r in result.strata[by] if not r.cell.suppressed)


@pytest.fixture
def trust_by_reason(builders):
    """A: 10 rejected of 20 (8 wrong level, 2 other); B: 25 of 35 (6 wrong level, 9 other, 10 no right)."""
    trust = HealthTrust.objects.select_related("region").order_by("code").first()
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust)
    refer(builders, a, 20, 10, reasons=["wrong_level"] * 8 + ["other"] * 2)
    refer(builders, b, 35, 25, reasons=["wrong_level"] * 6 + ["other"] * 9 + ["no_right"] * 10)
    return trust


def reasons(result: engine.PublishedResult) -> dict[str, int | None]:
    return {r.key: r.count for r in result.breakdowns["rejection_reason"].rows}


def test_per_table_the_trusts_reasons_less_bs_gave_as_other_reason_away(trust_by_reason):
    [a_raw] = engine.evaluate(PERIOD, engine.Scope("unit", "dps-a"), indicator_ids=[REJECTION])
    [b_raw] = engine.evaluate(PERIOD, engine.Scope("unit", "dps-b"), indicator_ids=[REJECTION])
    [trust_raw] = engine.evaluate(PERIOD, engine.Scope("trust", trust_by_reason.code), indicator_ids=[REJECTION])
    a, b, trust = (reasons(engine.publish_result(r)) for r in (a_raw, b_raw, trust_raw))
    assert a["other"] is None and a["wrong_level"] is None
    assert trust["other"] is not None and b["other"] is not None
    assert trust["other"] - b["other"] == 2  # A's "other": 11 - 9


@pytest.mark.parametrize("cached", [False, True])
def test_linked_bs_reasons_are_hidden_and_the_trusts_shown(trust_by_reason, cached):
    a = one(engine.Scope("unit", "dps-a"), cached=cached)
    b = one(engine.Scope("unit", "dps-b"), cached=cached)
    trust = one(engine.Scope("trust", trust_by_reason.code), cached=cached)
    assert reasons(a)["other"] is None and reasons(a)["wrong_level"] is None
    assert reasons(b)["other"] is None and reasons(b)["wrong_level"] is None
    assert (reasons(trust)["other"], reasons(trust)["wrong_level"]) == (11, 14)
    assert (a.total.numerator, b.total.numerator, trust.total.numerator) == (10, 25, 35)


def test_cli_and_cube_names_are_internal(trust_by_sex):
    out = io.StringIO()
    call_command("indicators", "--period", PERIOD, "--scope", "unit:dps-b", "--by", "sex",
                 "--indicator", REJECTION, "--format", "json", stdout=out)
    rows = {(r["stratifier"], r["stratum"]): r for r in json.loads(out.getvalue()) if r["table"] == "indicator"}
    assert rows[("sex", "female")]["suppressed"] is True and rows[("sex", "female")]["numerator"] is None
    assert not any(stratifier.startswith("cube:") for stratifier, _stratum in rows)
    with pytest.raises(engine.IndicatorError):
        engine.published(PERIOD, engine.NATIONAL, by="cube:sex", indicator_ids=[REJECTION])


def test_beyond_the_audit_limit_the_cube_is_not_linked_its_tables_are_withheld_and_that_is_logged(
        trust_by_sex, monkeypatch, caplog):
    # The documented fallback (engine.CUBE_AUDIT_LIMIT, with the finest cells ATOM_AUDIT_LIMIT): B's
    # table by sex, suppressed on its own, would show both rows (A's women = the trust's less B's);
    # not linked, it is withheld.
    monkeypatch.setattr(engine, "CUBE_AUDIT_LIMIT", 1)
    monkeypatch.setattr(engine, "ATOM_AUDIT_LIMIT", 1)
    engine._PATTERN_MEMO.clear()
    b = one(engine.Scope("unit", "dps-b"), "sex")
    assert not row(per_table(engine.Scope("unit", "dps-b"), "sex"), "sex", "female").suppressed
    assert row(b, "sex", "female").suppressed and row(b, "sex", "male").suppressed
    assert b.total.numerator == 10
    assert "cubes not linked" in caplog.text


def test_beyond_the_limit_of_the_finest_cells_the_cubes_are_linked_without_them(trust_by_sex, monkeypatch, caplog):
    # (engine.ATOM_AUDIT_LIMIT) The next attempt, the place cubes without the finest cells, links the same tables.
    linked = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    monkeypatch.setattr(engine, "ATOM_AUDIT_LIMIT", 1)
    engine._PATTERN_MEMO.clear()
    [raw] = engine.evaluate(PERIOD, engine.NATIONAL, (*engine.LINKED_STRATIFIERS, *engine.CUBES), [REJECTION])
    without = engine.linked_pattern(raw, engine.load_register(), engine.DEFAULT_THRESHOLD)
    assert "three-way cells not linked" in caplog.text
    assert "finest" in linked.cubes and without.cubes == linked.cubes - {"finest"}


def test_a_pattern_is_worked_out_once_for_every_worker_and_goes_with_its_result(trust_by_sex, builders, monkeypatch):
    """Stored with the national result: another worker (an empty process memo) reads it back, the same."""
    [worked_out] = engine.linked_patterns(PERIOD, [REJECTION]).values()
    assert worked_out.cubes >= {"sex"} and worked_out.cube_hidden
    monkeypatch.setattr(engine, "_PATTERN_MEMO", {})

    def must_not_compute(*args, **kwargs):
        raise AssertionError("a stored pattern was worked out again")

    with monkeypatch.context() as patched:
        patched.setattr(engine, "linked_pattern", must_not_compute)
        [read_back] = engine.linked_patterns(PERIOD, [REJECTION]).values()
    assert read_back == worked_out
    # Another threshold is another pattern; a new national result (new data) starts without one.
    engine.linked_patterns(PERIOD, [REJECTION], threshold=3)
    [stored] = IndicatorSnapshot.objects.filter(indicator_id=REJECTION, period=PERIOD, scope="national").values_list(
        "patterns", flat=True)
    register = engine.load_register()
    assert sorted(stored) == sorted(engine.pattern_key(threshold, register) for threshold in (3, 5))
    refer(builders, ServiceUnit.objects.get(code="dps-a"), 1, 1)
    monkeypatch.setattr(engine, "_PATTERN_MEMO", {})
    [fresh] = engine.linked_patterns(PERIOD, [REJECTION], max_age=dt.timedelta(0)).values()
    assert fresh.computed_at != worked_out.computed_at
    [stored] = IndicatorSnapshot.objects.filter(indicator_id=REJECTION, period=PERIOD, scope="national").values_list(
        "patterns", flat=True)
    assert list(stored) == [engine.pattern_key(5, engine.load_register())]


def test_a_pattern_stored_by_another_version_of_the_suppression_is_worked_out_again(trust_by_sex, monkeypatch):
    # After an upgrade that hides differently, the stored patterns are not read back (PATTERN_VERSION).
    [worked_out] = engine.linked_patterns(PERIOD, [REJECTION]).values()
    snapshot = IndicatorSnapshot.objects.get(indicator_id=REJECTION, period=PERIOD, scope="national")
    [(key, data)] = snapshot.patterns.items()
    monkeypatch.setattr(engine, "PATTERN_VERSION", engine.PATTERN_VERSION + 1)
    monkeypatch.setattr(engine, "_PATTERN_MEMO", {})
    computed = []
    original = engine.linked_pattern
    monkeypatch.setattr(engine, "linked_pattern", lambda *args: computed.append(args) or original(*args))
    [again] = engine.linked_patterns(PERIOD, [REJECTION]).values()
    assert len(computed) == 1 and again == worked_out
    snapshot.refresh_from_db()
    assert snapshot.patterns[key] == data and engine.pattern_key(5, engine.load_register()) in snapshot.patterns


def test_an_empty_stratum_is_a_known_0_and_protects_nothing(builders):
    # A table has no row for a stratum without referrals, so a reader knows it is 0. The trust's
    # units: A (men 2/3 rejected, unknown sex 1/1), B (women 6/10, unknown 0/2), C (men 3/8). Had the
    # audit let A's, B's and C's empty rows move, it would show the trust's total, B's total and
    # the trust's men: A's unknown = the trust less B's total, less the trust's men, = 1 of 1.
    trust = HealthTrust.objects.select_related("region").order_by("code").first()
    units = {code: builders.make_unit(UnitKind.DPS, code=code, trust=trust) for code in ("dps-a", "dps-b", "dps-c")}
    refer(builders, units["dps-a"], 3, 2, sex="male")
    refer(builders, units["dps-a"], 1, 1, sex="unknown")
    refer(builders, units["dps-b"], 10, 6, sex="female")
    refer(builders, units["dps-b"], 2, 0, sex="unknown")
    refer(builders, units["dps-c"], 8, 3, sex="male")
    scopes = [engine.Scope("trust", trust.code), *(engine.Scope("unit", code) for code in units)]
    cells: dict[Hashable, Cell] = {}
    relations: list[LinkedRelation] = []
    hidden: set[Hashable] = set()
    for scope in scopes:
        [raw] = engine.evaluate(PERIOD, scope, by="sex", indicator_ids=[REJECTION])
        published = one(scope, "sex")
        cells[scope.code] = Cell(raw.numerator, raw.denominator)
        hidden |= {scope.code} if published.total.suppressed else set()
        for stratum in raw.strata["sex"]:  # (the rows there are)
            cells[(scope.code, stratum.key)] = Cell(stratum.numerator, stratum.denominator)
            hidden |= {(scope.code, stratum.key)} if row(published, "sex", stratum.key).suppressed else set()
        relations.append(LinkedRelation(scope.code, tuple(key for key in cells if key[:1] == (scope.code,)
                                                           and isinstance(key, tuple))))
    relations.append(LinkedRelation(trust.code, tuple(units)))
    for sex in ("female", "male", "unknown"):
        relations.append(LinkedRelation((trust.code, sex), tuple((code, sex) for code in units if (code, sex) in cells)))
    assert ("dps-a", "unknown") in hidden
    assert determined_cells(LinkedCells(cells, relations), hidden) == set()


def test_a_reason_outside_the_definition_is_a_known_0_where_it_has_no_row(builders):
    # The reasons table lists the declared reasons and "unknown" even at 0, so there a 0 is a hidden count;
    # a code outside the definition is a row only where it counts something, and elsewhere a known 0.
    trust = HealthTrust.objects.select_related("region").order_by("code").first()
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust)
    refer(builders, a, 20, 10, reasons=["wrong_level"] * 7 + ["legacy_code"] * 3)
    refer(builders, b, 30, 12, reasons=["wrong_level"] * 8 + ["other"] * 4)
    assert "legacy_code" in reasons(one(engine.Scope("unit", "dps-a")))
    assert "legacy_code" not in reasons(one(engine.Scope("unit", "dps-b")))
    assert reasons(one(engine.Scope("unit", "dps-a")))["other"] is None  # a row, 0: hidden
    pattern = engine.linked_patterns(PERIOD, [REJECTION])[REJECTION]
    assert "breakdown" in pattern.cubes
    assert ("team:dps-a", "breakdown", "legacy_code") in pattern.cube_hidden  # 3: small
    assert ("team:dps-a", "breakdown", "other") in pattern.cube_hidden  # a hidden 0 the audit may move
    assert ("team:dps-b", "breakdown", "legacy_code") not in pattern.cube_hidden  # no row: a known 0
