"""The engine's optimised computation gives the same results as straightforward references.

On a synthetic population (``helhet synth``'s generator) with every indicator available:

- indicators whose rules share a population, computed together in one statement, give exactly the
  results of computing each alone (``engine.SHARE_POPULATIONS = False``, one statement each);
- on PostgreSQL, one GROUPING SETS pass (medians with PERCENTILE_DISC) gives exactly the results of
  the UNION ALL per stratifier that SQLite runs;
- all agree with a reference written here in plain Python: each rule's items (its own SQL, run
  alone), with every stratum attached per item from the ORM and the totals, strata, rates, means,
  medians and quartiles (statistics.quantiles) aggregated in Python; 5a's rejected referrals by
  reason against an ORM count.

Run on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from typing import Any

import pytest
from django.db import connection

from helhet.indicators import engine
from helhet.indicators.definitions import STRATIFIERS, Period, Unit, age_band
from helhet.indicators.rules.base import RULES, Dialect
from helhet.indicators.rules.pathways import SERVING_STATUSES
from helhet.organisations.models import HealthTrust, ServiceUnit
from helhet.pathways.models import EpisodeOfCare
from helhet.persons.models import Person
from helhet.synth.service import generate_population

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 1)
PERIODS = ("2025", "2025-Q4")


@pytest.fixture
def population(refdata):
    generate_population(persons=400, seed=11, today=TODAY, show_progress=False)


def _together_and_alone(period: str, scope: engine.Scope, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    together = engine.evaluate(period, scope, by=STRATIFIERS)
    with monkeypatch.context() as patched:
        patched.setattr(engine, "SHARE_POPULATIONS", False)
        alone = engine.evaluate(period, scope, by=STRATIFIERS)
    return together, alone


def test_shared_populations_give_exactly_the_results_of_one_statement_each(population, monkeypatch):
    definitions = list(engine.definitions().values())
    planned = engine.plan_statements(definitions, Period.parse("2025"), engine.NATIONAL, STRATIFIERS,
                                     Dialect(connection.vendor))
    shared = [s for s in planned if len(s.definitions) > 1]
    # 4a-4c, 3a + 10a, 6a + 6b and each instrument's change / reliable improvement / recovery share.
    assert {"rop-04a-individual-plan-offered", "rop-04b-individual-plan-active", "rop-04c-coordinator"} in [
        {d.id for d in s.definitions} for s in shared]
    assert len(shared) >= 8 and len(planned) < len(definitions) - 10

    trust = HealthTrust.objects.order_by("code").first()
    assert trust is not None
    for period, scope in [*((p, engine.NATIONAL) for p in PERIODS), ("2025", engine.Scope("trust", trust.code))]:
        together, alone = _together_and_alone(period, scope, monkeypatch)
        assert [r.indicator_id for r in together] == [r.indicator_id for r in alone]
        for one, other in zip(together, alone, strict=True):
            assert one == other, (period, scope, one.indicator_id)
        assert all(r.available for r in together), [r.reason for r in together if not r.available]
        if (period, scope) == ("2025", engine.NATIONAL):  # every indicator counts something
            assert [r.indicator_id for r in together if r.denominator == 0] == []


def test_grouping_sets_give_exactly_the_union_all_results(population, monkeypatch):
    """PostgreSQL (and DuckDB) aggregate in one GROUPING SETS pass, medians with PERCENTILE_DISC;
    SQLite with a UNION ALL per stratifier and medians by row numbers: the same results, to the bit."""
    if connection.vendor not in engine.GROUPING_SETS_VENDORS:
        pytest.skip("this database aggregates with UNION ALL only")
    for period in PERIODS:
        one_pass = engine.evaluate(period, by=STRATIFIERS)
        with monkeypatch.context() as patched:
            patched.setattr(engine, "GROUPING_SETS_VENDORS", ())
            assert engine.evaluate(period, by=STRATIFIERS) == one_pass
        medians = [r for r in one_pass if r.indicator.unit in (Unit.MEDIAN_DAYS, Unit.MEDIAN_SCORE)]
        assert len(medians) == 2 and all(r.value is not None for r in medians)


def test_results_match_a_per_item_python_reference(population):
    for period_text in PERIODS:
        period = Period.parse(period_text)
        reference = _Reference(period)
        results = engine.evaluate(period_text, by=STRATIFIERS)
        checked = 0
        for result in results:
            if not result.available:
                continue
            expected = reference.result(result.indicator)
            assert (result.numerator, result.denominator) == expected["total"][:2], result.indicator_id
            _same_value(result.value, expected["total"][2], result.indicator_id)
            assert set(result.strata) == set(result.indicator.stratifiers)
            for name in result.strata:
                got = {s.key: (s.numerator, s.denominator, s.value) for s in result.strata[name]}
                want = expected["strata"][name]
                assert {k: v[:2] for k, v in got.items()} == {k: v[:2] for k, v in want.items()}, (
                    result.indicator_id, name)
                for key, (_n, _d, value) in got.items():
                    _same_value(value, want[key][2], f"{result.indicator_id} {name}={key}")
            checked += result.denominator
            if engine.has_quartiles(result.indicator):
                _same_quartiles(result, reference.values(result.indicator))
        assert checked > 1000  # a real population: thousands of items compared
        _same_reasons(period, {r.indicator_id: r for r in results}["rop-05a-referral-rejection"])


def _same_quartiles(result: Any, values: dict[str, dict[str, list[float]]]) -> None:
    """Total and strata quartiles against statistics.quantiles (inclusive) of the items' values."""
    def expected(found: list[float]) -> tuple[float, float] | None:
        if not found:
            return None
        if len(found) == 1:
            return found[0], found[0]
        q1, _median, q3 = statistics.quantiles(found, n=4, method="inclusive")
        return q1, q3

    def same(got: Any, want: tuple[float, float] | None, where: str) -> None:
        if want is None:
            assert got is None, where
            return
        assert got is not None, where
        assert math.isclose(got.q1, want[0], rel_tol=1e-12) and math.isclose(got.q3, want[1], rel_tol=1e-12), (
            where, got, want)

    same(result.quartiles, expected(values[""][""]), result.indicator_id)
    for name, strata in result.strata.items():
        for stratum in strata:
            same(stratum.quartiles, expected(values[name][stratum.key]), f"{result.indicator_id} {name}")
    assert len(values[""][""]) > 20  # (the synthetic population rates goals)


def _same_reasons(period: Period, result: Any) -> None:
    """5a's rejected referrals by reason against the ORM: the decided referrals of the period."""
    from django.db.models import Count

    from helhet.pathways.models import Referral

    rejected = Referral.objects.filter(status="rejected", assessed_date__gte=period.start,
                                       assessed_date__lte=period.end)
    want = {reason or engine.UNKNOWN: n for reason, n in
            rejected.values_list("rejection_reason").annotate(n=Count("id")).values_list("rejection_reason", "n")}
    got = {row.key: row.count for row in result.breakdowns["rejection_reason"] if row.count}
    assert got == want and sum(want.values()) == result.numerator > 0


def _same_value(got: float | None, expected: float | None, where: str) -> None:
    if expected is None:
        assert got is None, where
    else:
        assert got is not None and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9), (where, got, expected)


class _Reference:
    """Strata and aggregates computed per item in Python, as the engine's docstring defines them."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.dialect = Dialect(connection.vendor)
        self.units = {u.id: u for u in ServiceUnit.objects.all()}
        self.trusts = {t.id: t for t in HealthTrust.objects.select_related("region")}
        self.persons = {p.id: p for p in Person.objects.select_related("municipality", "district")}
        latest: dict[int, tuple[dt.date, int, int]] = {}
        for episode in EpisodeOfCare.objects.filter(status__in=SERVING_STATUSES, start_date__lte=period.end):
            rank = (episode.start_date, episode.id, episode.unit_id)
            if episode.person_id not in latest or rank[:2] > latest[episode.person_id][:2]:
                latest[episode.person_id] = rank
        self.latest_unit = {person_id: rank[2] for person_id, rank in latest.items()}

    def strata(self, person_id: int | None, unit_id: int | None, attributed: bool) -> dict[str, str]:
        person = self.persons.get(person_id) if person_id is not None else None
        if attributed and unit_id is None and person_id is not None:
            unit_id = self.latest_unit.get(person_id)
        unit = self.units.get(unit_id) if unit_id is not None else None
        catchment = None
        if person is not None:
            catchment = (person.district.catchment_trust_id if person.district is not None
                         else person.municipality.catchment_trust_id)
        trust_id = unit.trust_id if unit is not None and unit.trust_id is not None else catchment
        trust = self.trusts.get(trust_id) if trust_id is not None else None
        unknown = engine.UNKNOWN
        if person is None:
            personal = dict.fromkeys(("municipality", "centrality", "sex", "age", "immigrant"), unknown)
        else:
            age = self.period.end.year - person.birth_year
            personal = {
                "municipality": person.municipality_id,
                "centrality": str(person.municipality.centrality_class),
                "sex": person.sex if person.sex is not None else unknown,
                "age": age_band(age) if age >= 0 else unknown,
                "immigrant": person.immigrant_background or unknown,
            }
        return {
            "region": trust.region.code if trust is not None else unknown,
            "trust": trust.code if trust is not None else unknown,
            "team": unit.code if unit is not None else unknown,
            **personal,
        }

    def values(self, definition: Any) -> dict[str, dict[str, list[float]]]:
        """The items' values: the total ("" / "") and per stratifier and stratum."""
        rule = RULES[definition.source_rule]
        items = rule.items(definition, self.period, self.dialect)
        with connection.cursor() as cursor:
            cursor.execute(items.text, items.params)
            rows = cursor.fetchall()
        found: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for person_id, unit_id, _num, val in rows:
            found[""][""].append(float(val))
            for name, key in self.strata(person_id, unit_id, rule.attributes_to_latest_unit).items():
                found[name][key].append(float(val))
        return found

    def result(self, definition: Any) -> dict[str, Any]:
        rule = RULES[definition.source_rule]
        items = rule.items(definition, self.period, self.dialect)
        with connection.cursor() as cursor:
            cursor.execute(items.text, items.params)
            rows = cursor.fetchall()
        groups: dict[str, dict[str, list[tuple[Any, Any]]]] = {name: defaultdict(list) for name in STRATIFIERS}
        for person_id, unit_id, num, val in rows:
            for name, key in self.strata(person_id, unit_id, rule.attributes_to_latest_unit).items():
                groups[name][key].append((num, val))
        return {"total": self._aggregate(definition, [(num, val) for _p, _u, num, val in rows]),
                "strata": {name: {key: self._aggregate(definition, items_) for key, items_ in by_key.items()}
                           for name, by_key in groups.items()}}

    @staticmethod
    def _aggregate(definition: Any, items: list[tuple[Any, Any]]) -> tuple[int | None, int, float | None]:
        n = len(items)
        if definition.is_proportion:
            events = sum(int(num) for num, _val in items)
            return events, n, (events / n if n else None)
        values = [float(val) for _num, val in items if val is not None]
        if not values:
            return None, n, None
        if definition.unit in (Unit.MEDIAN_DAYS, Unit.MEDIAN_SCORE):
            return None, n, statistics.median(values)
        return None, n, math.fsum(values) / len(values)


def test_a_failing_statement_reports_its_own_error_and_leaves_nothing_behind(population, monkeypatch):
    """The run is one transaction: the database's error comes out (not a failure of the clean-up),
    the temporary table goes with the rollback, and the connection works on."""
    from django.db import DatabaseError

    def broken(*args: Any, **kwargs: Any) -> Any:
        from helhet.indicators.rules.base import Sql

        return Sql("SELECT no_such_column FROM no_such_table")

    with monkeypatch.context() as patched:
        patched.setattr(engine, "aggregate_sql", broken)
        with pytest.raises(DatabaseError, match="no_such"):
            engine.evaluate("2025", by=STRATIFIERS)
    tables = connection.introspection.table_names(include_views=False)
    with connection.cursor() as cursor:
        temporary = ("SELECT name FROM sqlite_temp_master" if connection.vendor == "sqlite"
                     else "SELECT relname FROM pg_class WHERE relpersistence = 't'")
        cursor.execute(temporary)
        leftovers = [name for (name,) in cursor.fetchall() if "indicator_person_attributes" in name]
    assert leftovers == [] and not any("indicator_person_attributes" in t for t in tables)
    [again] = engine.evaluate("2025", indicator_ids=["rop-05a-referral-rejection"])
    assert again.available and again.denominator > 0


def test_distinct_on_keeps_the_rows_the_window_ranking_keeps(population, monkeypatch):
    """PostgreSQL (and DuckDB) pick each person's first / latest episode with DISTINCT ON, SQLite with
    ROW_NUMBER: the same rows."""
    from helhet.indicators.rules import pathways

    dialect = Dialect(connection.vendor)
    if dialect.vendor not in pathways.DISTINCT_ON_VENDORS:
        pytest.skip("this database ranks with window functions only")

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return sorted(cursor.fetchall())

    queries = {
        "first": lambda: pathways.first_episodes_sql("1 = 1", dialect=dialect),
        "latest": lambda: pathways.latest_units_sql(dialect, dt.date(2025, 6, 30)),
    }
    for name, query in queries.items():
        distinct_on = rows(query())
        with monkeypatch.context() as patched:
            patched.setattr(pathways, "DISTINCT_ON_VENDORS", ())
            ranked = rows(query())
        assert distinct_on == ranked and len(ranked) > 200, name
