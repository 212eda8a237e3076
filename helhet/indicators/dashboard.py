"""View-models for the indicator pages, exports and the PDF report.

Everything here reads *published* (suppressed) engine results only: ``engine.published``,
never ``engine.evaluate``. A hidden figure reaches a page, a CSV/XLSX table or a PDF
as the suppression mark ":" (Statistics Norway's symbol for a figure withheld for
confidentiality) and nothing else.

Two cache levels (see the Cache section). L1, process-local (Django's default cache, a
LocMemCache in every worker): published results per period, scope and stratifier, trend
charts and rendered page bodies, so that a dashboard rendered again makes no engine query at
all. L2, shared by every worker and kept across restarts: the engine's snapshots
(``engine.evaluate(..., cached=True)``, filled ahead by ``helhet indicators warm``). Every
L1 key carries the cache generation, which lives in the database (``engine.snapshot_generation``,
read once per page) and which ``invalidate_cache`` bumps after a bulk load, so that every
worker drops its copies at once. Clinical edits do not invalidate: pages say when their
figures were computed, and nothing older than ``engine.SNAPSHOT_MAX_AGE`` is served.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from helhet import charts
from helhet.indicators import engine
from helhet.indicators.definitions import (
    STRATIFIERS,
    Direction,
    IndicatorDefinition,
    Period,
    PeriodType,
    Unit,
    load_indicators,
)
from helhet.indicators.suppression import DEFAULT_THRESHOLD, PublishedCell

SUPPRESSED_MARK = ":"
# Stratifiers offered on the analyst dashboards (issue 6); region/trust/team come from the level.
ANALYST_STRATIFIERS = ("municipality", "centrality", "sex", "age", "immigrant", "region", "trust", "team")
TREND_LENGTH = 5  # the chosen period and the four before it
CACHE_SECONDS = int(getattr(settings, "HELHET_INDICATOR_CACHE_SECONDS", 3600))  # at most; see cache_seconds

# Sections of the analyst dashboard (issue 6, "Outcome results" and "Strategy follow-up").
OUTCOME_INSTRUMENTS = ("audit", "dudit", "phq-9", "gad-7", "scl-10")
STRATEGY_INDICATORS = (
    "rop-01-substance-screening",
    "rop-02-integrated-assessment",
    "rop-03a-somatic-health-check",
    "rop-04a-individual-plan-offered",
    "rop-04b-individual-plan-active",
)


def definitions() -> dict[str, IndicatorDefinition]:
    global _DEFINITIONS
    if _DEFINITIONS is None:
        _DEFINITIONS = load_indicators()
    return _DEFINITIONS


_DEFINITIONS: dict[str, IndicatorDefinition] | None = None


# ---------------------------------------------------------------------------
# Cache


def generation() -> int:
    """The cache generation (in the database, shared by every worker): part of every L1 key.

    Read once per request (the first call in a request remembers it until the request ends),
    outside requests on every call."""
    remembered = _request_generation.get()
    if remembered is not None:
        return remembered
    value = engine.snapshot_generation()
    if _in_request.get():
        _request_generation.set(value)
    return value


def invalidate_cache() -> None:
    """Forget every cached and stored indicator result, in every worker (after a bulk load): the
    generation is bumped and the snapshots deleted (``engine.forget_snapshots``)."""
    engine.forget_snapshots()
    _request_generation.set(None)


_in_request: ContextVar[bool] = ContextVar("helhet_indicators_in_request", default=False)
_request_generation: ContextVar[int | None] = ContextVar("helhet_indicators_generation", default=None)


def _request_began(**kwargs: Any) -> None:
    _in_request.set(True)
    _request_generation.set(None)


def _request_ended(**kwargs: Any) -> None:
    _in_request.set(False)
    _request_generation.set(None)


request_started.connect(_request_began, dispatch_uid="helhet-indicators-generation-start")
request_finished.connect(_request_ended, dispatch_uid="helhet-indicators-generation-end")


def cache_seconds(computed_at: dt.datetime | None) -> int:
    """How long L1 may keep something made from results computed at ``computed_at``: never past
    their maximum age (``engine.SNAPSHOT_MAX_AGE``), then they are computed again."""
    if computed_at is None:
        return CACHE_SECONDS
    left = (computed_at + engine.SNAPSHOT_MAX_AGE - timezone.now()).total_seconds()
    return max(1, min(CACHE_SECONDS, int(left)))


_noted: ContextVar[list[dt.datetime] | None] = ContextVar("helhet_indicators_computed_at", default=None)


@contextmanager
def noting_computation_times() -> Iterator[list[dt.datetime]]:
    """Collect, while the block runs, when the results ``cached_published`` hands out were computed
    (a dashboard shows the oldest: "Computed 23.11.2026 14:05")."""
    times: list[dt.datetime] = []
    outer = _noted.get()
    token = _noted.set(times)
    try:
        yield times
    finally:
        _noted.reset(token)
        if outer is not None:  # an enclosing block sees them too
            outer.extend(times)


def _note(computed_at: dt.datetime | None) -> None:
    times = _noted.get()
    if times is not None and computed_at is not None:
        times.append(computed_at)


@dataclass(frozen=True)
class CellData:
    """A published cell as plain data (what the cache keeps): no number at all when suppressed."""

    numerator: int | None
    denominator: int | None
    rate: float | None
    value: float | None
    suppressed: bool
    quartiles: engine.Quartiles | None = None  # of a shown median published with its quartiles


@dataclass(frozen=True)
class ResultData:
    """One published result as plain, picklable data; ``strata`` maps a stratifier to (key, name, cell);
    ``breakdowns`` the numerator by a category (5a: rejected referrals by reason), already suppressed."""

    indicator_id: str
    available: bool
    reason: str
    total: CellData
    strata: dict[str, tuple[tuple[str, str, CellData], ...]]
    breakdowns: dict[str, engine.PublishedBreakdown] = field(default_factory=dict)


def _cell_data(cell: PublishedCell, quartiles: engine.Quartiles | None = None) -> CellData:
    if cell.suppressed:
        return CellData(None, None, None, None, True)
    return CellData(cell.numerator, cell.denominator, cell.rate, cell.value, False, quartiles)


def result_data(result: engine.PublishedResult) -> ResultData:
    strata = {
        name: tuple((row.stratum, result.labels.get(name, {}).get(row.stratum, row.stratum),
                     _cell_data(row.cell, result.strata_quartiles.get(name, {}).get(row.stratum)))
                    for row in rows)
        for name, rows in result.strata.items()
    }
    return ResultData(result.indicator_id, result.available, result.reason,
                      _cell_data(result.total, result.quartiles), strata, dict(result.breakdowns))


def threshold() -> int:
    """The small-cell threshold (domain notes: default 5, configurable)."""
    return int(getattr(settings, "HELHET_SUPPRESSION_THRESHOLD", DEFAULT_THRESHOLD))


def cached_published(period: Period, scope: engine.Scope, by: str | None = None) -> dict[str, ResultData]:
    """``engine.published`` for every indicator (by id), through L1 and the engine's snapshots (L2)."""
    limit = threshold()
    key = (f"helhet:indicators:{generation()}:published:{limit}:{period.text}:{scope.level}:"
           f"{scope.code or '-'}:{by or '-'}")
    entry: tuple[dt.datetime | None, dict[str, ResultData]] | None = cache.get(key)
    if entry is None:
        published = engine.published(period, scope, by=by, threshold=limit, cached=True)
        computed_at = min((r.computed_at for r in published if r.computed_at is not None), default=None)
        entry = (computed_at, {r.indicator_id: result_data(r) for r in published})
        cache.set(key, entry, cache_seconds(computed_at))
    _note(entry[0])
    return entry[1]


# ---------------------------------------------------------------------------
# Figures: one published number, formatted


@dataclass(frozen=True)
class Figure:
    """One published cell. ``suppressed`` figures carry no number at all."""

    numerator: int | None
    denominator: int | None
    rate: float | None
    value: float | None
    suppressed: bool
    unit: Unit
    quartiles: engine.Quartiles | None = None  # a median's first and third quartile, when published

    @property
    def number(self) -> float | None:
        """The headline number: the rate of a proportion, the statistic otherwise."""
        return self.rate if self.unit == Unit.PROPORTION else self.value

    @property
    def text(self) -> str:
        number = self.number
        if self.suppressed or number is None:
            return SUPPRESSED_MARK
        return format_value(number, self.unit)

    @property
    def html(self) -> SafeString:
        """The figure for a page: a hidden one is the mark with an explanation for screen readers and hover."""
        if self.suppressed or self.number is None:
            return format_html('<span class="suppressed" title="{}">{}</span>',
                               _("Hidden to protect privacy (too few persons)"), SUPPRESSED_MARK)
        if self.quartiles_text:
            return format_html('{} <span class="quartiles" title="{}">({})</span>', self.text,
                               _("median (first quartile–third quartile)"), self.quartiles_text)
        return format_html("{}", self.text)

    @property
    def quartiles_text(self) -> str:
        """"Q1–Q3" of a shown median published with its quartiles, else ""."""
        if self.suppressed or self.quartiles is None or self.number is None:
            return ""
        return f"{format_number(self.quartiles.q1, self.unit)}–{format_number(self.quartiles.q3, self.unit)}"

    @property
    def text_with_quartiles(self) -> str:
        """"median (Q1–Q3)" where the quartiles are published, else the figure's text."""
        return f"{self.text} ({self.quartiles_text})" if self.quartiles_text else self.text

    @property
    def counts_text(self) -> str:
        if self.suppressed or self.denominator is None:
            return SUPPRESSED_MARK
        if self.numerator is None:
            return f"n = {self.denominator}"
        return f"{self.numerator} / {self.denominator}"


def _rounded(number: float, decimals: int) -> str:
    # Half away from zero, as people round (number_format alone truncates, Python's round() rounds to even).
    exact = Decimal(repr(number)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return number_format(exact, decimals)


def format_number(number: float, unit: Unit) -> str:
    """A statistic without its unit (quartiles beside a median that has it)."""
    return _rounded(number, 0 if unit == Unit.MEDIAN_DAYS else 1)


def format_value(number: float, unit: Unit) -> str:
    if unit == Unit.PROPORTION:
        return f"{_rounded(number * 100, 0)} %"
    if unit == Unit.MEDIAN_DAYS:
        return _("%(days)s days") % {"days": _rounded(number, 0)}
    if unit == Unit.MEAN_CHANGE:
        sign = "+" if number > 0 else ""
        return sign + _rounded(number, 1)
    return _rounded(number, 1)


def _figure(cell: CellData | None, unit: Unit) -> Figure:
    if cell is None or cell.suppressed:
        return Figure(None, None, None, None, True, unit)
    return Figure(cell.numerator, cell.denominator, cell.rate, cell.value, False, unit, cell.quartiles)


def figure_of(result: ResultData | None, definition: IndicatorDefinition) -> Figure:
    if result is None or not result.available:
        return _figure(None, definition.unit)
    return _figure(result.total, definition.unit)


def strata_of(result: ResultData, by: str, definition: IndicatorDefinition) -> list[tuple[str, str, Figure]]:
    """(key, display name, figure) per stratum; names of coded strata (sex, centrality ...) are translated."""
    return [(key, stratum_label(by, key, name), _figure(cell, definition.unit))
            for key, name, cell in result.strata.get(by, ())]


def meets_target(figure: Figure, definition: IndicatorDefinition) -> bool | None:
    number = figure.number
    if definition.target is None or number is None:
        return None
    if definition.direction == Direction.HIGHER_IS_BETTER:
        return number >= definition.target
    return number <= definition.target


def target_text(definition: IndicatorDefinition) -> str:
    return "" if definition.target is None else format_value(definition.target, definition.unit)


# ---------------------------------------------------------------------------
# Periods


def default_period(today: dt.date | None = None) -> Period:
    return Period.latest_complete(PeriodType.CALENDAR_YEAR, today=today or dt.date.today())


def trend_periods(period: Period, length: int = TREND_LENGTH) -> list[Period]:
    """The chosen period and the ones before it, oldest first (years step by year, quarters by quarter)."""
    if period.text.isdigit():
        return [Period.calendar_year(period.start.year - back) for back in reversed(range(length))]
    if "-Q" in period.text:
        index = period.start.year * 4 + (period.start.month - 1) // 3
        return [Period.quarter((i) // 4, i % 4 + 1) for i in range(index - length + 1, index + 1)]
    return [period]


def period_choices(today: dt.date | None = None) -> list[str]:
    """Periods offered in the period picker: the last five years and the last eight quarters."""
    today = today or dt.date.today()
    years = [str(today.year - back) for back in range(0, 6)]
    latest = Period.latest_complete(PeriodType.QUARTER, today=today)
    quarters = [p.text for p in reversed(trend_periods(latest, 8))]
    return years + quarters


# ---------------------------------------------------------------------------
# Rows


@dataclass
class IndicatorRow:
    definition: IndicatorDefinition
    title: str
    description: str
    available: bool
    reason: str
    figure: Figure
    comparisons: list[tuple[str, Figure]] = field(default_factory=list)
    trend: list[tuple[str, Figure]] = field(default_factory=list)
    trend_svg: str = ""
    strata: list[tuple[str, Figure]] = field(default_factory=list)
    strata_svg: str = ""
    breakdowns: list[BreakdownTable] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def target(self) -> str:
        return target_text(self.definition)

    @property
    def meets_target(self) -> bool | None:
        return meets_target(self.figure, self.definition)

    @property
    def direction(self) -> str:
        if self.definition.direction == Direction.HIGHER_IS_BETTER:
            return _("higher is better")
        return _("lower is better")

    @property
    def drillable(self) -> bool:
        return self.available and self.definition.counting_unit != "teams"


@dataclass(frozen=True)
class BreakdownTable:
    """A published breakdown of an indicator's numerator (5a: rejected referrals by reason): per
    category a Figure whose numerator is the category's count, denominator the breakdown's total
    and rate the share; hidden ones carry no number."""

    name: str
    title: str
    rows: list[tuple[str, str, Figure]]  # (category code, display name, figure)
    total: int | None  # None when hidden

    @property
    def category_label(self) -> str:
        return _("Reason") if self.name == "rejection_reason" else _("Category")

    @property
    def share_label(self) -> str:
        return _("Share of rejected referrals") if self.name == "rejection_reason" else _("Share")

    @property
    def total_text(self) -> str:
        return SUPPRESSED_MARK if self.total is None else str(self.total)


def breakdown_title(name: str) -> str:
    return {"rejection_reason": _("Rejected referrals by reason")}.get(name, name)


def breakdown_label(name: str, key: str, fallback: str = "") -> str:
    """The display name of a breakdown category in the active language (stored results hold English)."""
    if key == engine.UNKNOWN:
        return _("No reason recorded") if name == "rejection_reason" else _("Not recorded")
    if name == "rejection_reason":
        from helhet.pathways.models import RejectionReason

        if key in RejectionReason.values:
            return str(RejectionReason(key).label)
    return fallback or key


def breakdowns_of(result: ResultData | None) -> list[BreakdownTable]:
    if result is None or not result.available:
        return []
    tables = []
    for name, published in result.breakdowns.items():
        rows = []
        for row in published.rows:
            figure = Figure(row.count, published.total, row.share, None, row.suppressed, Unit.PROPORTION)
            rows.append((row.key, breakdown_label(name, row.key, row.label), figure))
        tables.append(BreakdownTable(name, breakdown_title(name), rows, published.total))
    return tables


def title_of(definition: IndicatorDefinition) -> str:
    return definition.title.get(get_language() or "nb")


def _row(definition: IndicatorDefinition, result: ResultData | None) -> IndicatorRow:
    language = get_language() or "nb"
    if result is None:
        return IndicatorRow(definition, title_of(definition), definition.description.get(language), False,
                            _("No result for this indicator."), Figure(None, None, None, None, True, definition.unit))
    return IndicatorRow(
        definition=definition,
        title=title_of(definition),
        description=definition.description.get(language),
        available=bool(result.available),
        reason=reason_text(result.reason) if not result.available else "",
        figure=figure_of(result, definition),
        breakdowns=breakdowns_of(result),
    )


def _trend_x(period_text: str) -> int | dt.date:
    """Years on the x axis as numbers (the chart's summary then reads "2021"), other periods by their start."""
    return int(period_text) if period_text.isdigit() else Period.parse(period_text).start


def _trend_chart(row: IndicatorRow) -> str:
    unit = row.definition.unit
    proportion = unit == Unit.PROPORTION
    xs = [_trend_x(label) for label, _figure in row.trend]
    points = [(x, figure.number) for x, (_label, figure) in zip(xs, row.trend, strict=True)]
    if all(value is None for _x, value in points):
        return ""
    markers = []
    if row.definition.target is not None:
        markers.append(charts.Marker(_("National target"), y=row.definition.target))
    return charts.line_chart(
        [charts.Series(row.title, points)],
        title=_("%(indicator)s over time") % {"indicator": row.title},
        width=300, height=130,
        y_min=0.0 if proportion else None, y_max=1.0 if proportion else None,
        markers=markers,
        x_labels=[(x, label) for x, (label, _f) in zip(xs, row.trend, strict=True)],
        y_format=(lambda v: charts.format_percent(v)) if proportion else None,
        chart_id=f"trend-{row.id}",
    )


def _strata_chart(row: IndicatorRow, by_label: str) -> str:
    if not row.strata:
        return ""
    proportion = row.definition.unit == Unit.PROPORTION
    markers = []
    if row.definition.target is not None:
        markers.append(charts.Marker(_("National target"), x=row.definition.target))
    return charts.bar_chart(
        [charts.Bar(label, figure.number, note=figure.counts_text) for label, figure in row.strata],
        title=_("%(indicator)s by %(stratifier)s") % {"indicator": row.title, "stratifier": by_label},
        width=520,
        x_min=0.0 if proportion else None, x_max=1.0 if proportion else None,
        markers=markers,
        value_format=lambda v: format_value(v, row.definition.unit),
        suppressed_note=_(": hidden to protect privacy (too few persons)"),
        chart_id=f"strata-{row.id}",
    )


# ---------------------------------------------------------------------------
# Scopes


def scope_label(scope: engine.Scope, name: str = "") -> str:
    labels = {
        "national": _("Norway"),
        "region": _("Region"),
        "trust": _("Health trust"),
        "municipality": _("Municipality"),
        "unit": _("Unit"),
    }
    if scope.level == "national":
        return labels["national"]
    return f"{labels.get(scope.level, scope.level)} {name or scope.code}"


def stratifier_label(name: str) -> str:
    return {
        "region": _("health region"),
        "trust": _("health trust"),
        "municipality": _("municipality"),
        "team": _("unit or team"),
        "centrality": _("centrality class"),
        "sex": _("sex"),
        "age": _("age band"),
        "immigrant": _("immigrant background"),
    }.get(name, name)


def stratum_label(by: str, key: str, name: str = "") -> str:
    """The display name of a stratum: coded values translated, names of places and units as they are."""
    if by == "centrality" and key.isdigit():
        # SSB's centrality classes: 1-3 the more central (urban) municipalities, 4-6 the less central (rural).
        kind = _("urban") if int(key) <= 3 else _("rural")
        return _("class %(number)s (%(kind)s)") % {"number": key, "kind": kind}
    coded = {
        "female": _("Female"), "male": _("Male"), "other": _("Other"), "unknown": _("Unknown"),
        "none": _("No immigrant background"), "immigrant": _("Immigrant"),
        "norwegian_born": _("Norwegian-born to immigrant parents"),
    }
    if by in ("sex", "immigrant", "centrality", "age") or key == "unknown":
        return coded.get(key, key)
    return name or key


def which_label(which: str) -> str:
    return {"numerator": _("counted in the numerator (the event happened)"),
            "denominator": _("the whole population (the denominator)")}.get(which, which)


def reason_text(reason: str) -> str:
    """A translated explanation of why an indicator is not available (the engine's reason is technical)."""
    if "not implemented" in reason:
        return _("The computation for this indicator is not implemented yet.")
    if "not installed" in reason:
        return _("Helhet does not record the data this indicator needs yet.")
    if reason:
        return _("No data of this kind has been recorded for the period.")
    return _("No result for this indicator.")


def act_fact_availability(scope: engine.Scope) -> dict[str, Any] | None:
    """ACT/FACT availability per region (national view) or per trust (region view): teams and municipalities
    covered, out of the municipalities in the catchment areas. Organisation data, not person data."""
    from django.db.models import Count, Q

    from helhet.organisations.models import HealthRegion, HealthTrust, Municipality, UnitKind

    kinds = (UnitKind.ACT, UnitKind.FACT)
    areas: Any
    if scope.level == "national":
        areas = HealthRegion.objects.annotate(teams=Count(
            "trusts__units", filter=Q(trusts__units__kind__in=kinds, trusts__units__active=True), distinct=True))
        area_key = "catchment_trust__region"
    elif scope.level == "region":
        areas = HealthTrust.objects.filter(region__code=scope.code).annotate(teams=Count(
            "units", filter=Q(units__kind__in=kinds, units__active=True), distinct=True))
        area_key = "catchment_trust"
    else:
        return None
    areas = list(areas.order_by("name"))
    # Municipalities split by district (Oslo) have no single catchment trust and are left out here.
    municipalities = Municipality.objects.filter(**{f"{area_key}__in": [a.pk for a in areas]}).annotate(
        served=Count("units", filter=Q(units__kind__in=kinds, units__active=True)))
    covered: dict[int, list[int]] = {}
    for area_id, served in municipalities.values_list(area_key, "served"):
        counts = covered.setdefault(area_id, [0, 0])
        counts[0] += 1
        counts[1] += 1 if served else 0
    rows = []
    for area in areas:
        total, served = covered.get(area.pk, [0, 0])
        rows.append({"name": area.name, "teams": area.teams, "municipalities": total, "covered": served,
                     "share": format_value(served / total, Unit.PROPORTION) if total else SUPPRESSED_MARK})
    return {"rows": rows, "by_label": stratifier_label("region" if scope.level == "national" else "trust")}


@dataclass(frozen=True)
class Comparison:
    label: str
    scope: engine.Scope


# ---------------------------------------------------------------------------
# The team/unit dashboard


@dataclass
class Dashboard:
    scope: engine.Scope
    scope_name: str
    period: Period
    periods: list[Period]
    rows: list[IndicatorRow]
    comparison_labels: list[str]
    by: str | None = None
    by_label: str = ""
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    living_conditions: list[IndicatorRow] = field(default_factory=list)
    recovery: list[IndicatorRow] = field(default_factory=list)
    strategy: dict[str, Any] | None = None
    act_fact: dict[str, Any] | None = None
    threshold: int = field(default_factory=lambda: threshold())
    computed_at: dt.datetime | None = None  # when the oldest figure shown was computed

    @property
    def max_age_hours(self) -> int:
        """Figures older than this are computed again (engine.SNAPSHOT_MAX_AGE)."""
        return int(engine.SNAPSHOT_MAX_AGE.total_seconds() // 3600)

    @property
    def available(self) -> list[IndicatorRow]:
        return [row for row in self.rows if row.available]

    @property
    def unavailable(self) -> list[IndicatorRow]:
        return [row for row in self.rows if not row.available]

    @property
    def table_columns(self) -> int:
        """Columns of the indicator table without the persons column: indicator, value, counts, the
        comparisons, target and trend (a breakdown's row spans them)."""
        return 4 + len(self.comparison_labels) + (1 if len(self.periods) > 1 else 0)


def select_definitions(indicator_ids: Sequence[str] | None) -> list[IndicatorDefinition]:
    known = definitions()
    if indicator_ids is None:
        return list(known.values())
    return [known[i] for i in indicator_ids]


def _rows(*, scope: engine.Scope, period: Period, periods: Sequence[Period], comparisons: Sequence[Comparison],
          indicator_ids: Sequence[str] | None, with_charts: bool = True) -> list[IndicatorRow]:
    with noting_computation_times() as trend_times:
        by_period = {p.text: cached_published(p, scope) for p in periods}
    compared = [(c.label, cached_published(period, c.scope)) for c in comparisons]
    # The charts are cached with the results: drawing 45 of them would be most of a cached page's time.
    # (Keyed by when the trend's results were computed too: results computed again get new charts.)
    drawn_from = min(trend_times, default=None)
    charts_key = (f"helhet:indicators:{generation()}:trend-charts:{threshold()}:{scope.level}:{scope.code or '-'}:"
                  f"{','.join(p.text for p in periods)}:{get_language()}:"
                  f"{drawn_from.timestamp() if drawn_from else '-'}")
    drawn: dict[str, str] = cache.get(charts_key) or {}
    missing = False
    rows = []
    for definition in select_definitions(indicator_ids):
        row = _row(definition, by_period[period.text].get(definition.id))
        if row.available:
            row.comparisons = [(label, figure_of(results.get(definition.id), definition))
                               for label, results in compared]
            row.trend = [(p.text, figure_of(by_period[p.text].get(definition.id), definition))
                         for p in periods]
            if with_charts and len(periods) > 1:
                if definition.id not in drawn:
                    drawn[definition.id] = _trend_chart(row)
                    missing = True
                row.trend_svg = drawn[definition.id]
        rows.append(row)
    if missing:
        cache.set(charts_key, drawn, cache_seconds(drawn_from))
    return rows


def team_dashboard(
    *,
    scope: engine.Scope,
    scope_name: str,
    period: Period,
    comparisons: Sequence[Comparison],
    indicator_ids: Sequence[str] | None = None,
) -> Dashboard:
    """Every indicator for one unit: value, counts, trend, comparisons, target; unavailable ones listed."""
    periods = trend_periods(period)
    with noting_computation_times() as times:
        rows = _rows(scope=scope, period=period, periods=periods, comparisons=comparisons,
                     indicator_ids=indicator_ids)
    return Dashboard(scope=scope, scope_name=scope_name, period=period, periods=periods, rows=rows,
                     comparison_labels=[c.label for c in comparisons], computed_at=min(times, default=None))


# ---------------------------------------------------------------------------
# The analyst dashboard: one scope, optionally stratified, with outcome and strategy sections


def analyst_dashboard(
    *,
    scope: engine.Scope,
    scope_name: str,
    period: Period,
    by: str | None,
    comparisons: Sequence[Comparison] = (),
    indicator_ids: Sequence[str] | None = None,
) -> Dashboard:
    """One area (country, region, trust), optionally stratified, with the outcome and strategy sections."""
    periods = trend_periods(period)
    with noting_computation_times() as times:
        return _analyst_dashboard(scope=scope, scope_name=scope_name, period=period, periods=periods, by=by,
                                  comparisons=comparisons, indicator_ids=indicator_ids, times=times)


def _analyst_dashboard(*, scope: engine.Scope, scope_name: str, period: Period, periods: list[Period],
                       by: str | None, comparisons: Sequence[Comparison], indicator_ids: Sequence[str] | None,
                       times: list[dt.datetime]) -> Dashboard:
    rows = _rows(scope=scope, period=period, periods=periods, comparisons=comparisons, indicator_ids=indicator_ids)
    by_label = stratifier_label(by) if by else ""
    if by:
        stratified = cached_published(period, scope, by)
        for row in rows:
            result = stratified.get(row.id)
            if row.available and result is not None and by in row.definition.stratifiers:
                row.strata = [(name, figure) for _key, name, figure in strata_of(result, by, row.definition)]
                row.strata_svg = _strata_chart(row, by_label)
    dashboard = Dashboard(scope=scope, scope_name=scope_name, period=period, periods=periods, rows=rows,
                          comparison_labels=[c.label for c in comparisons], by=by, by_label=by_label)
    dashboard.outcomes, dashboard.living_conditions, dashboard.recovery = outcome_sections(rows)
    dashboard.strategy = strategy_section(scope=scope, period=period)
    dashboard.act_fact = act_fact_availability(scope)
    dashboard.computed_at = min(times, default=None)
    return dashboard


def outcome_sections(rows: Sequence[IndicatorRow]) -> tuple[list[dict[str, Any]], list[IndicatorRow], list[IndicatorRow]]:
    """Outcome results from the rows already computed: per instrument change, reliable improvement, recovery."""
    by_id = {row.id: row for row in rows}
    instruments = []
    for instrument in OUTCOME_INSTRUMENTS:
        parts = {kind: by_id.get(f"rop-09-{instrument}-{kind}")
                 for kind in ("change", "reliable-improvement", "recovered")}
        if any(parts.values()):
            instruments.append({"instrument": instrument.upper(), **{k.replace("-", "_"): v for k, v in parts.items()}})
    living = [row for row in rows if row.id.startswith("rop-09-living-conditions-")]
    recovery = [row for row in rows if row.id.startswith("rop-10")]
    return instruments, living, recovery


def strategy_section(*, scope: engine.Scope, period: Period) -> dict[str, Any] | None:
    """Strategy follow-up: per region (national view) or per trust (region view), coverage of key practices."""
    by = {"national": "region", "region": "trust"}.get(scope.level)
    if by is None:
        return None
    results = (cached_published(period, scope, by))
    known = definitions()
    columns = [known[i] for i in STRATEGY_INDICATORS if i in known]
    table: dict[str, dict[str, Figure]] = {}
    unavailable: list[tuple[str, str]] = []
    for definition in columns:
        result = results.get(definition.id)
        if result is None or not result.available:
            unavailable.append((title_of(definition), reason_text(result.reason if result else "")))
            continue
        for _key, name, figure in strata_of(result, by, definition):
            table.setdefault(name, {})[definition.id] = figure
    missing = Figure(None, None, None, None, True, Unit.PROPORTION)
    rows = [
        {"stratum": stratum, "cells": [cells.get(d.id, missing) for d in columns]}
        for stratum, cells in sorted(table.items())
    ]
    return {
        "by": by, "by_label": stratifier_label(by), "columns": [(d.id, title_of(d)) for d in columns],
        "rows": rows, "unavailable": unavailable,
    }


def strata_names() -> tuple[str, ...]:
    return STRATIFIERS


# ---------------------------------------------------------------------------
# What a scope is called and what it is compared with


@dataclass
class ScopeInfo:
    scope: engine.Scope
    name: str
    region_id: int | None
    comparisons: list[Comparison]
    unit: Any = None  # the ServiceUnit of a unit scope


def scope_info(scope: engine.Scope) -> ScopeInfo | None:
    """Name, region and comparison scopes (trust, region, country) of a scope; None if it does not exist."""
    from helhet.organisations.models import HealthRegion, HealthTrust, Municipality, ServiceUnit

    country = Comparison(_("Norway"), engine.NATIONAL)
    if scope.level == "national":
        return ScopeInfo(engine.NATIONAL, _("Norway"), None, [])
    if scope.level == "region":
        region = HealthRegion.objects.filter(code=scope.code).first()
        return None if region is None else ScopeInfo(scope, region.name, region.pk, [country])
    if scope.level == "trust":
        trust = HealthTrust.objects.select_related("region").filter(code=scope.code).first()
        if trust is None:
            return None
        return ScopeInfo(scope, trust.name, trust.region_id, [
            Comparison(trust.region.name, engine.Scope("region", trust.region.code)), country])
    if scope.level == "municipality":
        municipality = Municipality.objects.filter(number=scope.code).first()
        return None if municipality is None else ScopeInfo(scope, municipality.name, None, [country])
    if scope.level != "unit":
        return None
    unit = ServiceUnit.objects.select_related("trust__region").filter(code=scope.code).first()
    if unit is None:
        return None
    comparisons = []
    if unit.trust is not None:
        comparisons += [Comparison(unit.trust.name, engine.Scope("trust", unit.trust.code)),
                        Comparison(unit.trust.region.name, engine.Scope("region", unit.trust.region.code))]
    return ScopeInfo(scope, unit.name, unit.trust.region_id if unit.trust else None, [*comparisons, country], unit)


def build(info: ScopeInfo, period: Period, *, by: str | None = None,
          indicator_ids: Sequence[str] | None = None) -> Dashboard:
    """The dashboard of a scope: the team dashboard for a unit, the analyst dashboard otherwise."""
    if info.scope.level == "unit":
        return team_dashboard(scope=info.scope, scope_name=info.name, period=period, comparisons=info.comparisons,
                              indicator_ids=indicator_ids)
    return analyst_dashboard(scope=info.scope, scope_name=info.name, period=period, by=by,
                             comparisons=info.comparisons, indicator_ids=indicator_ids)
