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
    ``available=False`` and ``reason``; never with made-up numbers. A median whose definition
    has ``parameters.quartiles`` carries its first and third quartile (``Quartiles``: linear
    interpolation, as PERCENTILE_CONT) for the total and each stratum; a proportion whose
    definition has ``parameters.breakdown`` carries its numerator by category (``breakdowns``:
    5a's rejected referrals by reason, rules.base.Breakdown) for the total. Raw results are for
    internal use only (tests, the cache, ``persons_behind``): anything leaving the
    product goes through ``published``.

``evaluate(..., cached=True, max_age=SNAPSHOT_MAX_AGE)`` / ``published(..., cached=True)``
    Use stored snapshots (models.IndicatorSnapshot) of the current cache generation younger than
    ``max_age`` (settings.HELHET_INDICATOR_MAX_AGE_HOURS, default 24); compute and store the
    missing ones. A snapshot with more stratifiers than asked for serves too, and a region,
    trust, municipality or unit total is read from a national snapshot stratified by region,
    trust, municipality or team (the scope's stratum is exactly the scope's items), so that
    ``helhet indicators warm`` (warmup.py: the country by every stratifier) serves every
    dashboard total. Results carry ``computed_at`` (when their computation began).
    ``forget_snapshots()`` bumps the generation and deletes them all (after a bulk load).

``published(period, scope=NATIONAL, by=None, indicator_ids=None, threshold=5) -> list[PublishedResult]``
    The same, after small-cell and complementary suppression (suppression.py) of the
    total and of every stratification table: callers that publish never see a small
    cell. Quartiles come only with a shown figure; a breakdown is a one-way table with the
    published numerator as its total, hidden whole when the numerator is (``publish_breakdown``).
    Linked across levels: what the indicator's national pattern for the period
    (``linked_patterns``: country > region > trust > unit, country > centrality >
    municipality; and the cubes of the first by sex, age band, immigrant background, municipality
    under centrality class, and 5a's reasons) hides is hidden in every table and on every
    dashboard that shows it, so a unit hidden on its own page cannot be found from its trust's
    total, nor a unit's women from its trust's, nor a trust's items in a municipality from the
    country's there (for cubes within CUBE_AUDIT_LIMIT, every indicator's at 100,000 synthetic
    persons; beyond it the tables not linked are withheld). With ``cached`` the pattern is
    the one stored with the national results of the same ``max_age``; when it and a stored
    result of the scope disagree, the older of the two is computed again. Without ``cached`` it
    is computed with the results.
    Team-counting indicators (fidelity) are not about persons and are not suppressed.

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
pass (medians as the mean of the lower and upper PERCENTILE_DISC, quartiles with
PERCENTILE_CONT, a breakdown as one more grouping set on the category), on SQLite with UNION
ALL over one materialised CTE (medians and quartiles from row numbers); the same rows either
way, to the bit. Indicators whose rules share a population (rules.base.Shared: 4a-4c, 3a + 10a,
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
import hashlib
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Func, JSONField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

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
from helhet.indicators.rules.base import RULES, Breakdown, Dialect, Shared, Sql, table
from helhet.indicators.rules.pathways import latest_units_sql
from helhet.indicators.suppression import (
    DEFAULT_THRESHOLD,
    AuditTooLarge,
    Cell,
    Hierarchy,
    LinkedCells,
    LinkedRelation,
    PublishedCell,
    PublishedRow,
    Relation,
    Row,
    SuppressionReason,
    Table,
    suppress_hierarchy,
    suppress_linked,
    suppress_small_cells,
)

logger = logging.getLogger(__name__)

SCOPE_LEVELS = ("national", "region", "trust", "municipality", "unit")
MEDIAN_UNITS = (Unit.MEDIAN_DAYS, Unit.MEDIAN_SCORE)
UNKNOWN = "unknown"  # the stratum of items without a value for a stratifier
WHICH = ("numerator", "denominator")
# Stored results older than this are computed again (the staleness bound for clinical edits, which do
# not invalidate; bulk loads do: forget_snapshots).
SNAPSHOT_MAX_AGE = dt.timedelta(hours=getattr(settings, "HELHET_INDICATOR_MAX_AGE_HOURS", 24))
# A scope's total is its stratum in the national stratification by this stratifier (_read_snapshots).
SCOPE_STRATIFIER = {"region": "region", "trust": "trust", "municipality": "municipality", "unit": "team"}
ANALYTIC_WORK_MEM = "64MB"  # PostgreSQL work_mem while computing indicators (see analytic_session)
GROUPING_SETS_VENDORS = ("postgresql", "duckdb")  # aggregate all stratifications in one pass
# Internal stratifications for the linked suppression of cubes (see "Suppression linked across
# levels"): the counts by trust x team x category, stratum key "trust|team|category". Never published
# (``publish_result`` leaves them out); "cube:breakdown" counts the numerator by the breakdown's category,
# and "cube:place:<category>" the items by municipality x sex, age band or immigrant background, or the
# numerator by municipality x the breakdown's category (stratum key "municipality|category");
# "cube:atom:<category>" the items' finest cells, trust x team x municipality x category (stratum key
# "trust|team|municipality|category"), which tie those together (``_atoms``).
CUBE_STRATIFIERS = ("sex", "age", "immigrant", "municipality")
CUBE_BREAKDOWN = "cube:breakdown"
PLACE_CATEGORIES = ("sex", "age", "immigrant")
PLACE_CUBES = tuple(f"cube:place:{name}" for name in PLACE_CATEGORIES)
PLACE_BREAKDOWN = "cube:place:breakdown"
ATOM_BREAKDOWN = "cube:atom:breakdown"
ATOM_CUBES = (*(f"cube:atom:{name}" for name in PLACE_CATEGORIES), ATOM_BREAKDOWN)
BREAKDOWN_CUBES = (CUBE_BREAKDOWN, PLACE_BREAKDOWN, ATOM_BREAKDOWN)  # (they count the numerator's items)
CUBES = (*(f"cube:{name}" for name in CUBE_STRATIFIERS), CUBE_BREAKDOWN, *PLACE_CUBES, PLACE_BREAKDOWN, *ATOM_CUBES)
ALL_STRATA = (*STRATIFIERS, *CUBES)  # the order of stored stratifications
# The exact audit of a cube (suppression.suppress_linked) grows with its largest component of hidden
# cells; beyond this many the place cubes are left out, then the cubes (logged; the tables they
# would have linked are withheld). At 100,000 synthetic persons the largest is 15,768 (with the
# place cubes and the service rows, 2023); the number of units, services, municipalities and
# categories, not of persons, bounds it. See "Suppression linked across levels".
CUBE_AUDIT_LIMIT = 20_000
# With the items' finest cells (``_atoms``: every leaf x municipality x category a reader cannot
# tell is empty, all unknowns) the components are larger: at most this many cells are audited, else
# the rest is linked without them (logged). At 100,000 synthetic persons the largest is 43,290 (2025).
ATOM_AUDIT_LIMIT = 60_000
# The reasons' system takes its finest cells when there are at most this many (else it is linked
# without them; too large a reasons' system would withhold every reasons table).
REASON_ATOM_LIMIT = 20_000
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
    quartiles: Quartiles | None = None  # of a median with parameters.quartiles

    @property
    def cell(self) -> Cell:
        return Cell(self.numerator, self.denominator, None if self.numerator is not None else self.value)


@dataclass(frozen=True)
class Quartiles:
    """The first and third quartile of a median indicator's values (the median is its value).

    One definition everywhere: linear interpolation between order statistics (Hyndman & Fan's type 7,
    R's default): for the sorted values x[0..n-1] the quartile at p (0.25, 0.75) is
    x[j] + (x[j+1] - x[j]) * f where p * (n - 1) = j + f. That is PERCENTILE_CONT on PostgreSQL and
    DuckDB (the SQLite statement computes the same expression from row numbers), and Python's
    ``statistics.quantiles(values, n=4, method="inclusive")`` (equal up to floating-point rounding:
    Python weighs the two values as (x[j] * (4 - 4f) + x[j+1] * 4f) / 4). For n = 1 both are the value.
    """

    q1: float
    q3: float


@dataclass(frozen=True)
class BreakdownRow:
    """One category of a breakdown (rules.base.Breakdown): the numerator's items with this category."""

    key: str  # the category code ("unknown": none recorded)
    label: str
    count: int


@dataclass(frozen=True)
class PublishedBreakdownRow:
    key: str
    label: str
    count: int | None  # None when suppressed
    share: float | None  # count / the breakdown's total (the numerator); None when suppressed
    suppressed: bool
    reason: str  # suppression.SuppressionReason value ("" when shown)


@dataclass(frozen=True)
class PublishedBreakdown:
    """A breakdown after suppression: the categories' counts with the numerator as their total."""

    name: str  # the definition's parameters.breakdown, e.g. "rejection_reason"
    total: int | None  # the numerator; None when the indicator's total is suppressed
    rows: tuple[PublishedBreakdownRow, ...]


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
    computed_at: dt.datetime | None = field(default=None, compare=False)  # when the computation began
    quartiles: Quartiles | None = None  # of the total, for a median with parameters.quartiles
    # The numerator by a category (parameters.breakdown): name -> one row per category, in order.
    breakdowns: dict[str, tuple[BreakdownRow, ...]] = field(default_factory=dict)

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
    computed_at: dt.datetime | None = field(default=None, compare=False)  # of the raw result
    # Quartiles only where the figure they belong to is shown (the total's; a shown stratum's by
    # stratifier and stratum key); breakdowns suppressed with the numerator as their total.
    quartiles: Quartiles | None = None
    strata_quartiles: dict[str, dict[str, Quartiles]] = field(default_factory=dict)
    breakdowns: dict[str, PublishedBreakdown] = field(default_factory=dict)

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


def parse_stratifiers(by: str | Iterable[str] | None, *, internal: bool = False) -> tuple[str, ...]:
    """The stratifiers asked for; ``internal`` also accepts the cube stratifications (CUBES)."""
    if by is None:
        return ()
    names = [by] if isinstance(by, str) else list(by)
    if names == ["all"]:
        return STRATIFIERS
    wrong = [name for name in names if name not in STRATIFIERS and not (internal and name in CUBES)]
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


def strata_sql(definition: IndicatorDefinition, period: Period, scope: Scope, dialect: Dialect, *,
               with_category: bool = False) -> Sql:
    """The rule's items with one column per stratifier, filtered to the scope (the body of a CTE);
    ``with_category``: and the ``category`` of the definition's breakdown."""
    rule = RULES[definition.source_rule]
    breakdown = breakdown_of(definition) if with_category else None
    if breakdown is not None:
        items = breakdown[1].items(definition, period, dialect)
        columns = "i.num AS num, i.val AS val, i.category AS category"
    else:
        items = rule.items(definition, period, dialect)
        columns = "i.num AS num, i.val AS val"
    return _with_strata(items, columns, rule.attributes_to_latest_unit, period, scope, dialect)


def breakdown_of(definition: IndicatorDefinition) -> tuple[str, Breakdown] | None:
    """The definition's breakdown (``parameters.breakdown``) as (name, its rule's Breakdown), or None."""
    name = definition.parameters.get("breakdown")
    if name is None:
        return None
    breakdowns = RULES[definition.source_rule].breakdowns if definition.source_rule in RULES else {}
    if not isinstance(name, str) or name not in breakdowns or not definition.is_proportion:
        raise ValueError(f"{definition.id}: parameter 'breakdown' must name a breakdown of a proportion's rule "
                         f"({', '.join(breakdowns) or 'this rule has none'}), got {name!r}")
    if name in STRATIFIERS:
        raise ValueError(f"{definition.id}: breakdown {name!r} has a stratifier's name")
    return name, breakdowns[name]


def has_quartiles(definition: IndicatorDefinition) -> bool:
    """Whether the definition is a median published with its quartiles (``parameters.quartiles``)."""
    return definition.unit in MEDIAN_UNITS and definition.parameters.get("quartiles") is True


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


def supports(definition: IndicatorDefinition, name: str) -> bool:
    """Whether the definition can be stratified by ``name`` (a stratifier or one of CUBES)."""
    if name == CUBE_BREAKDOWN:
        return breakdown_of(definition) is not None and {"trust", "team"} <= set(definition.stratifiers)
    if name == PLACE_BREAKDOWN:
        return breakdown_of(definition) is not None and "municipality" in definition.stratifiers
    if name in PLACE_CUBES:
        return {"municipality", name.removeprefix("cube:place:")} <= set(definition.stratifiers)
    if name == ATOM_BREAKDOWN:
        return breakdown_of(definition) is not None and {"trust", "team", "municipality"} <= set(definition.stratifiers)
    if name in ATOM_CUBES:
        return {"trust", "team", "municipality", name.removeprefix("cube:atom:")} <= set(definition.stratifiers)
    if name in CUBES:
        return {"trust", "team", name.removeprefix("cube:")} <= set(definition.stratifiers)
    return name in definition.stratifiers


def _grouping(name: str) -> tuple[tuple[str, ...], str]:
    """The columns a stratification groups by, and its stratum expression."""
    if name not in CUBES:
        return (name,), name
    if name in (*PLACE_CUBES, PLACE_BREAKDOWN):
        category = "category" if name == PLACE_BREAKDOWN else name.removeprefix("cube:place:")
        return ("municipality", category), f"municipality || '|' || {category}"
    if name in ATOM_CUBES:
        category = "category" if name == ATOM_BREAKDOWN else name.removeprefix("cube:atom:")
        return ("trust", "team", "municipality", category), \
            f"trust || '|' || team || '|' || municipality || '|' || {category}"
    category = "category" if name == CUBE_BREAKDOWN else name.removeprefix("cube:")
    return ("trust", "team", category), f"trust || '|' || team || '|' || {category}"


def _grouping_sets(groups: Sequence[tuple[str, str]]) -> tuple[str, str, str]:
    """For GROUPING SETS over ``groups`` (name in the rows, column or cube name): the stratifier and
    stratum expressions and the sets. Cube sets are told apart first (they group by trust and team,
    or municipality, too, which a plain set by one of those also does), those of more columns before
    those of fewer (an atom cube's columns hold a cube's and a place cube's; no two cubes have the
    same columns)."""
    which: list[str] = []
    stratum: list[str] = []
    plain: list[str] = []
    sets: list[str] = []
    for name, column in sorted(groups, key=lambda group: (group[1] not in CUBES, -len(_grouping(group[1])[0]))):
        columns, expression = _grouping(column)
        condition = " AND ".join(f"GROUPING({c}) = 0" for c in columns)
        which.append(f"WHEN {condition} THEN '{name}'")
        if column in CUBES:
            stratum.append(f"WHEN {condition} THEN {expression}")
        else:
            plain.append(column)
        sets.append(f"({', '.join(columns)})")
    rest = f"COALESCE({', '.join(plain)}, '')" if plain else "''"
    stratum_sql = f"CASE {' '.join(stratum)} ELSE {rest} END" if stratum else rest
    return f"CASE {' '.join(which)} ELSE '' END", stratum_sql, f"GROUPING SETS ((), {', '.join(sets)})"


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
        which, stratum, sets = _grouping_sets([(name, name) for name in by])
        text = (f"SELECT {which} AS stratifier, {stratum} AS stratum, "
                f"{aggregates} FROM ({body.text}) items GROUP BY {sets}")
        return Sql(text, body.params)
    selects = [f"SELECT '' AS stratifier, '' AS stratum, {aggregates} FROM items"]
    for name in by:
        grouped, expression = _grouping(name)
        selects.append(f"SELECT '{name}' AS stratifier, {expression} AS stratum, {aggregates} FROM items "
                       f"GROUP BY {', '.join(grouped)}")
    return Sql(f"WITH items AS MATERIALIZED ({body.text}) " + " UNION ALL ".join(selects), body.params)


def _shared_part(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Shared:
    shared = RULES[definition.source_rule].shared
    assert shared is not None, f"{definition.id}: its rule has no shared population"
    return shared(definition, period, dialect)


def aggregate_sql(definition: IndicatorDefinition, period: Period, scope: Scope, by: Sequence[str],
                  dialect: Dialect) -> Sql:
    """One statement: rows (stratifier, stratum, denominator, numerator, statistic, first quartile, third
    quartile); stratifier '' is the total. The quartiles are NULL unless the definition has them
    (``has_quartiles``). With a breakdown (``breakdown_of``), the rows whose stratifier is the
    breakdown's name count the numerator's items of each category (stratum): in the numerator column."""
    breakdown = breakdown_of(definition)
    body = strata_sql(definition, period, scope, dialect, with_category=breakdown is not None)
    median = definition.unit in MEDIAN_UNITS
    value = dialect.real("val")
    # (name in the rows, column): the stratifiers, then the breakdown's category.
    groups = [(name, name) for name in by] + ([(breakdown[0], "category")] if breakdown else [])
    if groups and dialect.vendor in GROUPING_SETS_VENDORS:
        # One pass over the items for the total and every stratification (GROUPING SETS; SQLite lacks
        # them and gets the UNION ALL below, which gives the same rows). Strata are never NULL; the
        # category is NULL outside the numerator, a group whose row (stratum '') the results skip.
        which, stratum, sets = _grouping_sets(groups)
        events = "SUM(num)" if definition.is_proportion else "NULL"
        stat = "NULL" if definition.is_proportion else f"AVG({value})"
        quartiles = "NULL AS q1, NULL AS q3"
        if median:
            # The lower middle value (ascending) and the upper one (the lower middle descending): the
            # middle value twice for an odd count. (a + b) / 2 is, to the bit, what the AVG of the two
            # middle values in the UNION ALL path below computes. (Rules never give a median
            # indicator a NULL value; PERCENTILE_DISC would skip it, the row numbers below would not.)
            stat = (f"(PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY {value}) "
                    f"+ PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY {value} DESC)) / 2")
        if has_quartiles(definition):
            # Quartiles (see Quartiles): PERCENTILE_CONT computes x[j] + f * (x[j+1] - x[j]), as the
            # UNION ALL path below does from row numbers.
            quartiles = (f"PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY {value}) AS q1, "
                         f"PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY {value}) AS q3")
        text = (f"SELECT {which} AS stratifier, {stratum} AS stratum, "
                f"COUNT(*) AS n, {events} AS events, {stat} AS stat, {quartiles} FROM ({body.text}) items "
                f"GROUP BY {sets}")
        return Sql(text, body.params)
    parts: list[str] = []
    for name in ("", *by):
        if name in CUBES:
            # Counts only (the pattern needs no statistic; _result drops the GROUPING SETS' one).
            columns, expression = _grouping(name)
            where = " WHERE category IS NOT NULL" if name in BREAKDOWN_CUBES else ""
            parts.append(f"""
                SELECT '{name}' AS stratifier, {expression} AS stratum, COUNT(*) AS n,
                    {'SUM(num)' if definition.is_proportion else 'NULL'} AS events, NULL AS stat, NULL AS q1,
                    NULL AS q3
                FROM items{where} GROUP BY {', '.join(columns)}""")
            continue
        stratum = name or "''"
        group = f" GROUP BY {name}" if name else ""
        if median:
            # The median: the middle value, or the mean of the two middle values (window functions).
            window = f"PARTITION BY {name}" if name else ""
            quartiles = (f"{_quartile_from_ranks(1, value, dialect)} AS q1, "
                         f"{_quartile_from_ranks(3, value, dialect)} AS q3") if has_quartiles(definition) \
                else "NULL AS q1, NULL AS q3"
            parts.append(f"""
                SELECT '{name}' AS stratifier, {stratum} AS stratum, COUNT(*) AS n, NULL AS events,
                    {_median_from_ranks(value)} AS stat, {quartiles}
                FROM (SELECT {name + ', ' if name else ''}val,
                        ROW_NUMBER() OVER ({window} ORDER BY val) AS rn, COUNT(*) OVER ({window}) AS c
                      FROM items) ranked{group}""")
        elif definition.is_proportion:
            parts.append(f"""
                SELECT '{name}' AS stratifier, {stratum} AS stratum, COUNT(*) AS n, SUM(num) AS events,
                    NULL AS stat, NULL AS q1, NULL AS q3
                FROM items{group}""")
        else:
            parts.append(f"""
                SELECT '{name}' AS stratifier, {stratum} AS stratum, COUNT(*) AS n, NULL AS events,
                    AVG({value}) AS stat, NULL AS q1, NULL AS q3
                FROM items{group}""")
    if breakdown is not None:
        parts.append(f"""
                SELECT '{breakdown[0]}' AS stratifier, category AS stratum, COUNT(*) AS n, SUM(num) AS events,
                    NULL AS stat, NULL AS q1, NULL AS q3
                FROM items WHERE category IS NOT NULL GROUP BY category""")
    text = f"WITH items AS MATERIALIZED ({body.text}) " + " UNION ALL ".join(parts)
    return Sql(text, body.params)


def _median_from_ranks(value: str) -> str:
    """The median of a group from its row numbers ``rn`` (1..c, ordered by value) and size ``c``: the mean
    of the lower and the upper middle value (the same one for an odd count). Exact integer division, so
    that DuckDB's "/" (a true division) picks the same rows as PostgreSQL's and SQLite's."""
    lower = "((c + 1 - (c + 1) %% 2) / 2)"
    upper = "((c + 2 - c %% 2) / 2)"
    return f"AVG(CASE WHEN rn IN ({lower}, {upper}) THEN {value} END)"


def _quartile_from_ranks(k: int, value: str, dialect: Dialect) -> str:
    """Quartile k (1 or 3) of a group from its row numbers ``rn`` (1..c, ordered by value) and size
    ``c``: x[j] + (x[j+1] - x[j]) * f where k (c - 1) / 4 = j + f, j counted from 0 (see Quartiles),
    in PERCENTILE_CONT's order of operations. Integer arithmetic for j (exact division, so that
    DuckDB's "/" gives the same); f is 0, 0.25, 0.5 or 0.75, exact in binary."""
    position = f"({k} * (c - 1))"
    low_rank = f"(({position} - {position} %% 4) / 4 + 1)"
    high_rank = f"({low_rank} + CASE WHEN {position} %% 4 = 0 THEN 0 ELSE 1 END)"
    low = f"MAX(CASE WHEN rn = {low_rank} THEN {value} END)"
    high = f"MAX(CASE WHEN rn = {high_rank} THEN {value} END)"
    fraction = f"{dialect.real(f'MAX({position}) %% 4')} / 4"
    return f"({low} + ({high} - {low}) * {fraction})"


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
        if name in CUBES:
            continue  # (never shown)
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
        if len(self.definitions) == 1:  # (aggregate_sql: with the quartile columns and breakdown rows)
            return [_result(self.definitions[0], period, scope, self.wanted, labels, rows)]
        return [_result(d, period, scope, self.wanted, labels,
                        [(row[0], row[1], *row[2 + 3 * k:5 + 3 * k]) for row in rows])
                for k, d in enumerate(self.definitions)]


def plan_statements(available: Sequence[IndicatorDefinition], period: Period, scope: Scope,
                    stratifiers: Sequence[str], dialect: Dialect) -> list[Statement]:
    """The statements computing the (available) indicators: those whose rules share a population
    (rules.base.Shared: the same population SQL and parameters, the same unit attribution and
    stratifiers; never medians or breakdowns) together, every other one alone. The benchmark runs the same
    statements on DuckDB."""
    groups: dict[tuple[Any, ...], list[IndicatorDefinition]] = {}
    for definition in available:
        rule = RULES[definition.source_rule]
        wanted = tuple(name for name in stratifiers if supports(definition, name))
        median = definition.unit in MEDIAN_UNITS
        if rule.shared is None or median or breakdown_of(definition) is not None or not SHARE_POPULATIONS:
            key: tuple[Any, ...] = ("alone", definition.id)
        else:
            population = rule.shared(definition, period, dialect).population
            key = ("shared", population.text, population.params, rule.attributes_to_latest_unit, wanted)
        groups.setdefault(key, []).append(definition)
    statements = []
    for members in groups.values():
        wanted = tuple(name for name in stratifiers if supports(members[0], name))
        if len(members) == 1:
            sql = aggregate_sql(members[0], period, scope, wanted, dialect)
        else:
            sql = shared_aggregate_sql(members, period, scope, wanted, dialect)
        statements.append(Statement(tuple(members), wanted, sql))
    return statements


def _result(definition: IndicatorDefinition, period: Period, scope: Scope, wanted: Sequence[str],
            labels: dict[str, dict[str, str]], rows: Iterable[Sequence[Any]]) -> IndicatorResult:
    """An available result from rows (stratifier, stratum, n, events, stat[, q1, q3]); stratifier '' is
    the total, the breakdown's name (``aggregate_sql``) a category's count of numerator items."""
    proportion = definition.is_proportion
    breakdown = breakdown_of(definition)
    total: tuple[int | None, int, float | None, Quartiles | None] = (0 if proportion else None, 0, None, None)
    strata: dict[str, list[Stratum]] = {name: [] for name in wanted}
    counts: dict[str, int] = {}
    for stratifier, stratum, n, events, stat, *quartile_values in rows:
        if stratifier in CUBES:
            # Counts for the linked pattern only: (numerator, denominator), or the numerator's items
            # of a category (a count without numerator); no statistic.
            count = int(events or 0) if stratifier in BREAKDOWN_CUBES else int(n or 0)
            if stratum and count:
                numerator_ = int(events or 0) if proportion and stratifier not in BREAKDOWN_CUBES else None
                strata[stratifier].append(Stratum(stratifier, str(stratum), str(stratum), numerator_, count, None))
            continue
        if breakdown is not None and stratifier == breakdown[0]:
            if stratum:  # (GROUPING SETS: the items outside the numerator, category NULL, come as '')
                counts[str(stratum)] = int(events or 0)
            continue
        denominator = int(n or 0)
        numerator = int(events or 0) if proportion else None
        if proportion:
            value = numerator / denominator if denominator and numerator is not None else None
        else:
            value = None if stat is None else float(stat)
        q1, q3 = (quartile_values + [None, None])[:2]
        quartiles = None if q1 is None or q3 is None else Quartiles(float(q1), float(q3))
        if not stratifier:
            total = (numerator, denominator, value, quartiles)
        elif denominator:  # (a stratum of another indicator sharing the statement has none of these items)
            key = str(stratum)
            label = labels.get(stratifier, {}).get(key, key)
            strata[stratifier].append(Stratum(stratifier, key, label, numerator, denominator, value, quartiles))
    breakdowns = {} if breakdown is None else {breakdown[0]: _breakdown_rows(breakdown[1], counts)}
    return IndicatorResult(
        definition, period, scope, available=True, numerator=total[0], denominator=total[1], value=total[2],
        strata={name: tuple(sorted(rows_, key=lambda s: s.key)) for name, rows_ in strata.items()},
        quartiles=total[3], breakdowns=breakdowns,
    )


def _breakdown_rows(breakdown: Breakdown, counts: dict[str, int]) -> tuple[BreakdownRow, ...]:
    """Every category of the breakdown in its order (0 where none), then "unknown" (no category recorded;
    always a row, so that its presence says nothing about its count), then any other code that counts
    something, by code."""
    from django.utils import translation

    with translation.override("en"):  # stored and cached results are language-neutral; pages translate
        declared = [(str(code), str(label)) for code, label in breakdown.categories()]
    known = {code for code, _label in declared}
    rows = [BreakdownRow(code, label, counts.get(code, 0)) for code, label in declared]
    if UNKNOWN not in known:
        rows.append(BreakdownRow(UNKNOWN, "Not recorded", counts.get(UNKNOWN, 0)))
    rows += [BreakdownRow(code, code, count) for code, count in sorted(counts.items())
             if code not in known and code != UNKNOWN and count]
    return tuple(rows)


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

    With ``cached``, stored snapshots of the current generation younger than ``max_age`` are
    used and missing ones are computed and stored (models.IndicatorSnapshot).
    """
    the_period = parse_period(period)
    stratifiers = parse_stratifiers(by, internal=True)
    selected = _selected(indicator_ids)
    resolve_scope(scope)
    found: dict[str, IndicatorResult] = {}
    generation = 0
    if cached:
        # Read before computing: results computed while a bulk load commits are stored under the
        # generation it then retires.
        generation = snapshot_generation()
        found = _read_snapshots(selected, the_period, scope, stratifiers, max_age, generation)
    missing = [d for d in selected if d.id not in found]
    if missing:
        began = timezone.now()
        computed = [replace(r, computed_at=began) for r in _compute(missing, the_period, scope, stratifiers)]
        if cached:
            _write_snapshots(computed, stratifiers, generation)
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
    return ",".join(name for name in ALL_STRATA if name in stratifiers)


def _read_snapshots(selected: list[IndicatorDefinition], period: Period, scope: Scope,
                    stratifiers: tuple[str, ...], max_age: dt.timedelta,
                    generation: int) -> dict[str, IndicatorResult]:
    """The stored results that still count: of this generation, younger than ``max_age``.

    Per indicator the freshest snapshot that answers the question serves (fewest stratifiers on a
    tie): one of the scope with at least the stratifiers asked for (the others' tables are left
    out: each stratification is aggregated on its own, by GROUPING SETS or UNION ALL, so it is the
    same whatever else was asked), or, for the total of a region, trust, municipality or unit, a
    national one stratified by the scope's level, whose stratum for the scope is the scope's total
    (the scope filter and the stratum are the same column of the same join). Two queries: which
    snapshots, then the chosen ones' contents.
    """
    from helhet.indicators.models import IndicatorSnapshot

    by_id = {d.id: d for d in selected}
    wanted = set(stratifiers)
    own = str(scope)
    derive_by = SCOPE_STRATIFIER.get(scope.level) if not stratifiers and scope.code != UNKNOWN else None
    candidates = IndicatorSnapshot.objects.filter(
        indicator_id__in=list(by_id), period=period.text, scope__in=[own, "national"] if derive_by else [own],
        generation=generation, computed_at__gte=timezone.now() - max_age,
    ).values_list("pk", "indicator_id", "scope", "stratifiers", "computed_at")
    chosen: dict[str, tuple[tuple[float, int], int, bool, dt.datetime]] = {}
    for pk, indicator_id, where, key, computed_at in candidates:
        names = set(key.split(",")) if key else set()
        derived = where != own
        if derived:
            if derive_by not in names or derive_by not in by_id[indicator_id].stratifiers:
                continue
            if breakdown_of(by_id[indicator_id]) is not None:  # (a breakdown is of the total only)
                continue
        elif not wanted <= names:
            continue
        rank = (-computed_at.timestamp(), len(names))
        if indicator_id not in chosen or rank < chosen[indicator_id][0]:
            chosen[indicator_id] = (rank, pk, derived, computed_at)
    if not chosen:
        return {}
    # A snapshot row never changes (a new computation is a new row), so what was read from one is
    # remembered in this process, by row, time and question: pages of one period read the same
    # national tables over and over (scope totals, the linked suppression pattern).
    question = (own, stratifiers)
    found: dict[str, IndicatorResult] = {}
    for indicator_id, (_rank, pk, _derived, computed_at) in chosen.items():
        with _READ_MEMO_LOCK:
            remembered = _READ_MEMO.get((pk, computed_at, generation, question))
            if remembered is not None:
                _READ_MEMO.move_to_end((pk, computed_at, generation, question))
                found[indicator_id] = remembered
    chosen = {i: c for i, c in chosen.items() if i not in found}
    if not chosen:
        return found
    # Only the tables wanted: a national snapshot by every stratifier is some 40 kB of JSON per indicator,
    # most of it municipalities and teams; a unit's total needs the team table alone.
    tables = [name for name in ALL_STRATA if name in wanted or name == derive_by]
    rows = IndicatorSnapshot.objects.filter(pk__in=[c[1] for c in chosen.values()]).values_list(
        "pk", _WithoutStrata("result"), *(KeyTransform(name, KeyTransform("strata", "result")) for name in tables))
    contents = {}
    for pk, head, *strata in rows:
        contents[pk] = {**head, "strata": {name: table_ for name, table_ in zip(tables, strata, strict=True)
                                           if table_ is not None}}
    for indicator_id, (_rank, pk, derived, computed_at) in chosen.items():
        data = contents[pk]
        definition = by_id[indicator_id]
        if data["available"] and ((breakdown_of(definition) is not None and "breakdowns" not in data)
                                  or (has_quartiles(definition) and "quartiles" not in data)):
            continue  # stored before breakdowns and quartiles were: computed again
        if derived:
            result = _scope_total(definition, period, scope, data, derive_by or "", computed_at)
        else:
            result = IndicatorResult(
                definition, period, scope, available=data["available"], reason=data["reason"],
                numerator=data["numerator"], denominator=data["denominator"], value=data["value"],
                quartiles=_quartiles_from_json(data.get("quartiles")),
                breakdowns={name: tuple(BreakdownRow(*row) for row in rows)
                            for name, rows in data.get("breakdowns", {}).items()},
                strata={name: tuple(_stratum_from_json(name, row) for row in data["strata"][name])
                        for name in stratifiers if name in data["strata"]},
                computed_at=computed_at,
            )
        found[indicator_id] = result
        with _READ_MEMO_LOCK:
            _READ_MEMO[(pk, computed_at, generation, question)] = result
            while len(_READ_MEMO) > _READ_MEMO_SIZE:
                _READ_MEMO.popitem(last=False)
    return found


# Results read from snapshots, by (row, computed_at, generation, (scope, stratifiers)); least recently
# used first. Bounded: a national result by five stratifiers holds some 900 strata.
_READ_MEMO: OrderedDict[tuple[int, dt.datetime, int, tuple[str, tuple[str, ...]]], IndicatorResult] = OrderedDict()
_READ_MEMO_SIZE = 600
_READ_MEMO_LOCK = threading.Lock()  # (runserver serves requests in threads)


class _WithoutStrata(Func):
    """A stored result without its strata (``result - 'strata'``): the total, its quartiles and breakdowns."""

    output_field = JSONField()

    template = "JSON_REMOVE(%(expressions)s, '$.strata')"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s - 'strata')", **extra)


def _scope_total(definition: IndicatorDefinition, period: Period, scope: Scope, national: dict[str, Any],
                 by: str, computed_at: dt.datetime) -> IndicatorResult:
    """A scope's total from a stored national result stratified by ``by`` (the scope's stratum), as
    ``_result`` would give it: a scope without items has a zero count (no stratum is kept for it)."""
    if not national["available"]:
        return IndicatorResult(definition, period, scope, available=False, reason=national["reason"],
                               computed_at=computed_at)
    row = next((row for row in national["strata"][by] if row[0] == scope.code), None)
    if row is None:
        return IndicatorResult(definition, period, scope, available=True,
                               numerator=0 if definition.is_proportion else None, denominator=0, value=None,
                               computed_at=computed_at)
    _key, _label, numerator, denominator, value, *quartiles = row
    return IndicatorResult(definition, period, scope, available=True, numerator=numerator,
                           quartiles=_quartiles_from_json(quartiles[0] if quartiles else None),
                           denominator=denominator, value=value, computed_at=computed_at)


def _write_snapshots(results: list[IndicatorResult], stratifiers: tuple[str, ...], generation: int) -> None:
    """Store the results (replacing any of the same question) under the generation read before computing."""
    from helhet.indicators.models import IndicatorSnapshot

    if not results:
        return
    key = _snapshot_key(stratifiers)
    first = results[0]
    rows = [IndicatorSnapshot(
        indicator_id=r.indicator_id, period=r.period.text, scope=str(r.scope), stratifiers=key,
        computed_at=r.computed_at or timezone.now(), generation=generation,
        result={"available": r.available, "reason": r.reason, "numerator": r.numerator,
                "denominator": r.denominator, "value": r.value, "quartiles": _quartiles_json(r.quartiles),
                "breakdowns": {name: [[b.key, b.label, b.count] for b in rows_] for name, rows_ in r.breakdowns.items()},
                "strata": {name: [[s.key, s.label, s.numerator, s.denominator, s.value, _quartiles_json(s.quartiles)]
                                  for s in rows_]
                           for name, rows_ in r.strata.items()}},
    ) for r in results]
    with transaction.atomic():
        IndicatorSnapshot.objects.filter(indicator_id__in=[r.indicator_id for r in results],
                                         period=first.period.text, scope=str(first.scope), stratifiers=key).delete()
        # Another worker may have stored the same question meanwhile: either row serves.
        IndicatorSnapshot.objects.bulk_create(rows, ignore_conflicts=True)


def _quartiles_json(quartiles: Quartiles | None) -> list[float] | None:
    return None if quartiles is None else [quartiles.q1, quartiles.q3]


def _quartiles_from_json(data: Any) -> Quartiles | None:
    return None if not data else Quartiles(float(data[0]), float(data[1]))


def _stratum_from_json(name: str, row: list[Any]) -> Stratum:
    """A stored stratum row: key, label, numerator, denominator, value[, quartiles]."""
    key, label, numerator, denominator, value, *quartiles = row
    return Stratum(name, key, label, numerator, denominator, value,
                   _quartiles_from_json(quartiles[0] if quartiles else None))


def snapshot_generation() -> int:
    """The current cache generation (models.IndicatorCacheState); 0 until one is recorded."""
    from helhet.indicators.models import IndicatorCacheState

    value = IndicatorCacheState.objects.filter(pk=1).values_list("generation", flat=True).first()
    return 0 if value is None else int(value)


def forget_snapshots() -> int:
    """Forget every stored and cached result, in every process: bump the cache generation (part of
    every process-local cache key, read once per page) and delete the snapshots. After a bulk load
    or a data correction; returns how many snapshots were deleted."""
    from django.db.models import F

    from helhet.indicators.models import IndicatorCacheState, IndicatorSnapshot

    with transaction.atomic():
        bumped = IndicatorCacheState.objects.filter(pk=1).update(generation=F("generation") + 1,
                                                                  invalidated_at=timezone.now())
        if not bumped:  # no state row yet (a flushed test database): generation 0 becomes 1
            IndicatorCacheState.objects.get_or_create(pk=1, defaults={"generation": 1,
                                                                      "invalidated_at": timezone.now()})
        deleted, _kinds = IndicatorSnapshot.objects.all().delete()
    return deleted


# ---------------------------------------------------------------------------
# Suppression linked across levels (suppression.suppress_hierarchy)
#
# The same count is published at several levels: a unit's total on its dashboard, in its
# trust's and region's by-team tables and in the national one; a trust's on its dashboard and
# in the by-trust tables. Per table, a unit hidden in its trust's table could be shown on its
# own dashboard, and a unit hidden on its dashboard found as its trust's total less its
# siblings. So every published result also hides what the national pattern of its indicator
# and period hides: one suppression of the counts that nest (``LinkedPattern``), worked out
# from the country stratified by region, trust, team, municipality and centrality
# (``evaluate(..., cached=True)``: one stored computation serves every page of the period).
#
# Cubes (suppression.suppress_linked): the same stored computation also counts the country by
# trust x team x sex, age band, immigrant background, municipality and (5a) rejection reason
# (CUBES: one more grouping set each, or one more UNION ALL part on SQLite; never published). From
# them the region tree (country > region > trust > units + residual) x the categories is one
# system of relations with the nested counts above: (node, category) = the sum over the node's
# children, and the node = the sum over its categories; the reasons form a second system whose
# totals are the nodes' numerators (a node hidden in one is hidden in the other, repeated until
# they agree). The municipalities have their centrality classes as a level above them (node,
# "centrality", class), and the country's cells there are the hierarchy's municipality and
# centrality nodes: the region tree and the centrality tree are linked through them. The place
# cubes (PLACE_CUBES: the country by municipality x sex, age band or immigrant background) are
# the municipalities' tables by those categories: (municipality:M, category, c) = the
# municipality's count split, and the country's cell (national, category, c) of the region tree's
# cube = the sum over the municipalities (the country's table by sex is the margin of both trees,
# so the country's women less the other municipalities' shown women is in the audit). The
# service rows (``_service_cube``) are the rows of the by-team tables that are no unit of a
# trust: a municipal service's (or "unknown"'s: no unit) part in a trust, the residual's child,
# and its sums over a region's trusts and the country's regions; a municipal service's items are
# split over its persons' catchment trusts, so its dashboard total (the country's row) is linked
# to its rows in every trust's and region's table. The parts are leaves of the cubes, and a
# service's total the sum of its parts there as well: its own tables. The reasons have a place
# cube too (PLACE_BREAKDOWN: the numerator by municipality x reason): a municipality's reasons
# table, whose column sums are the country's reasons table. The items' finest cells (ATOM_CUBES:
# leaf x municipality x category or reason, ``Atom``) are in no table, yet every table above is
# made of them: a leaf's cell of a category is the sum of its Atoms over the municipalities, a
# municipality's the sum over the leaves, and a leaf's cell in its table by municipality the sum
# over the categories (for the reasons: its numerator there, shared with the main system like the
# nodes' numerators). Two-way tables alone allow splits the items cannot have (a unit of one
# municipality has all its women there; a trust's women less its other municipalities' shown
# women gave 61 hidden counts of 13 indicators away at 100,000 synthetic persons, 2025, before
# ``_served_places``, which the Atoms imply, tied them), so the Atoms are unknowns of the audit
# (suppression.suppress_linked ``unpublished``), never shown, and the small ones are kept
# undetermined too (a unit's women of one municipality, 2 of 3 rejected, is a count about
# persons even in no table). Should they make a component larger than ATOM_AUDIT_LIMIT, the rest
# is linked without them (logged; never at 100,000 synthetic persons).
# A stratum without items has no row in its table, so readers know it is 0: such cells are
# constants, left out of the cubes (a declared reason, which the reasons table always lists and
# hides at 0 as a small count, stays in, even where no item has it; a code outside the
# definition is listed only where it counts something).
# Every table of the country, a region, a trust, a unit of a trust or a municipal service by sex,
# age band, immigrant background, municipality or centrality class, every such scope's and every
# municipality's reasons table, every municipality's table by region, trust or team (the same cells
# seen from the other tree) and by sex, age band or immigrant background, every by-team table's rows
# that are no unit of a trust, and a municipal service's table by trust or region hides what that
# pattern hides;
# the audit makes sure no hidden count is determined by all those tables together (a trust's women
# less its other units' shown women; the country's municipality less the other trusts' rows there;
# a service's total less its row in one trust's table), negative counts excluded. Most units,
# services and municipalities being small, the hidden cells form large components (up to 15,768
# cells at 100,000 synthetic persons, 43,290 with the Atoms; the audit of all 41 indicators' cubes
# takes 5-270 CPU-s per period, once, in ``helhet indicators warm``). Should the largest component
# with the Atoms exceed ATOM_AUDIT_LIMIT cells, they are left out; should it exceed
# CUBE_AUDIT_LIMIT without, the place cubes are left out; should it still, the service rows alone
# are linked with the hierarchy (each logged). A table the pattern does not link is withheld: every
# stratum hidden (``LinkedPattern.also_hide``; a reasons table in ``publish_result``). Suppressed on
# its own, it could be worked out from the linked ones (a trust's women less its units' shown
# women), so nothing less is safe.
#
# What nests (Strata in the module docstring): country > region > trust > the trust's own units
# and a residual (the trust's items in no unit of its own: no unit, or a municipal service,
# which has no trust; they form the "unknown" and municipal rows of the trust's by-team table);
# items without a trust are the region (and trust) "unknown". Country > centrality class >
# municipality (the class is the person's municipality's); the municipality cube crosses the
# two, and the place cubes cross the centrality tree's municipalities with the categories; the
# service rows split the residuals. Not linked: any two of sex, age band and immigrant background
# crossed (not published). A unit's table by region, trust or team is the unit itself (but a
# municipal service's by trust and region: its service rows). A scope whose total is hidden by
# the pattern hides at least one stratum in each of its tables (they would add up to it). Where
# the service rows are not linked (the indicator has no cube), the rows of a by-team table that
# are no unit of the scope's trusts add up to residuals: they are all hidden unless that sum can
# be worked out anyway (``_residual_rows``). A municipal service's dashboard follows its row in
# the country's by-team table as published.

LINKED_STRATIFIERS = ("region", "trust", "municipality", "team", "centrality")
# Raised whenever the suppression can hide differently for the same counts (a stored pattern of another
# version is worked out again). 2: the sparse exact audit (every indicator's cubes linked), empty strata
# known to be 0. 3: the municipality cube; a determined cell freed by the nearest cell that frees it.
# 4: the place cubes (municipalities by sex, age band and immigrant background) and the service rows.
# 5: the municipalities' reasons tables (the reasons' place cube); a node's tables by category the sum
# of its municipalities' where they are its own; the service rows linked when the cubes are too large.
# 6: the items' finest cells (unit x municipality x category and reason) in the audit, the small ones
# kept undetermined too.
PATTERN_VERSION = 6
NATION_NODE = "national"
_PATTERN_MEMO: dict[tuple[Any, ...], LinkedPattern] = {}
_PATTERN_MEMO_SIZE = 4096


@dataclass(frozen=True)
class Register:
    """Who belongs to whom in the organisation and place registers (one query: ``load_register``)."""

    trust_of_unit: dict[str, str]  # units with a trust (specialist units and ACT/FACT teams)
    region_of_trust: dict[str, str]
    class_of_municipality: dict[str, str]

    def fingerprint(self) -> str:
        """The same for the same registers, in every process (a stored pattern is of these registers)."""
        content = repr([sorted(self.trust_of_unit.items()), sorted(self.region_of_trust.items()),
                        sorted(self.class_of_municipality.items())])
        return hashlib.sha256(content.encode()).hexdigest()[:16]


def load_register() -> Register:
    """The unit -> trust -> region and municipality -> centrality class registers, in one query."""
    units, trusts = table("organisations", "ServiceUnit"), table("organisations", "HealthTrust")
    regions, municipalities = table("organisations", "HealthRegion"), table("organisations", "Municipality")
    found: dict[str, dict[str, str]] = {"unit": {}, "trust": {}, "municipality": {}}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 'unit', u.code, t.code FROM {units} u JOIN {trusts} t ON t.id = u.trust_id "
            f"UNION ALL SELECT 'trust', t.code, r.code FROM {trusts} t JOIN {regions} r ON r.id = t.region_id "
            f"UNION ALL SELECT 'municipality', m.number, CAST(m.centrality_class AS VARCHAR(2)) "
            f"FROM {municipalities} m")
        for kind, key, parent in cursor.fetchall():
            found[kind][str(key)] = str(parent)
    return Register(found["unit"], found["trust"], found["municipality"])


@dataclass(frozen=True)
class LinkedPattern:
    """One indicator's national linked suppression for one period and threshold.

    Nodes are named ``national``, ``region:R``, ``trust:T``, ``team:U`` (units with a trust),
    ``residual:T``, ``centrality:C`` and ``municipality:M``; the region "unknown" (no trust)
    and the centrality "unknown" (no municipality) stand for the trust and municipality
    "unknown" as well. ``hidden`` also holds the service rows' parts and totals that are hidden
    (``part:T|S``, ``service:S``: ``_service_cube``). ``hidden_units`` are the units hidden in the
    national by-team table as published (municipal services included: their dashboards follow it).
    """

    values: dict[str, Cell]
    parent: dict[str, str]
    hidden: frozenset[str]
    register: Register
    hidden_units: frozenset[str] = frozenset()
    # Cubes (region tree x categories): the stratifiers linked ("sex", "age", "immigrant",
    # "breakdown"; "finest": with the items' finest cells, ``_atoms``) and the hidden cells (node,
    # stratifier, category).
    cubes: frozenset[str] = frozenset()
    cube_hidden: frozenset[tuple[str, str, str]] = frozenset()
    cube_nodes: frozenset[tuple[str, str, str]] = frozenset()  # (node, stratifier, "") for each node of a cube
    computed_at: dt.datetime | None = None  # when the national result it was made from was computed

    def cube_also_hide(self, scope: Scope, stratifier: str, keys: Iterable[str]) -> set[str] | None:
        """The categories of a scope's table by a cube stratifier that the pattern hides; None when
        that table is not linked (the stratifier has no cube, or the scope is no node of it)."""
        node = self.scope_node(scope)
        if node is None and scope.level == "unit":
            node = f"service:{scope.code}"  # (a municipal service's total, ``_service_cube``)
        if stratifier not in self.cubes or node is None or (node, stratifier, "") not in self.cube_nodes:
            return None
        return {key for key in keys if (node, stratifier, key) in self.cube_hidden}

    def stratum_node(self, stratifier: str, key: str) -> str | None:
        """The node a national stratum is, if it is one."""
        if stratifier == "region" or (stratifier == "trust" and key == UNKNOWN):
            node = f"region:{key}"
        elif stratifier == "trust":
            node = f"trust:{key}"
        elif stratifier == "team":
            node = f"team:{key}" if key in self.register.trust_of_unit else ""
        elif stratifier == "municipality" and key == UNKNOWN:
            node = f"centrality:{UNKNOWN}"
        elif stratifier in ("municipality", "centrality"):
            node = f"{stratifier}:{key}"
        else:
            node = ""
        return node if node in self.values else None

    def scope_node(self, scope: Scope) -> str | None:
        if scope.level == "national":
            return NATION_NODE
        return self.stratum_node(SCOPE_STRATIFIER[scope.level], scope.code)

    def scope_hidden(self, scope: Scope) -> bool:
        if scope.level == "unit" and scope.code not in self.register.trust_of_unit:
            return scope.code in self.hidden_units
        return self.scope_node(scope) in self.hidden

    def _within(self, node: str, ancestor: str) -> bool:
        while node != ancestor:
            if node not in self.parent:
                return False
            node = self.parent[node]
        return True

    def row_node(self, scope: Scope, stratifier: str, key: str) -> str | None:
        """The node a stratum of a scope's table is: the finer of the two when one nests in the other."""
        within, node = self.scope_node(scope), self.stratum_node(stratifier, key)
        if within is None or node is None:
            return None
        if self._within(node, within):
            return node
        return within if self._within(within, node) else None

    def also_hide(self, scope: Scope, stratifier: str, rows: Sequence[Stratum], threshold: int) -> set[str]:
        """The strata of one of the scope's tables that the pattern hides (see ``_residual_rows``).
        A stratum the pattern does not link (its cube was too large to audit, or the indicator has
        none) is withheld: hidden, whatever its count."""
        in_cube = self.cube_also_hide(scope, stratifier, [row.key for row in rows])
        if in_cube is None:
            in_cube = self._across_municipality(scope, stratifier, rows, threshold)
        if in_cube is None:
            in_cube = self._service_split(scope, stratifier, rows)
        if in_cube is not None:
            return in_cube
        hidden = set()
        residual: list[Stratum] = []
        for row in rows:
            node = self.row_node(scope, stratifier, row.key)
            if node is not None:
                if node in self.hidden:
                    hidden.add(row.key)
            elif stratifier == "team" and scope.level == "unit" and row.key == scope.code:
                if self.scope_hidden(scope):  # a municipal service's own row on its dashboard
                    hidden.add(row.key)
            elif stratifier == "team" and scope.level in ("national", "region", "trust"):
                residual.append(row)
            else:
                hidden.add(row.key)  # (not linked: suppressed on its own, it could be found from the others)
        if residual:
            within = self.scope_node(scope)
            if "service" in self.cubes and within is not None:
                hidden |= {row.key for row in residual if self._service_row_hidden(scope.level, scope.code, row.key)}
            else:
                derivable = within is not None and self._residual_derivable(
                    lambda node: self._within(node, within), lambda node: node in self.hidden,
                    scope_hidden=within in self.hidden)
                hidden |= _residual_rows(residual, threshold, derivable=derivable)
        return hidden

    def _residual_derivable(self, inside: Callable[[str], bool], hidden: Callable[[str], bool], *,
                            scope_hidden: bool) -> bool:
        """Whether the rows of a scope's by-team table that are no unit of a trust add up to a figure
        a reader can work out: they count its residual nodes and items without a trust, which are
        all shown, or the scope and all its units of a trust are shown. ``inside`` tells the
        scope's nodes and ``hidden`` whether the pattern hides a node's part in the scope."""
        parts = [n for n in self.values if inside(n) and (n.startswith("residual:") or n == f"region:{UNKNOWN}")]
        units = [n for n in self.values if inside(n) and n.startswith("team:")]
        return not any(map(hidden, parts)) or not (scope_hidden or any(map(hidden, units)))

    def _across_municipality(self, scope: Scope, stratifier: str, rows: Sequence[Stratum],
                             threshold: int) -> set[str] | None:
        """The strata of a municipality's table by region, trust or team that the pattern hides: they
        are cells of the municipality cube (the items of trust T in municipality M are (trust:T,
        "municipality", M); a municipal service's, (service:S, "municipality", M)); without the
        service rows, the rows that are no unit of a trust are ``_residual_rows``. None when that
        cube is not linked."""
        if (scope.level != "municipality" or stratifier not in ("region", "trust", "team")
                or "municipality" not in self.cubes or self.scope_node(scope) is None):
            return None

        def hidden_here(node: str) -> bool:
            return (node, "municipality", scope.code) in self.cube_hidden

        hidden, residual = set(), []
        for row in rows:
            node = self.stratum_node(stratifier, row.key)
            if node is None and stratifier == "team":
                residual.append(row)
            elif node is None or (node, "municipality", "") not in self.cube_nodes or hidden_here(node):
                hidden.add(row.key)  # (the cube has no such node only when the results are newer than it)
        if residual and "service" in self.cubes:  # (a service's total by municipality)
            hidden |= {row.key for row in residual if (f"service:{row.key}", "municipality", "") not in self.cube_nodes
                       or hidden_here(f"service:{row.key}")}
        elif residual:
            hidden |= _residual_rows(residual, threshold, derivable=self._residual_derivable(
                lambda node: True, hidden_here, scope_hidden=self.scope_hidden(scope)))
        return hidden

    def _service_split(self, scope: Scope, stratifier: str, rows: Sequence[Stratum]) -> set[str] | None:
        """The strata of a municipal service's table by trust or region that the pattern hides: they
        are its service rows, (residual:T or region:R, "service", S) (``_service_cube``). None when
        they are not linked."""
        if (scope.level != "unit" or scope.code in self.register.trust_of_unit
                or stratifier not in ("trust", "region") or "service" not in self.cubes):
            return None
        return {row.key for row in rows if self._service_row_hidden(stratifier, row.key, scope.code)}

    def _service_row_hidden(self, where: str, code: str, team: str) -> bool:
        """Whether the pattern hides the row of ``team`` (a municipal service or "unknown") in the
        by-team table of the country (``where`` "national"), a region or a trust (``_service_cube``).
        A row the pattern does not have (results newer than it) is hidden."""
        if where == "region" and code != UNKNOWN:
            row = (f"region:{code}", "service", team)
            return row in self.cube_hidden or (row[0], "service", "") not in self.cube_nodes
        node = f"part:{code}|{team}"
        if where == "national" or (node, "service", "") not in self.cube_nodes:
            node = f"service:{team}"  # (a service's total, or its one part)
        return node in self.hidden or (node, "service", "") not in self.cube_nodes

    def agrees_with(self, result: IndicatorResult) -> bool:
        """Whether a result's total is the pattern's count for its scope (both from the same data)."""
        node = self.scope_node(result.scope)
        if node is None:
            return result.denominator == 0 or (result.scope.level == "unit"
                                               and result.scope.code not in self.register.trust_of_unit)
        cell = self.values[node]
        return (cell.numerator, cell.denominator) == (result.numerator, result.denominator)


def _residual_rows(rows: Sequence[Stratum], threshold: int, *, derivable: bool) -> set[str]:
    """Hidden strata among the rows of a by-team table that are no unit of a trust in its scope:
    all of them unless their sum is ``derivable`` anyway (``LinkedPattern._residual_derivable``);
    then they are suppressed as a table of their own with that sum as its total."""
    if not derivable:
        return {row.key for row in rows}
    return set(suppress_small_cells(Table.summed([(row.key, row.cell) for row in rows]), threshold).hidden_strata)


def _linked_hierarchy(result: IndicatorResult, register: Register) -> tuple[Hierarchy, dict[str, str]]:
    """The nested counts of a national result stratified by LINKED_STRATIFIERS, and each node's parent."""
    cells: dict[str, Cell] = {NATION_NODE: _counts(result.cell)}
    relations: list[Relation] = []
    parent: dict[str, str] = {}
    strata = {name: {s.key: _counts(s.cell) for s in rows} for name, rows in result.strata.items()}

    def breakdown(of: str, children: dict[str, Cell], *, residual: str = "") -> None:
        if residual:
            # The parent's items in none of the children (kept when there are any).
            rest = _difference(cells[of], list(children.values()))
            if rest is None:
                return
            if rest.denominator:
                children = {**children, residual: rest}
        elif not _adds_up(cells[of], list(children.values())):
            return  # does not add up (a register changed since the results were computed): not linked
        if not children:
            return
        cells.update(children)
        parent.update((child, of) for child in children)
        relations.append(Relation(of, tuple(children)))

    if "region" in strata:
        breakdown(NATION_NODE, {f"region:{k}": c for k, c in strata["region"].items()})
        if "trust" in strata:
            for region in [k for k in strata["region"] if k != UNKNOWN]:
                breakdown(f"region:{region}", {f"trust:{k}": c for k, c in strata["trust"].items()
                                               if register.region_of_trust.get(k) == region})
            if "team" in strata:
                for trust in [k for k in strata["trust"] if k != UNKNOWN and f"trust:{k}" in cells]:
                    breakdown(f"trust:{trust}", {f"team:{k}": c for k, c in strata["team"].items()
                                                 if register.trust_of_unit.get(k) == trust},
                              residual=f"residual:{trust}")
    if "centrality" in strata:
        breakdown(NATION_NODE, {f"centrality:{k}": c for k, c in strata["centrality"].items()})
        if "municipality" in strata:
            for klass in [k for k in strata["centrality"] if k != UNKNOWN]:
                breakdown(f"centrality:{klass}", {f"municipality:{k}": c for k, c in strata["municipality"].items()
                                                  if register.class_of_municipality.get(k) == klass})
    return Hierarchy(cells, relations), parent


def _counts(cell: Cell) -> Cell:
    return Cell(cell.numerator, cell.denominator)


def _adds_up(whole: Cell, parts: Sequence[Cell]) -> bool:
    rest = _difference(whole, parts)
    return rest is not None and rest.denominator == 0 and not rest.numerator


def _difference(whole: Cell, parts: Sequence[Cell]) -> Cell | None:
    denominator = whole.denominator - sum(p.denominator for p in parts)
    if whole.numerator is None:
        return Cell(None, denominator) if denominator >= 0 else None
    numerator = whole.numerator - sum(p.numerator or 0 for p in parts)
    return Cell(numerator, denominator) if 0 <= numerator <= denominator else None


def _cube(result: IndicatorResult, name: str, parent: dict[str, str], values: dict[str, Cell],
          register: Register, *, across: dict[str, list[str]] | None = None
          ) -> tuple[dict[Hashable, Cell], list[LinkedRelation], list[Hashable]] | None:
    """The cube of the national result's ``cube:<name>`` counts over the region tree: cells
    (node, name, category), with the node itself as the total of its categories, or for the breakdown
    (node, "breakdown", "") holding the node's numerator; its relations; and its totals. None when
    the counts do not add up to the tree's (a register changed since they were computed).

    Municipalities have a level above them, their centrality classes: cells (node, "centrality",
    class), each the sum of its municipalities, and the node the sum of its classes (tables by
    either are published). The country's cells there are the hierarchy's nodes ``municipality:M``
    and ``centrality:C``: that links the region tree to the centrality tree.

    With the service rows (``_service_cube``: ``parent`` and ``values`` then hold their parts, the
    residuals' children), an item of a municipal service (or of no unit) counts in its part, and
    each of ``across`` (a service's total, ``service:S``) is the sum of its parts in every trust,
    category by category: the service's own tables."""
    breakdown = name == "breakdown"
    rows = result.strata.get(CUBE_BREAKDOWN if breakdown else f"cube:{name}")
    if rows is None:
        return None
    geography = [n for n in values if n == NATION_NODE
                 or n.split(":")[0] in ("region", "trust", "team", "residual", "part", "service")]
    children: dict[str, list[str]] = {n: [] for n in geography}
    for node in geography:
        if node in parent and parent[node] in children:
            children[parent[node]].append(node)
    leaves: dict[str, dict[str, Cell]] = {}
    categories: dict[str, None] = {}
    for stratum in rows:
        trust, team, category = stratum.key.split("|", 2)
        node = _leaf(trust, team, parent, register)
        if node not in children or children[node]:
            return None
        categories[category] = None
        found = leaves.setdefault(node, {})
        found[category] = _sum_cell([found[category], stratum.cell]) if category in found else stratum.cell
    if breakdown:  # (a reason without items is listed, at 0, and hidden as small: not known to readers)
        categories.update(dict.fromkeys(_listed(result)))
    order = sorted(categories)
    # The categories' classes (municipalities only), and the level the node's total is the sum of.
    classes: dict[str, list[str]] = {}
    if name == "municipality":
        for municipality in order:
            klass = UNKNOWN if municipality == UNKNOWN else register.class_of_municipality.get(municipality)
            if klass is None:
                return None  # (not in the register: it changed since the counts were computed)
            classes.setdefault(klass, []).append(municipality)
    margin, tops = ("centrality", sorted(classes)) if classes else (name, order)
    levels = [(name, order), *([(margin, tops)] if classes else [])]
    proportion = result.indicator.is_proportion and not breakdown
    zero = Cell(0 if proportion else None, 0)
    cells: dict[Hashable, Cell] = {}
    relations: list[LinkedRelation] = []
    totals: list[Hashable] = []

    def at(node: str, level: str, category: str) -> Hashable:
        if node == NATION_NODE and classes:
            # The hierarchy's nodes (there the centrality "unknown" stands for the municipality "unknown").
            return f"municipality:{category}" if level == name and category != UNKNOWN else f"centrality:{category}"
        return (node, level, category)

    # The reasons always in the reasons table, and "" (the breakdown's total: the node's numerator).
    listed = {"", *_listed(result)} if breakdown else set()

    filled: set[str] = set()
    # Sparse: a node's cells of the categories with items below it (and those listed even when 0);
    # a missing cell is 0, known (``known``). In the categories' order, as the relations list them.
    rank = {category: index for index, category in enumerate(order)}
    always = [category for category in order if category in listed]
    class_of = {m: klass for klass, members in classes.items() for m in members}
    counted_in: dict[str, list[str]] = {}

    def fill(node: str) -> bool:
        if node in filled:  # (a part, filled with its residual, is also a service's child)
            return True
        filled.add(node)
        below = children[node]
        if not all(fill(child) for child in below):
            return False
        here = {c for child in below for c in counted_in[child]} if below else set(leaves.get(node, {}))
        counted_in[node] = sorted(here.union(always), key=rank.__getitem__)
        in_class: dict[str, list[Cell]] = {klass: [] for klass in classes}
        for category in counted_in[node]:
            parts = [cells.get(at(child, name, category), zero) for child in below] if below else \
                [leaves.get(node, {}).get(category, zero)]
            cells[at(node, name, category)] = cell = _sum_cell(parts) if below else parts[0]
            if classes:
                in_class[class_of[category]].append(cell)
        for klass, found in in_class.items():
            cells[at(node, margin, klass)] = _sum_cell(found) if found else zero
        total_key: Hashable = (node, name, "") if breakdown else node
        expected = Cell(None, values[node].numerator or 0) if breakdown else _counts(values[node])
        if not _adds_up(expected, [cells.get(at(node, margin, c), zero) for c in tops]):
            return False
        cells[total_key] = expected
        totals.append(total_key)
        if not (classes and node == NATION_NODE):  # (the country's are the hierarchy's relations)
            relations.append(LinkedRelation(total_key, present(at(node, margin, c) for c in tops)))
            relations.extend(LinkedRelation(at(node, margin, c), present(at(node, name, m) for m in members))
                             for c, members in classes.items() if not known(at(node, margin, c)))
        if below:
            relations.extend(LinkedRelation(at(node, level, c), present(at(child, level, c) for child in below))
                             for level, categories_ in [(name, counted_in[node]), *levels[1:]] for c in categories_
                             if not known(at(node, level, c)))
        return True

    def known(key: Hashable) -> bool:
        """An empty stratum: its scope's table has no row for it (``_result``), so a reader knows it
        is 0. It is a constant, not a hidden count, and the audit leaves it out. The reasons table
        lists its declared reasons and "unknown" even when 0 (``_breakdown_rows``): those stay in."""
        cell = cells.get(key)
        return (cell is None or cell.denominator == 0) and not (isinstance(key, tuple) and key[2] in listed)

    def present(keys: Iterable[Hashable]) -> tuple[Hashable, ...]:
        return tuple(key for key in keys if not known(key))

    if not order or not fill(NATION_NODE):
        return None
    for service, parts in (across or {}).items():
        children[service] = parts
        if not fill(service):
            return None
    national = [key for key in cells if isinstance(key, str) and key.startswith(("municipality:", "centrality:"))]
    if not all(key in values and _adds_up(values[key], [cells[key]]) for key in national):
        return None  # (the hierarchy's municipality nodes are missing, or they count otherwise)
    return {key: cell for key, cell in cells.items() if not known(key)}, relations, totals


def _leaf(trust: str, team: str, parent: dict[str, str], register: Register) -> str:
    """The node of the region tree that counts the items of (trust, team) (a leaf of the cubes)."""
    if f"part:{trust}|{team}" in parent:
        return f"part:{trust}|{team}"
    if f"service:{team}" in parent and register.trust_of_unit.get(team) != trust:
        return f"service:{team}"  # (the one part of a service)
    if trust == UNKNOWN:
        return f"region:{UNKNOWN}"
    return f"team:{team}" if register.trust_of_unit.get(team) == trust else f"residual:{trust}"


def _place_node(municipality: str) -> str:
    """The node of a municipality in the centrality tree (the municipality "unknown" is centrality:unknown)."""
    return f"centrality:{UNKNOWN}" if municipality == UNKNOWN else f"municipality:{municipality}"


def _leaf_places(result: IndicatorResult, parent: dict[str, str], register: Register) -> list[tuple[str, str]]:
    """Each leaf of the region tree (``_leaf``) with each municipality it has items in (the
    municipality cube: every reader sees them as rows of the leaf's and the municipality's tables)."""
    pairs = set()
    for stratum in result.strata.get("cube:municipality", ()):
        trust, team, municipality = stratum.key.split("|", 2)
        pairs.add((_leaf(trust, team, parent, register), municipality))
    return sorted(pairs)


def _served_parts(leaf_places: list[tuple[str, str]], parent: dict[str, str]) -> list[tuple[str, list[str]]]:
    """The nodes of the region tree whose items are those of some municipalities only, each with them:
    the parts the items' three-way cells (leaf x municipality x category, in no table) give
    ``_served_places``.

    Join each leaf to the municipalities it has items in (``_leaf_places``). In each connected part,
    the leaves' items are the municipalities' items. Where the leaves are all those of one node (a trust all of
    whose municipalities' items are its own, as most trusts'), that is the node and its
    municipalities. Other parts are left out (so is the country's: the place cubes have it). The
    Atoms (``_atoms``) imply all of these; they serve the systems linked without the Atoms."""
    link: dict[str, str] = {}  # union-find over leaves and municipality nodes

    def root(key: str) -> str:
        while link.setdefault(key, key) != key:
            link[key] = link[link[key]]
            key = link[key]
        return key

    for leaf, municipality in leaf_places:
        link[root(leaf)] = root(_place_node(municipality))
    parts: dict[str, tuple[set[str], list[str]]] = {}
    for key in list(link):
        leaves, places = parts.setdefault(root(key), (set(), []))
        if key.startswith(("municipality:", "centrality:")):
            places.append(key)
        else:
            leaves.add(key)
    leaves_of: dict[str, set[str]] = {}  # each node's leaves with items
    for leaves, _places in parts.values():
        for leaf in leaves:
            node: str | None = leaf
            while node is not None:
                leaves_of.setdefault(node, set()).add(leaf)
                node = parent.get(node)
    served = []
    for leaves, places in parts.values():
        node = next(iter(leaves))
        while leaves_of[node] != leaves and node in parent:
            node = parent[node]
        if leaves_of[node] == leaves and node != NATION_NODE:
            served.append((node, sorted(places)))
    return served


def _served_places(served: list[tuple[str, list[str]]], name: str,
                   counts: dict[Hashable, Cell]) -> list[LinkedRelation]:
    """The relations of ``_served_parts`` in category table ``name`` (``counts`` holds the region tree's
    and the place cube's cells): a node's cell = the sum of its municipalities' (the trust's women
    less the other municipalities' shown women gave a municipality's hidden women away)."""
    categories = sorted({key[2] for key in counts if isinstance(key, tuple) and key[:2] == (NATION_NODE, name)})
    relations = []
    for node, places in served:
        for category in categories:
            total = (node, name, category)
            found = [key for key in ((place, name, category) for place in places) if key in counts]
            if total not in counts and not found:
                continue  # (0 on both sides: known)
            if total not in counts or not _adds_up(counts[total], [counts[key] for key in found]):
                return []  # (the counts are not of the same data)
            relations.append(LinkedRelation(total, tuple(found)))
    return relations


@dataclass(frozen=True)
class Atom:
    """An unpublished cell of the linked system: the items of one leaf of the region tree (``_leaf``)
    in one municipality (its node: ``municipality:M``, or ``centrality:unknown``) and one category."""

    leaf: str
    place: str
    name: str
    category: str


def _atoms(result: IndicatorResult, name: str, parent: dict[str, str], register: Register,
           leaf_places: list[tuple[str, str]], counts: dict[Hashable, Cell]
           ) -> tuple[dict[Hashable, Cell], list[LinkedRelation]] | None:
    """The items' finest cells in category table ``name`` (``cube:atom:<name>``): the Atoms, and how
    the linked cells sum them. A leaf's cell of a category, (leaf, name, c), is the sum of its Atoms
    over the municipalities; a municipality's, (municipality:M, name, c), the sum over the leaves;
    and a leaf's items in a municipality, (leaf, "municipality", M), the sum over the categories.
    None when the counts do not add up to those cells (computed from other data).

    ``leaf_places`` are ``_leaf_places``; ``counts`` holds the region tree's cubes and the place
    cubes (for the reasons: and the leaves' numerators by municipality). A reader knows an Atom is 0 where
    one of its three cells is (no row for it); every other Atom is there, at 0 where it has no items
    (any count, to a reader: only its cells bound it). No table publishes them, yet they are what the
    tables share: a municipality's women are some unit's women, and the two-way cells alone allow
    splits the items cannot have (a unit of one municipality gives it all of its women)."""
    rows = result.strata.get(f"cube:atom:{name}")
    if rows is None or not leaf_places:
        return None
    found: dict[Atom, Cell] = {}
    for stratum in rows:
        trust, team, municipality, category = stratum.key.split("|", 3)
        atom = Atom(_leaf(trust, team, parent, register), _place_node(municipality), name, category)
        found[atom] = _sum_cell([found[atom], _counts(stratum.cell)]) if atom in found else _counts(stratum.cell)
    categories: dict[str, set[str]] = {}  # each leaf's and municipality's categories in its table
    for key in counts:
        if isinstance(key, tuple) and key[1] == name and key[2]:
            categories.setdefault(str(key[0]), set()).add(key[2])
    zero = Cell(0 if result.indicator.is_proportion and name != "breakdown" else None, 0)
    cells: dict[Hashable, Cell] = {}
    sums: dict[Hashable, list[Hashable]] = {}
    for leaf, municipality in leaf_places:
        place = _place_node(municipality)
        for category in sorted(categories.get(leaf, set()) & categories.get(place, set())):
            atom = Atom(leaf, place, name, category)
            cells[atom] = found.pop(atom, zero)
            for total in ((leaf, name, category), (place, name, category), (leaf, "municipality", municipality)):
                sums.setdefault(total, []).append(atom)
    if found or not all(key in counts and _adds_up(counts[key], [cells[a] for a in atoms])
                        for key, atoms in sums.items()):
        return None  # (the counts are not of the same data)
    return cells, [LinkedRelation(key, tuple(atoms)) for key, atoms in sums.items()]


def _listed(result: IndicatorResult) -> list[str]:
    """The categories a reasons table lists even at 0 (``_breakdown_rows``): the declared ones and "unknown"."""
    rule = breakdown_of(result.indicator)
    return [] if rule is None else [*(str(code) for code, _label in rule[1].categories()), UNKNOWN]


def _sum_cell(parts: Sequence[Cell]) -> Cell:
    numerator = None if parts[0].numerator is None else sum(p.numerator or 0 for p in parts)
    return Cell(numerator, sum(p.denominator for p in parts))


def _place_cube(result: IndicatorResult, name: str, values: dict[str, Cell],
                counts: dict[Hashable, Cell]) -> tuple[dict[Hashable, Cell], list[LinkedRelation]] | None:
    """The cells of the national result's ``cube:place:<name>``, (municipality:M, name, category) (the
    municipality "unknown" is the node centrality:unknown), and their relations: a municipality's
    count is the sum of its categories (its table by ``name``), and the country's cell of a category
    in the region tree's cube, (national, name, category), the sum of the municipalities' (the
    country's table by ``name`` is both trees' margin). Empty strata are known to be 0 and left out,
    as in ``_cube``. None when the counts do not add up to the hierarchy's and the cube's.

    For the breakdown (``name`` "breakdown", ``counts`` the reasons' cube): a municipality's
    reasons table, whose total is the cell (municipality:M, "breakdown", "") holding its numerator
    (its declared reasons are listed even at 0, as in ``_cube``)."""
    breakdown = name == "breakdown"
    rows = result.strata.get(PLACE_BREAKDOWN if breakdown else f"cube:place:{name}")
    if rows is None:
        return None
    places = [n for n in values if n.startswith("municipality:") or n == f"centrality:{UNKNOWN}"]
    cells: dict[tuple[str, str, str], Cell] = {}
    for stratum in rows:
        municipality, category = stratum.key.split("|", 1)
        cells[(_place_node(municipality), name, category)] = _counts(stratum.cell)
    columns = [key for key in counts if isinstance(key, tuple) and key[:2] == (NATION_NODE, name) and key[2]]
    totals: dict[Hashable, Cell] = {node: values[node] for node in places}
    if breakdown:
        listed = {key[2] for key in columns} & set(_listed(result))
        cells |= {(node, name, category): Cell(None, 0) for node in places for category in sorted(listed)
                  if (node, name, category) not in cells}
        totals = {(node, name, ""): Cell(None, values[node].numerator or 0) for node in places}
    of_node: dict[Hashable, list[Hashable]] = {}
    of_category: dict[str, list[Hashable]] = {}
    for key in cells:
        total: Hashable = (key[0], name, "") if breakdown else key[0]
        of_node.setdefault(total, []).append(key)
        of_category.setdefault(key[2], []).append(key)
    found: dict[Hashable, Cell] = {key: cell for key, cell in cells.items()}
    if breakdown:
        found |= totals
    if not _split_adds_up(totals, of_node, found) or {key[2] for key in columns} != set(of_category) or \
            not all(_adds_up(counts[key], [found[k] for k in of_category[key[2]]]) for key in columns):
        return None  # (a register changed since the counts were computed)
    relations = [LinkedRelation(total, tuple(keys)) for total, keys in of_node.items()]
    relations += [LinkedRelation(key, tuple(of_category[key[2]])) for key in columns]
    return found, relations


def _split_adds_up(totals: dict[Hashable, Cell], parts: dict[Hashable, list[Hashable]],
                   cells: dict[Hashable, Cell]) -> bool:
    """Whether each of ``totals`` counts what its ``parts``' cells add up to (none: 0), and every part
    has one of them (the counts and the hierarchy are of the same data and registers)."""
    return not set(parts) - set(totals) and all(_adds_up(total, [cells[k] for k in parts.get(key, ())])
                                                 for key, total in totals.items())


@dataclass(frozen=True)
class ServiceRows:
    """The service rows (``_service_cube``): their cells and relations, the parts' residuals, and
    each service of several parts (``service:S``) with its parts."""

    cells: dict[Hashable, Cell]
    relations: list[LinkedRelation]
    parent: dict[str, str]
    across: dict[str, list[str]]


def _service_cube(result: IndicatorResult, values: dict[str, Cell], register: Register) -> ServiceRows | None:
    """The rows of the by-team tables that are no unit of a trust (municipal services, and "unknown":
    no unit) as cells of the linked system: ``part:T|S`` in trust T's table (T "unknown": items
    without a trust, under the region "unknown"), (region:R, "service", S) in region R's and
    ``service:S`` in the country's (a municipal service's dashboard total; a service with items in
    one trust only is its part there, as most are). A residual is the sum of its parts, a region's
    row the sum of its trusts' parts and the country's the sum of the regions' rows. A municipal
    service's items are split over its persons' catchment trusts, so its total is linked to its
    rows in every trust's and region's table: the country's less one trust's shown row would give
    the other trust's hidden one away. The parts are leaves of the cubes, and each ``service:S``
    of several parts the sum of its parts there too (``_cube``'s ``across``): the service's own
    tables by sex, age band, immigrant background, municipality and centrality class, and its rows
    in the municipalities' by-team tables. The counts are those of a cube by trust x team (any of
    CUBE_STRATIFIERS, each counting every item once) summed over its categories. None when there is
    none or they do not add up to the hierarchy's."""
    any_cube = (f"cube:{name}" for name in CUBE_STRATIFIERS)
    rows = next((result.strata[name] for name in any_cube if name in result.strata), None)
    if rows is None:
        return None
    counted: dict[tuple[str, str], Cell] = {}  # (trust, team) -> its items
    for stratum in rows:
        trust, team, _category = stratum.key.split("|", 2)
        if register.trust_of_unit.get(team) != trust:  # (a unit of its trust is a node of the hierarchy)
            found = counted.get((trust, team))
            counted[(trust, team)] = _sum_cell([found, _counts(stratum.cell)]) if found else _counts(stratum.cell)
    trusts_of: dict[str, list[str]] = {}
    for trust, team in counted:
        trusts_of.setdefault(team, []).append(trust)
    cells: dict[Hashable, Cell] = {}
    parent: dict[str, str] = {}
    rows_of: dict[Hashable, dict[Hashable, None]] = {}  # a region's row or a service's total: what it sums
    across: dict[str, list[str]] = {}
    for (trust, team), cell in counted.items():
        # A service with items in one trust only is its part there (most are: one per municipality).
        part = f"service:{team}" if len(trusts_of[team]) == 1 else f"part:{trust}|{team}"
        owner = f"region:{UNKNOWN}" if trust == UNKNOWN else f"residual:{trust}"
        region = owner if trust == UNKNOWN else f"region:{register.region_of_trust.get(trust)}"
        if region not in values:
            return None  # (a register changed since the counts were computed)
        cells[part], parent[part] = cell, owner
        row: Hashable = part if owner == region else (region, "service", team)
        if owner != region:
            rows_of.setdefault(row, {})[part] = None
        if part != f"service:{team}":
            rows_of.setdefault(f"service:{team}", {})[row] = None
            across.setdefault(f"service:{team}", []).append(part)
    for total in sorted(rows_of, key=lambda key: isinstance(key, str)):  # the regions' first
        cells[total] = _sum_cell([cells[part] for part in rows_of[total]])
    of_owner: dict[Hashable, list[Hashable]] = {}
    for part, owner in parent.items():
        of_owner.setdefault(owner, []).append(part)
    residuals = [n for n in values if n.startswith("residual:") or n == f"region:{UNKNOWN}"]
    if not _split_adds_up({n: values[n] for n in residuals}, of_owner, cells):
        return None
    relations = [LinkedRelation(owner, tuple(parts)) for owner, parts in of_owner.items()]
    relations += [LinkedRelation(total, tuple(parts)) for total, parts in rows_of.items()]
    return ServiceRows(cells, relations, parent, across)


def _with_cubes(result: IndicatorResult, hierarchy: Hierarchy, parent: dict[str, str], hidden: frozenset[str],
                register: Register, threshold: int) -> tuple[frozenset[str], frozenset[str],
                                                             frozenset[tuple[str, str, str]],
                                                             frozenset[tuple[str, str, str]]]:
    """The hierarchy's pattern extended to the service rows, the cubes by sex, age band, immigrant
    background and municipality, the places by those categories and the breakdown
    (suppression.suppress_linked): the nodes hidden, the cubes linked, their hidden cells and their
    nodes. Nodes a cube hides are hidden in the hierarchy too, and the breakdown's totals (the
    nodes' numerators) with their nodes: repeated until both agree. Should the place cubes make a
    component too large to audit, the rest is linked without them; should the cubes still, the
    service rows alone are linked (the tables not linked are withheld: ``LinkedPattern.also_hide``)."""
    values: dict[str, Cell] = dict(hierarchy.cells)
    counts: dict[Hashable, Cell] = {key: cell for key, cell in values.items()}
    relations = [LinkedRelation(r.parent, r.children) for r in hierarchy.relations]
    linked: set[str] = set()
    services = _service_cube(result, values, register)
    across: dict[str, list[str]] = {}
    if services is not None:
        # The parts are the residuals' children in the cubes, and published rows: margins like the nodes.
        counts.update(services.cells)
        relations += services.relations
        linked.add("service")
        values = {**values, **{key: cell for key, cell in services.cells.items() if isinstance(key, str)}}
        parent = {**parent, **services.parent}
        across = services.across
    service_rows = (dict(counts), list(relations))
    leaf_places = _leaf_places(result, parent, register)
    served = _served_parts(leaf_places, parent)
    for name in CUBE_STRATIFIERS:
        cube = _cube(result, name, parent, values, register, across=across)
        if cube is not None:
            counts.update(cube[0])
            relations += cube[1]
            linked.update(("municipality", "centrality") if name == "municipality" else (name,))
    place_counts: dict[Hashable, Cell] = {}
    place_relations: list[LinkedRelation] = []
    placed = []
    for name in PLACE_CATEGORIES:
        place = _place_cube(result, name, values, counts) if name in linked else None
        if place is not None:
            place_counts.update(place[0])
            place_relations += place[1] + _served_places(served, name, {**counts, **place[0]})
            placed.append(name)
    atom_counts: dict[Hashable, Cell] = {}
    atom_relations: list[LinkedRelation] = []
    for name in placed if "municipality" in linked else ():
        atoms = _atoms(result, name, parent, register, leaf_places, {**counts, **place_counts})
        if atoms is not None:
            atom_counts.update(atoms[0])
            atom_relations += atoms[1]
    reasons = _cube(result, "breakdown", parent, values, register, across=across) \
        if result.indicator.is_proportion else None
    place_reasons = _place_cube(result, "breakdown", values, reasons[0]) if reasons is not None else None
    if reasons is not None and place_reasons is not None:  # (the municipalities' reasons tables)
        both = {**reasons[0], **place_reasons[0]}
        reasons = (both, reasons[1] + place_reasons[1] + _served_places(served, "breakdown", both),
                   reasons[2] + [key for key in place_reasons[0] if isinstance(key, tuple) and not key[2]])
        # The Atoms of the reasons sum to a leaf's numerator in a municipality: a cell of the leaf's
        # table by municipality, hidden in both systems alike (``_suppress_cubes``).
        pairs: dict[Hashable, Cell] = {
            key: Cell(None, counts[key].numerator or 0) for key in
            ((leaf, "municipality", municipality) for leaf, municipality in leaf_places) if key in counts}
        atoms = _atoms(result, "breakdown", parent, register, leaf_places, {**both, **pairs}) \
            if "municipality" in linked else None
        if atoms is not None and len(atoms[0]) <= REASON_ATOM_LIMIT:
            reasons = ({**both, **pairs, **atoms[0]}, reasons[1] + atoms[1], reasons[2])
    if not linked and reasons is None:
        return hidden, frozenset(), frozenset(), frozenset()
    if reasons is not None:
        linked.add("breakdown")
    # Each attempt: what is left out should it be too large to audit, its system, what it links, and
    # its largest component audited (the Atoms, all unknowns, join the hidden cells' components).
    attempts = [("three-way cells", {**counts, **place_counts, **atom_counts},
                 relations + place_relations + atom_relations, {*linked, "finest"}, reasons, ATOM_AUDIT_LIMIT)] \
        if atom_counts else []
    if place_counts:
        attempts.append(("place cubes", {**counts, **place_counts}, relations + place_relations, linked, reasons,
                         CUBE_AUDIT_LIMIT))
    attempts.append(("cubes", counts, relations, linked, reasons, CUBE_AUDIT_LIMIT))
    if services is not None and linked != {"service"}:
        attempts.append(("service rows", *service_rows, {"service"}, None, CUBE_AUDIT_LIMIT))
    for what, attempt_counts, attempt_relations, attempt_linked, attempt_reasons, limit in attempts:
        attempt_linked = set(attempt_linked)
        try:
            system = LinkedCells(attempt_counts, attempt_relations)
            hidden_nodes, cube_hidden = _suppress_cubes(result, system, values=values, reasons=attempt_reasons,
                                                        hidden=hidden, linked=attempt_linked, threshold=threshold,
                                                        max_component=limit)
        except AuditTooLarge as exc:
            logger.warning("%s %s: %s not linked: %s", result.indicator_id, result.period, what, exc)
            continue
        nodes = [key for key in [*attempt_counts, *(attempt_reasons[0] if attempt_reasons else ())]
                 if isinstance(key, tuple)]
        # (the service rows that are nodes: a part, a service's total, marked as such)
        rows = [(key, "service", "") for key in (services.cells if services else ()) if isinstance(key, str)]
        cube_nodes = frozenset((str(key[0]), str(key[1]), "") for key in [*nodes, *rows])
        return (frozenset(hidden_nodes), frozenset(attempt_linked),
                frozenset(key for key in cube_hidden if isinstance(key, tuple)), cube_nodes)
    # Nothing but the hierarchy linked: the tables not linked are withheld (``LinkedPattern.also_hide``).
    return hidden, frozenset(), frozenset(), frozenset()


def _suppress_cubes(result: IndicatorResult, cubes: LinkedCells, *, values: dict[str, Cell],
                    reasons: tuple[dict[Hashable, Cell], list[LinkedRelation], list[Hashable]] | None,
                    hidden: frozenset[str], linked: set[str], threshold: int, max_component: int = CUBE_AUDIT_LIMIT
                    ) -> tuple[set[str], set[tuple[Any, ...]]]:
    """The nodes and cube cells ``_with_cubes`` hides, the reasons' system repeated with the main one until
    they agree (``linked`` loses "breakdown" when the reasons' is too large to audit). Raises
    AuditTooLarge when the main system is."""
    extra: set[Hashable] = set()
    while True:
        main = suppress_linked(cubes, threshold, also_hide={*hidden, *extra}, last=set(values),
                               max_component=max_component,
                               unpublished=[key for key in cubes.cells if isinstance(key, Atom)])
        hidden_nodes = {key for key in main.hidden if isinstance(key, str)}
        cube_hidden = {key for key in main.hidden if isinstance(key, tuple)}
        if reasons is None or "breakdown" not in linked:
            return hidden_nodes, cube_hidden
        # Shared with the main system: the nodes' numerators (the totals) and, with the reasons'
        # Atoms, the leaves' numerators by municipality.
        shared = {(n, "breakdown", "") for n in hidden_nodes} | {key for key in cube_hidden if key[1] == "municipality"}
        try:
            by_reason = suppress_linked(LinkedCells(reasons[0], reasons[1]), threshold,
                                        also_hide=shared & set(reasons[0]), last=reasons[2],
                                        max_component=CUBE_AUDIT_LIMIT,
                                        unpublished=[key for key in reasons[0] if isinstance(key, Atom)])
        except AuditTooLarge as exc:
            logger.warning("%s %s: breakdown not linked: %s", result.indicator_id, result.period, exc)
            linked.discard("breakdown")
            return hidden_nodes, cube_hidden
        reason_hidden = {key for key in by_reason.hidden if isinstance(key, tuple)}
        more = ({key[0] for key in reason_hidden if key[2] == ""} - hidden_nodes) | \
            ({key for key in reason_hidden if key[1] == "municipality"} - cube_hidden)
        if not more:
            return hidden_nodes, cube_hidden | reason_hidden
        extra |= more


def linked_pattern(result: IndicatorResult, register: Register, threshold: int) -> LinkedPattern:
    """The linked pattern of one national result stratified by LINKED_STRATIFIERS and, where it has
    them, CUBES (pure: no database)."""
    hierarchy, parent = _linked_hierarchy(result, register)
    hidden, cubes, cube_hidden, cube_nodes = _with_cubes(result, hierarchy, parent,
                                                         suppress_hierarchy(hierarchy, threshold).hidden,
                                                         register, threshold)
    pattern = LinkedPattern(dict(hierarchy.cells), parent, hidden, register, cubes=cubes, cube_hidden=cube_hidden,
                            cube_nodes=cube_nodes)
    # The national by-team table as published fixes which units (municipal services too) are hidden.
    teams = result.strata.get("team", ())
    table_ = Table.summed([(s.key, s.cell) for s in teams])
    hidden_units = suppress_small_cells(table_, threshold,
                                        also_hide=pattern.also_hide(NATIONAL, "team", teams, threshold)).hidden_strata
    return replace(pattern, hidden_units=frozenset(hidden_units), computed_at=result.computed_at)


def linked_patterns(period: Period | str, indicator_ids: Iterable[str] | None = None,
                    threshold: int = DEFAULT_THRESHOLD, *,
                    max_age: dt.timedelta = SNAPSHOT_MAX_AGE) -> dict[str, LinkedPattern]:
    """The national linked pattern of each (available, suppressed) indicator for the period.

    Reads the stored national results stratified by LINKED_STRATIFIERS and CUBES (computing and
    storing them when missing) and the registers (one query). A pattern is remembered in the
    process and stored with the national result it was worked out from (the cubes' exact audit
    takes seconds at a national scale): every worker and page of the period shares it, and it
    goes when the result does.
    """
    the_period = parse_period(period)
    selected = [d.id for d in _selected(indicator_ids) if d.needs_suppression]
    if not selected:
        return {}
    results = evaluate(the_period, NATIONAL, (*LINKED_STRATIFIERS, *CUBES), selected, cached=True, max_age=max_age)
    register = load_register()
    stored_key = pattern_key(threshold, register)
    patterns = {}
    missing = []
    for result in results:
        if not result.available:
            continue
        key = (result.indicator_id, the_period.text, stored_key, result.computed_at)
        pattern = _PATTERN_MEMO.get(key) if result.computed_at is not None else None
        if pattern is None:
            missing.append(result)
        else:
            patterns[result.indicator_id] = pattern
    stored = _stored_patterns(missing, the_period)
    to_store = []
    for result in missing:
        row = stored.get(result.indicator_id)
        data = row[1].get(stored_key) if row is not None else None
        if data is not None:
            pattern = _pattern_from_json(result, register, data)
        else:
            pattern = linked_pattern(result, register, threshold)
            if row is not None:
                to_store.append((row, _pattern_json(pattern)))
        if result.computed_at is not None:
            if len(_PATTERN_MEMO) >= _PATTERN_MEMO_SIZE:
                _PATTERN_MEMO.clear()
            _PATTERN_MEMO[(result.indicator_id, the_period.text, stored_key, result.computed_at)] = pattern
        patterns[result.indicator_id] = pattern
    _store_patterns(to_store, stored_key)
    return patterns


def pattern_key(threshold: int, register: Register) -> str:
    """The key a stored pattern is kept under: the suppression's version (PATTERN_VERSION), the threshold and
    the registers it was worked out with; a pattern stored under another key is worked out again."""
    return f"v{PATTERN_VERSION}:{threshold}:{register.fingerprint()}"


def _stored_patterns(results: list[IndicatorResult], period: Period) -> dict[str, tuple[int, dict[str, Any]]]:
    """The stored national results' rows (pk, their patterns) that the results were read from or stored as."""
    from helhet.indicators.models import IndicatorSnapshot

    when = {r.indicator_id: r.computed_at for r in results if r.computed_at is not None}
    if not when:
        return {}
    rows = IndicatorSnapshot.objects.filter(indicator_id__in=list(when), period=period.text, scope=str(NATIONAL),
                                            computed_at__in=set(when.values())).values_list(
        "pk", "indicator_id", "computed_at", "patterns")
    return {indicator_id: (pk, patterns or {}) for pk, indicator_id, computed_at, patterns in rows
            if when[indicator_id] == computed_at}


def _store_patterns(found: list[tuple[tuple[int, dict[str, Any]], dict[str, Any]]], stored_key: str) -> None:
    from helhet.indicators.models import IndicatorSnapshot

    if found:  # (another worker may store the same pattern meanwhile: the same content)
        IndicatorSnapshot.objects.bulk_update(
            [IndicatorSnapshot(pk=pk, patterns={**patterns, stored_key: data}) for (pk, patterns), data in found],
            ["patterns"])


def _pattern_json(pattern: LinkedPattern) -> dict[str, Any]:
    """What the suppression decided (the rest of a pattern is its result and the registers)."""
    return {"hidden": sorted(pattern.hidden), "hidden_units": sorted(pattern.hidden_units),
            "cubes": sorted(pattern.cubes), "cube_hidden": sorted(map(list, pattern.cube_hidden)),
            "cube_nodes": sorted(map(list, pattern.cube_nodes))}


def _pattern_from_json(result: IndicatorResult, register: Register, data: dict[str, Any]) -> LinkedPattern:
    hierarchy, parent = _linked_hierarchy(result, register)
    return LinkedPattern(dict(hierarchy.cells), parent, frozenset(data["hidden"]), register,
                         hidden_units=frozenset(data["hidden_units"]), cubes=frozenset(data["cubes"]),
                         cube_hidden=frozenset(tuple(key) for key in data["cube_hidden"]),
                         cube_nodes=frozenset(tuple(key) for key in data["cube_nodes"]),
                         computed_at=result.computed_at)


def publish_result(result: IndicatorResult, threshold: int = DEFAULT_THRESHOLD,
                   linked: LinkedPattern | None = None) -> PublishedResult:
    """One raw result after suppression (pure: no database); with ``linked``, also what the
    indicator's national linked pattern hides (``published`` passes it)."""
    definition = result.indicator
    labels = {name: {s.key: s.label for s in rows} for name, rows in result.strata.items()}
    if not result.available:
        return PublishedResult(definition, result.period, result.scope, False, result.reason,
                               PublishedCell(None, None, None, True, "not_available"), {}, {}, threshold,
                               result.computed_at)
    if not definition.needs_suppression:
        return with_distribution(result, PublishedResult(
            definition, result.period, result.scope, True, "", PublishedCell.shown(result.cell),
            {name: tuple(PublishedRow(s.key, PublishedCell.shown(s.cell)) for s in rows)
             for name, rows in result.strata.items()},
            labels, threshold, result.computed_at,
        ))
    total = suppress_small_cells(Table(rows=[], total=result.cell), threshold).total
    if linked is not None and not total.suppressed and linked.scope_hidden(result.scope):
        total = PublishedCell.hidden(SuppressionReason.COMPLEMENTARY)
    strata: dict[str, tuple[PublishedRow, ...]] = {}
    for name, rows in result.strata.items():
        if name in CUBES:
            continue  # (the linked pattern's input, never published)
        table_ = Table.summed([(s.key, s.cell) for s in rows], total_value=result.cell.value)
        also_hide = linked.also_hide(result.scope, name, rows, threshold) if linked is not None else set()
        # Each table still meets its own rule, with the linked strata hidden in it. A hidden total needs
        # no complement here: one would only hide a count the linked tables give (the pattern audits them).
        shown = not total.suppressed
        published_table = suppress_small_cells(table_, threshold, also_hide=also_hide, total_shown=shown)
        if total.suppressed and rows and not published_table.hidden_strata:
            # The total is hidden by the linked pattern, and the strata would add up to it.
            smallest = min(rows, key=lambda s: (s.denominator, s.numerator or 0, s.key))
            published_table = suppress_small_cells(table_, threshold, also_hide={*also_hide, smallest.key},
                                                   total_shown=False)
        strata[name] = published_table.rows
    reasons: Collection[str] = ()
    if linked is not None:
        keys = [row.key for rows in result.breakdowns.values() for row in rows]
        in_cube = linked.cube_also_hide(result.scope, "breakdown", keys)
        reasons = keys if in_cube is None else in_cube  # (not linked: withheld, as in ``LinkedPattern.also_hide``)
    labels = {name: found for name, found in labels.items() if name not in CUBES}
    return with_distribution(result, PublishedResult(definition, result.period, result.scope, True, "", total,
                                                     strata, labels, threshold, result.computed_at),
                             breakdown_hidden=reasons)


def with_distribution(result: IndicatorResult, published_result: PublishedResult, *,
                      breakdown_hidden: Collection[str] = ()) -> PublishedResult:
    """A published result with what goes with its figures: the quartiles of the shown total and strata
    only, and each breakdown suppressed with the published numerator as its total (all of it hidden
    when the numerator is). Reads the published cells: apply it after every suppression of them."""
    if not published_result.available:
        return published_result
    total = published_result.total
    shown = {name: {row.stratum for row in rows if not row.cell.suppressed}
             for name, rows in published_result.strata.items()}
    strata_quartiles = {
        name: {s.key: s.quartiles for s in rows if s.quartiles is not None and s.key in shown.get(name, ())}
        for name, rows in result.strata.items()}
    breakdowns = {
        name: publish_breakdown(name, rows, total, published_result.threshold,
                                suppress=result.indicator.needs_suppression, also_hide=breakdown_hidden)
        for name, rows in result.breakdowns.items()}
    return replace(published_result, quartiles=None if total.suppressed else result.quartiles,
                   strata_quartiles={name: found for name, found in strata_quartiles.items() if found},
                   breakdowns=breakdowns)


def publish_breakdown(name: str, rows: Sequence[BreakdownRow], numerator: PublishedCell, threshold: int, *,
                      suppress: bool = True, also_hide: Collection[str] = ()) -> PublishedBreakdown:
    """A breakdown of the numerator as it may be published: a one-way table (suppression.py) of the
    categories' counts whose total is the numerator, so small counts (0 included) are hidden and, the
    total being shown, enough further ones that none can be found by subtraction. When the numerator
    itself is hidden, so is every count (they would add up to it). Shares are of the numerator and
    shown with their count only."""
    def hidden(row: BreakdownRow, reason: str) -> PublishedBreakdownRow:
        return PublishedBreakdownRow(row.key, row.label, None, None, True, reason)

    if numerator.suppressed or numerator.numerator is None:
        return PublishedBreakdown(name, None, tuple(hidden(row, SuppressionReason.COMPLEMENTARY) for row in rows))
    count = numerator.numerator
    # Counts are statistic-free cells without a numerator: only their size (the "denominator") is checked.
    table_ = Table([Row(row.key, Cell(None, row.count)) for row in rows], total=Cell(None, count))
    hide = {row.key for row in rows} & set(also_hide)  # (hidden in the linked pattern: suppression.suppress_linked)
    cells = suppress_small_cells(table_, threshold, also_hide=hide).rows if suppress else None
    published_rows = []
    for index, row in enumerate(rows):
        cell = cells[index].cell if cells is not None else None
        if cell is not None and cell.suppressed:
            small = cell.reason == SuppressionReason.SMALL_DENOMINATOR
            published_rows.append(hidden(row, SuppressionReason.SMALL_NUMERATOR if small else cell.reason))
        else:
            published_rows.append(PublishedBreakdownRow(row.key, row.label, row.count,
                                                        row.count / count if count else None, False, ""))
    return PublishedBreakdown(name, count, tuple(published_rows))


def published(period: Period | str, scope: Scope = NATIONAL, by: str | Iterable[str] | None = None,
              indicator_ids: Iterable[str] | None = None,
              threshold: int = DEFAULT_THRESHOLD, *, cached: bool = False,
              max_age: dt.timedelta = SNAPSHOT_MAX_AGE) -> list[PublishedResult]:
    """Results as they may be published: small cells and their complements suppressed, in each
    table and, linked across levels, as the indicator's national pattern has them (``linked_patterns``)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise IndicatorError(f"threshold must be a whole number of at least 1, got {threshold!r}")
    parse_stratifiers(by)  # (the cube stratifications are internal)
    results = evaluate(period, scope, by, indicator_ids, cached=cached, max_age=max_age)
    linked = [r.indicator_id for r in results if r.available and r.indicator.needs_suppression]
    patterns: dict[str, LinkedPattern] = {}
    if not cached and scope == NATIONAL:
        # The country stratified by the linked stratifiers is the pattern's own input.
        own = [r for r in results if r.indicator_id in linked
               and all(name in r.strata for name in (*LINKED_STRATIFIERS, *CUBES) if supports(r.indicator, name))]
        if own:
            register = load_register()
            patterns = {r.indicator_id: linked_pattern(r, register, threshold) for r in own}
            linked = [i for i in linked if i not in patterns]
    if linked:
        # Fresh results get a fresh pattern: one from older data could leave a sibling's change unprotected.
        patterns |= linked_patterns(period, linked, threshold, max_age=max_age if cached else dt.timedelta(0))
    if cached:
        results, patterns = _from_the_same_data(results, patterns, period, scope, by, threshold)
    return [publish_result(r, threshold, patterns.get(r.indicator_id)) for r in results]


def _from_the_same_data(results: list[IndicatorResult], patterns: dict[str, LinkedPattern], period: Period | str,
                        scope: Scope, by: str | Iterable[str] | None, threshold: int
                        ) -> tuple[list[IndicatorResult], dict[str, LinkedPattern]]:
    """Stored results of a scope and a stored national pattern that disagree were computed from different data:
    the older of the two is computed again (and stored), once. Computing the pattern again whatever its age
    would make every request compute the country while a newer scope result is stored."""
    disagree = [r for r in results if r.indicator_id in patterns and not patterns[r.indicator_id].agrees_with(r)]
    if not disagree:
        return results, patterns

    def older_pattern(result: IndicatorResult) -> bool:
        made = patterns[result.indicator_id].computed_at
        return made is None or result.computed_at is None or made <= result.computed_at

    stale_patterns = [r.indicator_id for r in disagree if older_pattern(r)]
    stale_results = [r.indicator_id for r in disagree if not older_pattern(r)]
    if stale_patterns:
        patterns = patterns | linked_patterns(period, stale_patterns, threshold, max_age=dt.timedelta(0))
    if stale_results:
        again = {r.indicator_id: r for r in evaluate(period, scope, by, stale_results, cached=True,
                                                       max_age=dt.timedelta(0))}
        results = [again.get(r.indicator_id, r) for r in results]
    return results, patterns


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

