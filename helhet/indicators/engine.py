"""The indicator engine: definitions (data) + rules (set-based SQL) -> results, raw or published.

Public API (stable; dashboards, exports, reports, the CLI and FHIR call only these):

``Scope(level, code)``
    Where results are computed: ``national`` (code ""), ``region`` (HealthRegion.code),
    ``trust`` (HealthTrust.code), ``municipality`` (Municipality.number) or ``unit``
    (ServiceUnit.code). ``Scope.parse("unit:dps-oslo")`` reads the ``level:code`` form;
    ``resolve_scope`` checks the code and gives its display name.

``evaluate(period, scope=NATIONAL, by=None, indicator_ids=None) -> list[IndicatorResult]``
    RAW counts, one result per indicator in id order: numerator, denominator, value
    (the rate for proportions, the median or mean otherwise) and, for each stratifier in
    ``by`` the indicator supports, one ``Stratum`` per stratum value (persons without a
    value form the "unknown" stratum, so strata add up to the total). Indicators whose
    data model is not installed, or whose data has never been recorded, come back with
    ``available=False`` and ``reason``; never with made-up numbers. Raw results are for
    internal use only (tests, the cache, ``persons_behind``): anything leaving the
    product goes through ``published``.

``evaluate(..., cached=True, max_age=24 h)`` / ``published(..., cached=True)``
    Use stored snapshots (models.IndicatorSnapshot) younger than ``max_age``; compute and
    store the missing ones. ``forget_snapshots()`` deletes them all.

``published(period, scope=NATIONAL, by=None, indicator_ids=None, threshold=5) -> list[PublishedResult]``
    The same, after small-cell and complementary suppression (suppression.py) of the
    total and of every stratification table: callers that publish never see a small
    cell. Team-counting indicators (fidelity) are not about persons and are not suppressed.

``persons_behind(user, indicator_id, period, scope, which="numerator") -> list[Person]``
    The persons behind a number (``which`` = "numerator" or "denominator"), limited to
    those the user has a care relationship with (``access.visible_persons``), and the
    list is audited (``access.audit_person_list``). Analysts, administrators and
    service users get ``AccessDenied``: they never get person lists.

``trend(indicator_id, periods, scope=NATIONAL, threshold=5) -> list[PublishedResult]``
    One published result (no strata) per period, in the order given.

``IndicatorError``
    Unknown indicator, period, scope level or code, or stratifier; the message lists
    the valid values and ``.valid`` holds them.

Computation: each rule writes the SQL selecting its counted items (rules/); the
engine wraps it in a single statement that attaches every stratum and aggregates the
total and all requested stratifications: on PostgreSQL and DuckDB in one GROUPING SETS
pass (medians as the mean of the lower and upper PERCENTILE_DISC), on SQLite with UNION
ALL over one materialised CTE (medians with window functions); the same rows either
way. Indicators whose rules share a population (rules.base.Shared: 4a-4c, 3a + 10a,
6a + 6b, each instrument's change / reliable improvement / recovery) are computed in one
statement: one scan, one join of the strata, one aggregation with a count, numerator
and statistic per indicator (``plan_statements``; the benchmark runs the same statements
on DuckDB). A run is one transaction (``analytic_session``); on PostgreSQL with JIT
compilation off and a larger work_mem for it. Person strata (municipality,
centrality, sex, age band in the period's last year, immigrant background, catchment
trust) and each person's latest serving unit are worked out once per call into a
temporary table. Strata: team is the unit the item belongs to (the episode's,
referral's or admission's unit; for person-level indicators the latest serving unit on
the period's last day); trust is that unit's trust, else the person's catchment trust;
region is the trust's. The same SQL runs on SQLite, PostgreSQL and (for the benchmark)
DuckDB; no Python loop touches persons.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from helhet.indicators import rules as _rules  # noqa: F401  (registers the rules)
from helhet.indicators.definitions import (
    AGE_BANDS,
    STRATIFIERS,
    IndicatorDefinition,
    Period,
    PeriodError,
    Unit,
    age_band,
    load_indicators,
)
from helhet.indicators.rules.base import RULES, Dialect, Shared, Sql, table
from helhet.indicators.rules.pathways import latest_units_sql
from helhet.indicators.suppression import (
    DEFAULT_THRESHOLD,
    Cell,
    PublishedCell,
    PublishedRow,
    Table,
    suppress_small_cells,
)

SCOPE_LEVELS = ("national", "region", "trust", "municipality", "unit")
UNKNOWN = "unknown"  # the stratum of items without a value for a stratifier
WHICH = ("numerator", "denominator")
SNAPSHOT_MAX_AGE = dt.timedelta(hours=24)  # stored results older than this are computed again
ANALYTIC_WORK_MEM = "64MB"  # PostgreSQL work_mem while computing indicators (see analytic_session)
GROUPING_SETS_VENDORS = ("postgresql", "duckdb")  # aggregate all stratifications in one pass
# Indicators whose rules share a population are computed together (one statement per population);
# False computes each alone (the reference the equivalence test compares with).
SHARE_POPULATIONS = True


class IndicatorError(ValueError):
    """Bad input to the engine; the message lists the valid values (also in ``valid``)."""

    def __init__(self, message: str, valid: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.valid = tuple(valid)


@dataclass(frozen=True)
class Scope:
    level: str = "national"
    code: str = ""

    def __str__(self) -> str:
        return "national" if self.level == "national" else f"{self.level}:{self.code}"

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``national``, or ``level:code`` such as ``trust:ahus`` or ``unit:dps-x``."""
        raw = (text or "").strip()
        if raw in ("", "national"):
            return NATIONAL
        level, sep, code = raw.partition(":")
        if not sep or level not in SCOPE_LEVELS[1:] or not code:
            raise IndicatorError(
                f"{text!r} is not a scope; use 'national' or LEVEL:CODE with LEVEL one of "
                f"{', '.join(SCOPE_LEVELS[1:])}",
                SCOPE_LEVELS,
            )
        return cls(level, code)


NATIONAL = Scope()


@dataclass(frozen=True)
class Stratum:
    stratifier: str
    key: str  # the stratum's code: region/trust code, municipality number, unit code, "1".."6", "female", "18-24"
    label: str  # its display name
    numerator: int | None
    denominator: int
    value: float | None  # rate for proportions, statistic otherwise

    @property
    def cell(self) -> Cell:
        return Cell(self.numerator, self.denominator, None if self.numerator is not None else self.value)


@dataclass(frozen=True)
class IndicatorResult:
    """Raw (unsuppressed) result of one indicator for one period and scope."""

    indicator: IndicatorDefinition
    period: Period
    scope: Scope
    available: bool
    reason: str = ""  # why not available
    numerator: int | None = None  # None for statistic indicators
    denominator: int = 0
    value: float | None = None  # the rate (proportions) or the median / mean
    strata: dict[str, tuple[Stratum, ...]] = field(default_factory=dict)

    @property
    def indicator_id(self) -> str:
        return self.indicator.id

    @property
    def rate(self) -> float | None:
        return self.value if self.indicator.is_proportion else None

    @property
    def cell(self) -> Cell:
        return Cell(self.numerator, self.denominator, None if self.numerator is not None else self.value)


@dataclass(frozen=True)
class PublishedResult:
    """What may leave the product: the total and strata after suppression (no person data)."""

    indicator: IndicatorDefinition
    period: Period
    scope: Scope
    available: bool
    reason: str
    total: PublishedCell
    strata: dict[str, tuple[PublishedRow, ...]]
    labels: dict[str, dict[str, str]]  # stratifier -> stratum key -> display name
    threshold: int

    @property
    def indicator_id(self) -> str:
        return self.indicator.id

    @property
    def value(self) -> float | None:
        """The shown rate or statistic (None when suppressed or not available)."""
        if self.total.suppressed:
            return None
        return self.total.rate if self.indicator.is_proportion else self.total.value


# ---------------------------------------------------------------------------
# Validation of input


@cache
def definitions() -> dict[str, IndicatorDefinition]:
    return load_indicators()


def get_definition(indicator_id: str) -> IndicatorDefinition:
    found = definitions().get(indicator_id)
    if found is None:
        valid = list(definitions())
        raise IndicatorError(f"unknown indicator {indicator_id!r}; valid: {', '.join(valid)}", valid)
    return found


def parse_period(period: Period | str) -> Period:
    if isinstance(period, Period):
        return period
    try:
        return Period.parse(period)
    except PeriodError as exc:
        raise IndicatorError(str(exc)) from None


def parse_stratifiers(by: str | Iterable[str] | None) -> tuple[str, ...]:
    if by is None:
        return ()
    names = [by] if isinstance(by, str) else list(by)
    if names == ["all"]:
        return STRATIFIERS
    wrong = [name for name in names if name not in STRATIFIERS]
    if wrong:
        raise IndicatorError(
            f"unknown stratifier {', '.join(map(repr, wrong))}; valid: {', '.join(STRATIFIERS)}", STRATIFIERS
        )
    return tuple(dict.fromkeys(names))


def resolve_scope(scope: Scope) -> str:
    """The display name of the scope; IndicatorError (listing valid codes) when it does not exist."""
    from helhet.organisations.models import HealthRegion, HealthTrust, Municipality, ServiceUnit

    if scope.level == "national":
        return "Norway"
    queries: dict[str, tuple[QuerySet[Any], str]] = {
        "region": (HealthRegion.objects.all(), "code"),
        "trust": (HealthTrust.objects.all(), "code"),
        "municipality": (Municipality.objects.all(), "number"),
        "unit": (ServiceUnit.objects.all(), "code"),
    }
    if scope.level not in queries:
        raise IndicatorError(f"unknown scope level {scope.level!r}; valid: {', '.join(SCOPE_LEVELS)}", SCOPE_LEVELS)
    queryset, key = queries[scope.level]
    found = queryset.filter(**{key: scope.code}).first()
    if found is None:
        valid = list(queryset.order_by(key).values_list(key, flat=True))
        shown = ", ".join(valid[:60]) + (f", ... ({len(valid)} in all)" if len(valid) > 60 else "")
        raise IndicatorError(f"unknown {scope.level} {scope.code!r}; valid: {shown}", valid)
    return str(found.name)


def _selected(indicator_ids: Iterable[str] | None) -> list[IndicatorDefinition]:
    if indicator_ids is None:
        return list(definitions().values())
    return [get_definition(i) for i in indicator_ids]


# ---------------------------------------------------------------------------
# SQL: strata attached to the rule's items, aggregated per stratifier


def _age_case(year: int) -> str:
    """CASE expression for the age band of the age reached in the period's last year."""
    floors = []
    for band in AGE_BANDS:
        floor = 0 if band.startswith("<") else int(band.rstrip("+").split("-")[0])
        assert age_band(floor) == band  # the bands here are the bands in definitions.py
        floors.append((floor, band))
    whens = " ".join(
        f"WHEN {int(year)} - p.birth_year >= {floor} THEN '{band}'" for floor, band in sorted(floors, reverse=True)
    )
    return f"CASE WHEN p.birth_year IS NULL THEN '{UNKNOWN}' {whens} ELSE '{UNKNOWN}' END"


def person_attributes_sql(dialect: Dialect, period: Period, *, latest_unit: bool) -> str:
    """SQL: one row per person with the person's strata (and latest serving unit on the last day)."""
    latest_join = f"LEFT JOIN ({latest_units_sql(dialect, period.end)}) lu ON lu.person_id = p.id"
    return f"""
        SELECT p.id AS person_id, p.municipality_id AS municipality,
            CAST(m.centrality_class AS VARCHAR(2)) AS centrality, p.sex AS sex,
            {_age_case(period.end.year)} AS age, p.immigrant_background AS immigrant,
            COALESCE(d.catchment_trust_id, m.catchment_trust_id) AS catchment_trust_id,
            {'lu.unit_id' if latest_unit else 'CAST(NULL AS BIGINT)'} AS latest_unit_id
        FROM {table('persons', 'Person')} p
        LEFT JOIN {table('organisations', 'Municipality')} m ON m.number = p.municipality_id
        LEFT JOIN {table('organisations', 'CatchmentDistrict')} d ON d.id = p.district_id
        {latest_join if latest_unit else ''}"""


def strata_sql(definition: IndicatorDefinition, period: Period, scope: Scope, dialect: Dialect) -> Sql:
    """The rule's items with one column per stratifier, filtered to the scope (the body of a CTE)."""
    rule = RULES[definition.source_rule]
    items = rule.items(definition, period, dialect)
    return _with_strata(items, "i.num AS num, i.val AS val", rule.attributes_to_latest_unit, period, scope, dialect)


def _with_strata(items: Sql, columns: str, attributed: bool, period: Period, scope: Scope, dialect: Dialect) -> Sql:
    """``columns`` of the ``items`` (alias i) with the person and one column per stratifier, in the scope."""
    persons = dialect.person_attributes or f"({person_attributes_sql(dialect, period, latest_unit=attributed)})"
    unit = "COALESCE(i.unit_id, ps.latest_unit_id)" if attributed else "i.unit_id"
    text = f"""
        SELECT i.person_id AS person_id, {columns},
            COALESCE(r.code, '{UNKNOWN}') AS region,
            COALESCE(t.code, '{UNKNOWN}') AS trust,
            COALESCE(ps.municipality, '{UNKNOWN}') AS municipality,
            COALESCE(u.code, '{UNKNOWN}') AS team,
            COALESCE(ps.centrality, '{UNKNOWN}') AS centrality,
            COALESCE(ps.sex, '{UNKNOWN}') AS sex,
            COALESCE(ps.age, '{UNKNOWN}') AS age,
            COALESCE(ps.immigrant, '{UNKNOWN}') AS immigrant
        FROM ({items.text}) i
        LEFT JOIN {persons} ps ON ps.person_id = i.person_id
        LEFT JOIN {table('organisations', 'ServiceUnit')} u ON u.id = {unit}
        LEFT JOIN {table('organisations', 'HealthTrust')} t ON t.id = COALESCE(u.trust_id, ps.catchment_trust_id)
        LEFT JOIN {table('organisations', 'HealthRegion')} r ON r.id = t.region_id
    """
    params: list[Any] = list(items.params)
    column = {"region": "r.code", "trust": "t.code", "municipality": "ps.municipality", "unit": "u.code"}
    if scope.level != "national":
        text += f" WHERE {column[scope.level]} = %s"
        params.append(scope.code)
    return Sql(text, tuple(params))


def shared_aggregate_sql(definitions: Sequence[IndicatorDefinition], period: Period, scope: Scope,
                         by: Sequence[str], dialect: Dialect) -> Sql:
    """One statement for indicators sharing a population (see rules.base.Shared): rows (stratifier,
    stratum, then denominator, numerator and statistic of each indicator in order); stratifier '' is
    the total. A stratum row may have a denominator of 0 for an indicator whose items are not in it.
    The indicators must not be medians, and their rules must agree on ``attributes_to_latest_unit``."""
    parts = [_shared_part(d, period, dialect) for d in definitions]
    population = parts[0].population
    assert all(part.population == population for part in parts), "the indicators do not share a population"
    attributed = {RULES[d.source_rule].attributes_to_latest_unit for d in definitions}
    assert len(attributed) == 1, "the indicators attribute items to units differently"
    selected: list[str] = []
    params: list[Any] = []
    for k, part in enumerate(parts):
        member = part.member.text or "1 = 1"
        selected.append(f"CASE WHEN {member} THEN 1 ELSE 0 END AS m_{k}, "
                        f"CASE WHEN {member} THEN {part.num.text} END AS num_{k}, "
                        f"CASE WHEN {member} THEN {part.val.text} END AS val_{k}")
        params += [*part.member.params, *part.member.params, *part.num.params, *part.member.params,
                   *part.val.params]
    items = Sql(f"SELECT x.person_id AS person_id, x.unit_id AS unit_id, {', '.join(selected)} "
                f"FROM ({population.text}) x", (*params, *population.params))
    columns = ", ".join(f"i.m_{k} AS m_{k}, i.num_{k} AS num_{k}, i.val_{k} AS val_{k}" for k in range(len(parts)))
    body = _with_strata(items, columns, attributed.pop(), period, scope, dialect)
    aggregates = ", ".join(
        f"SUM(m_{k}) AS n_{k}, " + (f"SUM(num_{k}) AS events_{k}, NULL AS stat_{k}" if d.is_proportion
                                    else f"NULL AS events_{k}, AVG({dialect.real(f'val_{k}')}) AS stat_{k}")
        for k, d in enumerate(definitions))
    if by and dialect.vendor in GROUPING_SETS_VENDORS:
        which = " ".join(f"WHEN GROUPING({name}) = 0 THEN '{name}'" for name in by)
        text = (f"SELECT CASE {which} ELSE '' END AS stratifier, COALESCE({', '.join(by)}, '') AS stratum, "
                f"{aggregates} FROM ({body.text}) items "
                f"GROUP BY GROUPING SETS ((), {', '.join(f'({name})' for name in by)})")
        return Sql(text, body.params)
    selects = [f"SELECT '{name}' AS stratifier, {name or chr(39) * 2} AS stratum, {aggregates} FROM items"
               + (f" GROUP BY {name}" if name else "") for name in ("", *by)]
    return Sql(f"WITH items AS MATERIALIZED ({body.text}) " + " UNION ALL ".join(selects), body.params)


def _shared_part(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Shared:
    shared = RULES[definition.source_rule].shared
    assert shared is not None, f"{definition.id}: its rule has no shared population"
    return shared(definition, period, dialect)


def aggregate_sql(definition: IndicatorDefinition, period: Period, scope: Scope, by: Sequence[str],
                  dialect: Dialect) -> Sql:
    """One statement: rows (stratifier, stratum, denominator, numerator, statistic); stratifier '' is the total."""
    body = strata_sql(definition, period, scope, dialect)
    median = definition.unit in (Unit.MEDIAN_DAYS, Unit.MEDIAN_SCORE)
    if by and dialect.vendor in GROUPING_SETS_VENDORS:
        # One pass over the items for the total and every stratification (GROUPING SETS; SQLite lacks
        # them and gets the UNION ALL below, which gives the same rows). Strata are never NULL.
        which = " ".join(f"WHEN GROUPING({name}) = 0 THEN '{name}'" for name in by)
        events = "SUM(num)" if definition.is_proportion else "NULL"
        stat = "NULL" if definition.is_proportion else f"AVG({dialect.real('val')})"
        if median:
            # The lower middle value (ascending) and the upper one (the lower middle descending): the
            # middle value twice for an odd count. (a + b) / 2 is, to the bit, what the AVG of the two
            # middle values in the UNION ALL path below computes. (Rules never give a median
            # indicator a NULL value; PERCENTILE_DISC would skip it, the row numbers below would not.)
            value = dialect.real("val")
            stat = (f"(PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY {value}) "
                    f"+ PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY {value} DESC)) / 2")
        text = (f"SELECT CASE {which} ELSE '' END AS stratifier, COALESCE({', '.join(by)}, '') AS stratum, "
                f"COUNT(*) AS n, {events} AS events, {stat} AS stat FROM ({body.text}) items "
                f"GROUP BY GROUPING SETS ((), {', '.join(f'({name})' for name in by)})")
        return Sql(text, body.params)
    parts: list[str] = []
    for name in ("", *by):
        stratum = name or "''"
        group = f" GROUP BY {name}" if name else ""
        if median:
            # The median: the middle value, or the mean of the two middle values (window functions).
            window = f"PARTITION BY {name}" if name else ""
            parts.append(f"""
                SELECT '{name}' AS stratifier, {stratum} AS stratum, COUNT(*) AS n, NULL AS events,
                    AVG(CASE WHEN rn IN ((c + 1) / 2, (c + 2) / 2) THEN {dialect.real('val')} END) AS stat
                FROM (SELECT {name + ', ' if name else ''}val,
                        ROW_NUMBER() OVER ({window} ORDER BY val) AS rn, COUNT(*) OVER ({window}) AS c
                      FROM items) ranked{group}""")
        elif definition.is_proportion:
            parts.append(f"""
                SELECT '{name}' AS stratifier, {stratum} AS stratum, COUNT(*) AS n, SUM(num) AS events,
                    NULL AS stat
                FROM items{group}""")
        else:
            parts.append(f"""
                SELECT '{name}' AS stratifier, {stratum} AS stratum, COUNT(*) AS n, NULL AS events,
                    AVG({dialect.real('val')}) AS stat
                FROM items{group}""")
    text = f"WITH items AS MATERIALIZED ({body.text}) " + " UNION ALL ".join(parts)
    return Sql(text, body.params)


def _dialect() -> Dialect:
    return Dialect(connection.vendor)


def _unavailable_reason(definition: IndicatorDefinition, dialect: Dialect) -> str | None:
    rule = RULES.get(definition.source_rule)
    if rule is None:
        return f"the computation {definition.source_rule!r} is not implemented yet"
    missing = rule.missing_model()
    if missing is not None:
        return f"the data model {missing} is not installed yet"
    if rule.data_present is not None:
        probe = rule.data_present(definition, dialect)
        with connection.cursor() as cursor:
            cursor.execute(probe.text, probe.params)
            if cursor.fetchone() is None:
                return rule.missing_data_reason
    return None


def _labels(by: Sequence[str]) -> dict[str, dict[str, str]]:
    from helhet.organisations.models import HealthRegion, HealthTrust, Municipality, ServiceUnit
    from helhet.persons.models import ImmigrantBackground, Sex

    labels: dict[str, dict[str, str]] = {}
    for name in by:
        if name == "region":
            labels[name] = dict(HealthRegion.objects.values_list("code", "name"))
        elif name == "trust":
            labels[name] = dict(HealthTrust.objects.values_list("code", "name"))
        elif name == "municipality":
            labels[name] = dict(Municipality.objects.values_list("number", "name"))
        elif name == "team":
            labels[name] = dict(ServiceUnit.objects.values_list("code", "name"))
        elif name == "centrality":
            labels[name] = {str(c): f"Centrality {c}" for c in range(1, 7)}
        elif name == "sex":
            labels[name] = {str(k): str(v) for k, v in Sex.choices}
        elif name == "immigrant":
            labels[name] = {str(k): str(v) for k, v in ImmigrantBackground.choices}
        else:
            labels[name] = {band: band for band in AGE_BANDS}
        labels[name].setdefault(UNKNOWN, "Unknown")
    return labels


@dataclass(frozen=True)
class Statement:
    """One statement of a run: one indicator, or several sharing a population (``shared_aggregate_sql``)."""

    definitions: tuple[IndicatorDefinition, ...]
    wanted: tuple[str, ...]  # the stratifiers computed (those requested that the indicators support)
    sql: Sql

    def results(self, rows: Sequence[Sequence[Any]], period: Period, scope: Scope,
                labels: dict[str, dict[str, str]]) -> list[IndicatorResult]:
        """The indicators' results from the statement's rows."""
        if len(self.definitions) == 1:
            return [_result(self.definitions[0], period, scope, self.wanted, labels, rows)]
        return [_result(d, period, scope, self.wanted, labels,
                        [(row[0], row[1], *row[2 + 3 * k:5 + 3 * k]) for row in rows])
                for k, d in enumerate(self.definitions)]


def plan_statements(available: Sequence[IndicatorDefinition], period: Period, scope: Scope,
                    stratifiers: Sequence[str], dialect: Dialect) -> list[Statement]:
    """The statements computing the (available) indicators: those whose rules share a population
    (rules.base.Shared: the same population SQL and parameters, the same unit attribution and
    stratifiers; never medians) together, every other one alone. The benchmark runs the same
    statements on DuckDB."""
    groups: dict[tuple[Any, ...], list[IndicatorDefinition]] = {}
    for definition in available:
        rule = RULES[definition.source_rule]
        wanted = tuple(name for name in stratifiers if name in definition.stratifiers)
        median = definition.unit in (Unit.MEDIAN_DAYS, Unit.MEDIAN_SCORE)
        if rule.shared is None or median or not SHARE_POPULATIONS:
            key: tuple[Any, ...] = ("alone", definition.id)
        else:
            population = rule.shared(definition, period, dialect).population
            key = ("shared", population.text, population.params, rule.attributes_to_latest_unit, wanted)
        groups.setdefault(key, []).append(definition)
    statements = []
    for members in groups.values():
        wanted = tuple(name for name in stratifiers if name in members[0].stratifiers)
        if len(members) == 1:
            sql = aggregate_sql(members[0], period, scope, wanted, dialect)
        else:
            sql = shared_aggregate_sql(members, period, scope, wanted, dialect)
        statements.append(Statement(tuple(members), wanted, sql))
    return statements


def _result(definition: IndicatorDefinition, period: Period, scope: Scope, wanted: Sequence[str],
            labels: dict[str, dict[str, str]], rows: Iterable[Sequence[Any]]) -> IndicatorResult:
    """An available result from rows (stratifier, stratum, n, events, stat); stratifier '' is the total."""
    proportion = definition.is_proportion
    total: tuple[int | None, int, float | None] = (0 if proportion else None, 0, None)
    strata: dict[str, list[Stratum]] = {name: [] for name in wanted}
    for stratifier, stratum, n, events, stat in rows:
        denominator = int(n or 0)
        numerator = int(events or 0) if proportion else None
        if proportion:
            value = numerator / denominator if denominator and numerator is not None else None
        else:
            value = None if stat is None else float(stat)
        if not stratifier:
            total = (numerator, denominator, value)
        elif denominator:  # (a stratum of another indicator sharing the statement has none of these items)
            key = str(stratum)
            label = labels.get(stratifier, {}).get(key, key)
            strata[stratifier].append(Stratum(stratifier, key, label, numerator, denominator, value))
    return IndicatorResult(
        definition, period, scope, available=True, numerator=total[0], denominator=total[1], value=total[2],
        strata={name: tuple(sorted(rows_, key=lambda s: s.key)) for name, rows_ in strata.items()},
    )


def _compute_all(selected: list[IndicatorDefinition], period: Period, scope: Scope,
                 stratifiers: tuple[str, ...], dialect: Dialect,
                 labels: dict[str, dict[str, str]]) -> list[IndicatorResult]:
    """Every selected indicator, in the order given; see ``plan_statements``."""
    found: dict[str, IndicatorResult] = {}
    available = []
    for definition in selected:
        reason = _unavailable_reason(definition, dialect)
        if reason is None:
            available.append(definition)
        else:
            found[definition.id] = IndicatorResult(definition, period, scope, available=False, reason=reason)
    for statement in plan_statements(available, period, scope, stratifiers, dialect):
        with connection.cursor() as cursor:
            cursor.execute(statement.sql.text, statement.sql.params)
            rows = cursor.fetchall()
        found.update((r.indicator_id, r) for r in statement.results(rows, period, scope, labels))
    return [found[d.id] for d in selected]


# ---------------------------------------------------------------------------
# Public API


def evaluate(period: Period | str, scope: Scope = NATIONAL, by: str | Iterable[str] | None = None,
             indicator_ids: Iterable[str] | None = None, *, cached: bool = False,
             max_age: dt.timedelta = SNAPSHOT_MAX_AGE) -> list[IndicatorResult]:
    """Raw results, one per indicator (see the module docstring). Never publish these directly.

    With ``cached``, stored snapshots younger than ``max_age`` are used and missing ones are
    computed and stored (models.IndicatorSnapshot).
    """
    the_period = parse_period(period)
    stratifiers = parse_stratifiers(by)
    selected = _selected(indicator_ids)
    resolve_scope(scope)
    found: dict[str, IndicatorResult] = {}
    if cached:
        found = _read_snapshots(selected, the_period, scope, stratifiers, max_age)
    missing = [d for d in selected if d.id not in found]
    if missing:
        computed = _compute(missing, the_period, scope, stratifiers)
        if cached:
            _write_snapshots(computed, stratifiers)
        found.update((r.indicator_id, r) for r in computed)
    return [found[d.id] for d in selected]


def _compute(selected: list[IndicatorDefinition], period: Period, scope: Scope,
             stratifiers: tuple[str, ...]) -> list[IndicatorResult]:
    labels = _labels(stratifiers)
    with analytic_session(), person_attributes_table(_dialect(), period) as dialect:
        return _compute_all(selected, period, scope, stratifiers, dialect, labels)


@contextmanager
def analytic_session() -> Iterator[None]:
    """One transaction for a run of indicator statements, with PostgreSQL settings for them.

    JIT compilation is switched off: the planner's cost estimates for the rules' correlated
    subqueries pass ``jit_above_cost`` easily, and compiling then took longer (up to 3 s a
    statement at 100,000 persons) than executing. ``work_mem`` is raised so that the rules' sorts
    (window functions over all episodes), the median sorts and the stratification hashes stay in
    memory. ``SET LOCAL`` lasts until the transaction ends
    (at the end of this block when it is the outermost one). Other databases: just the transaction.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute(f"SET LOCAL work_mem = '{ANALYTIC_WORK_MEM}'")
        yield


@contextmanager
def person_attributes_table(dialect: Dialect, period: Period) -> Iterator[Dialect]:
    """Every person's strata and latest unit worked out once, in a temporary table, for the statements
    run inside the block (which get a Dialect naming it). A table, not a subquery: the planner then
    knows its size and never recomputes it per row. Use it inside ``analytic_session()``."""
    name = f"indicator_person_attributes_{next(_temporary_names)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {name} AS "
                       f"{person_attributes_sql(dialect, period, latest_unit=True)}")
        cursor.execute(f"CREATE INDEX {name}_person ON {name} (person_id)")
        if dialect.vendor == "postgresql":
            # Temporary tables are never analysed automatically. Only the columns statements join or
            # filter on: all eight took 0.2 s at 100,000 persons, these 0.05 s.
            cursor.execute(f"ANALYZE {name} (person_id, municipality, catchment_trust_id, latest_unit_id)")
    yield Dialect(dialect.vendor, person_attributes=name)
    # Dropped when the block succeeds; when it fails, the rollback of the enclosing transaction
    # (analytic_session) takes the table with it (a DROP in a failed PostgreSQL transaction would
    # itself fail and hide the error).
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {name}")


_temporary_names = itertools.count(1)


def _snapshot_key(stratifiers: tuple[str, ...]) -> str:
    return ",".join(name for name in STRATIFIERS if name in stratifiers)


def _read_snapshots(selected: list[IndicatorDefinition], period: Period, scope: Scope,
                    stratifiers: tuple[str, ...], max_age: dt.timedelta) -> dict[str, IndicatorResult]:
    from django.utils import timezone

    from helhet.indicators.models import IndicatorSnapshot

    snapshots = IndicatorSnapshot.objects.filter(
        indicator_id__in=[d.id for d in selected], period=period.text, scope=str(scope),
        stratifiers=_snapshot_key(stratifiers), computed_at__gte=timezone.now() - max_age)
    by_id = {d.id: d for d in selected}
    found = {}
    for snapshot in snapshots:
        data = snapshot.result
        found[snapshot.indicator_id] = IndicatorResult(
            by_id[snapshot.indicator_id], period, scope, available=data["available"], reason=data["reason"],
            numerator=data["numerator"], denominator=data["denominator"], value=data["value"],
            strata={name: tuple(Stratum(name, *row) for row in rows) for name, rows in data["strata"].items()},
        )
    return found


def _write_snapshots(results: list[IndicatorResult], stratifiers: tuple[str, ...]) -> None:
    from django.db import transaction
    from django.utils import timezone

    from helhet.indicators.models import IndicatorSnapshot

    if not results:
        return
    now = timezone.now()
    key = _snapshot_key(stratifiers)
    first = results[0]
    rows = [IndicatorSnapshot(
        indicator_id=r.indicator_id, period=r.period.text, scope=str(r.scope), stratifiers=key, computed_at=now,
        result={"available": r.available, "reason": r.reason, "numerator": r.numerator,
                "denominator": r.denominator, "value": r.value,
                "strata": {name: [[s.key, s.label, s.numerator, s.denominator, s.value] for s in rows_]
                           for name, rows_ in r.strata.items()}},
    ) for r in results]
    with transaction.atomic():
        IndicatorSnapshot.objects.filter(indicator_id__in=[r.indicator_id for r in results],
                                         period=first.period.text, scope=str(first.scope), stratifiers=key).delete()
        IndicatorSnapshot.objects.bulk_create(rows)


def forget_snapshots() -> int:
    """Delete every stored result (after a data correction); returns how many."""
    from helhet.indicators.models import IndicatorSnapshot

    deleted, _kinds = IndicatorSnapshot.objects.all().delete()
    return deleted


def publish_result(result: IndicatorResult, threshold: int = DEFAULT_THRESHOLD) -> PublishedResult:
    """One raw result after suppression (pure: no database)."""
    definition = result.indicator
    labels = {name: {s.key: s.label for s in rows} for name, rows in result.strata.items()}
    if not result.available:
        return PublishedResult(definition, result.period, result.scope, False, result.reason,
                               PublishedCell(None, None, None, True, "not_available"), {}, {}, threshold)
    if not definition.needs_suppression:
        return PublishedResult(
            definition, result.period, result.scope, True, "", PublishedCell.shown(result.cell),
            {name: tuple(PublishedRow(s.key, PublishedCell.shown(s.cell)) for s in rows)
             for name, rows in result.strata.items()},
            labels, threshold,
        )
    total = suppress_small_cells(Table(rows=[], total=result.cell), threshold).total
    strata: dict[str, tuple[PublishedRow, ...]] = {}
    for name, rows in result.strata.items():
        table_ = Table.summed([(s.key, s.cell) for s in rows], total_value=result.cell.value)
        strata[name] = suppress_small_cells(table_, threshold).rows
    return PublishedResult(definition, result.period, result.scope, True, "", total, strata, labels, threshold)


def published(period: Period | str, scope: Scope = NATIONAL, by: str | Iterable[str] | None = None,
              indicator_ids: Iterable[str] | None = None,
              threshold: int = DEFAULT_THRESHOLD, *, cached: bool = False,
              max_age: dt.timedelta = SNAPSHOT_MAX_AGE) -> list[PublishedResult]:
    """Results as they may be published: small cells and their complements suppressed."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise IndicatorError(f"threshold must be a whole number of at least 1, got {threshold!r}")
    results = evaluate(period, scope, by, indicator_ids, cached=cached, max_age=max_age)
    return [publish_result(r, threshold) for r in results]


def trend(indicator_id: str, periods: Iterable[Period | str], scope: Scope = NATIONAL,
          threshold: int = DEFAULT_THRESHOLD) -> list[PublishedResult]:
    """The published total for each period, in the order given."""
    get_definition(indicator_id)
    return [published(p, scope, None, [indicator_id], threshold)[0] for p in periods]


def persons_behind(user: Any, indicator_id: str, period: Period | str, scope: Scope = NATIONAL,
                   which: Literal["numerator", "denominator"] = "numerator", *, channel: str = "web") -> list[Any]:
    """The persons counted, among those the user has a care relationship with; audited.

    Analysts and administrators never get person lists (AccessDenied).
    """
    from helhet.accounts.access import audit_person_list, require_role, visible_persons
    from helhet.accounts.models import STAFF_ROLES

    require_role(user, STAFF_ROLES)
    definition = get_definition(indicator_id)
    the_period = parse_period(period)
    if which not in WHICH:
        raise IndicatorError(f"which must be one of {', '.join(WHICH)}, got {which!r}", WHICH)
    if which == "numerator" and not definition.is_proportion:
        raise IndicatorError(f"{indicator_id} has no numerator (it is a {definition.unit.value}); "
                             "ask for the denominator", ("denominator",))
    resolve_scope(scope)
    dialect = _dialect()
    reason = _unavailable_reason(definition, dialect)
    if reason is not None:
        raise IndicatorError(f"{indicator_id} is not available: {reason}")
    condition = " AND s.num = 1" if which == "numerator" else ""
    with analytic_session(), person_attributes_table(dialect, the_period) as with_table:
        body = strata_sql(definition, the_period, scope, with_table)
        ids = RawSQL(f"SELECT s.person_id FROM ({body.text}) s WHERE s.person_id IS NOT NULL{condition}",
                     body.params)
        persons = list(visible_persons(user).filter(pk__in=ids).select_related("municipality")
                       .order_by("family_name", "given_name", "pid"))
    audit_person_list(user, [p.pid for p in persons], channel=channel, resource=f"indicator:{indicator_id}",
                      detail={"period": str(the_period), "scope": str(scope), "which": which})
    return persons

