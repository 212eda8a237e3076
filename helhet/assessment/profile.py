"""The integrated profile: substance use, mental health, somatic health and living conditions side by side.

``build_profile`` reads a person's stored scores in ONE query and turns them into a
view-model the person-page panel and the PDF both render: per domain, per instrument
the latest score with its band and date, the flags raised at that administration,
reliable change from the first (baseline) administration, and an SVG trend chart
(``helhet.charts.line_chart``) with the bands shaded, the caseness cut-off drawn and
every administration that differs reliably from baseline marked.

Call it only after ``open_person`` has authorized the access.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from django.db.models import Q
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helhet.assessment.forms import text_language
from helhet.assessment.library import Band, Instrument, all_instruments
from helhet.assessment.models import FLAG_PREFIX, ITEM_PREFIX, TOTAL_PART, ScoreObservation
from helhet.assessment.scoring import ChangeResult, ChangeStatus, CutoffReading, ScoreResult, reliable_change
from helhet.charts import Band as ChartBand
from helhet.charts import Marker, Series, format_number, line_chart
from helhet.persons.models import Person

# The four areas of the integrated profile, in the order they are shown.
DOMAINS: tuple[tuple[str, Any], ...] = (
    ("substance_use", gettext_lazy("Substance use")),
    ("mental_health", gettext_lazy("Mental health")),
    ("somatic_health", gettext_lazy("Somatic health")),
    ("living_conditions", gettext_lazy("Living conditions")),
)
# Band shading from the best band to the worst (ColorBrewer RdYlGn, reversed).
BAND_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")
IMPROVED_COLOUR = "#009E73"
DETERIORATED_COLOUR = "#D55E00"
CHART_WIDTH = 320
CHART_HEIGHT = 200


@dataclass
class TrendPoint:
    administration_id: int
    date: dt.date
    value: float | None
    absent_reason: str
    band: str  # band display, "" when none
    caseness: bool | None
    change: ChangeStatus | None  # against the baseline; None for the baseline itself


@dataclass
class InstrumentTrend:
    instrument: Instrument
    title: str
    part: str  # the headline part: "total", or a derived value such as "bmi"
    part_label: str
    points: list[TrendPoint]
    flags: list[str]  # flags raised at the latest administration
    area_ratings: list[dict[str, str]]  # living conditions: the latest rating of each area
    change: ChangeResult | None  # baseline → latest
    chart: SafeString

    @property
    def latest(self) -> TrendPoint:
        return self.points[-1]

    @property
    def baseline(self) -> TrendPoint:
        return self.points[0]

    @property
    def number_format(self) -> str:
        """The floatformat argument for this part: whole totals, means and derived values with their decimals."""
        if self.part == TOTAL_PART:
            decimals = self.instrument.scoring.decimals if self.instrument.scoring.method == "mean" else 0
        else:
            decimals = next((d.decimals for d in self.instrument.scoring.derived if d.code == self.part), 2)
        return str(decimals)

    @property
    def show_change(self) -> bool:
        return self.change is not None and self.change.status != ChangeStatus.NOT_DEFINED

    @property
    def change_label(self) -> str:
        return change_label(self.change.status) if self.change is not None else ""

    @property
    def change_css(self) -> str:
        return change_css(self.change.status) if self.change is not None else ""


@dataclass
class DomainProfile:
    code: str
    label: str
    trends: list[InstrumentTrend] = field(default_factory=list)
    instruments: list[Instrument] = field(default_factory=list)  # every library instrument of the domain


@dataclass
class Profile:
    person: Person
    domains: list[DomainProfile]
    administrations: int

    @property
    def empty(self) -> bool:
        return self.administrations == 0


def change_label(status: ChangeStatus) -> str:
    return {
        ChangeStatus.IMPROVED: _("Reliable improvement"),
        ChangeStatus.DETERIORATED: _("Reliable deterioration"),
        ChangeStatus.NO_RELIABLE_CHANGE: _("No reliable change"),
        ChangeStatus.NOT_COMPUTABLE: _("Change not computable (a score is absent)"),
        ChangeStatus.NOT_DEFINED: _("No reliable change rule for this instrument"),
    }[status]


def change_css(status: ChangeStatus) -> str:
    return {ChangeStatus.IMPROVED: "ok", ChangeStatus.DETERIORATED: "bad"}.get(status, "")


def _headline_part(instrument: Instrument) -> str | None:
    """The part whose trend the profile shows: the total, or the first derived value (BMI) for forms without one."""
    if instrument.scoring.method != "none":
        return TOTAL_PART
    if instrument.scoring.derived:
        return instrument.scoring.derived[0].code
    return None


def _stored_result(instrument: Instrument, value: float | None, caseness: bool | None) -> ScoreResult:
    """A stored score as the minimal ScoreResult that ``reliable_change`` compares.

    Caseness is the stored reading (made with the person's sex when it was scored), so a
    sex-specific caseness cut-off is read the same way as when the score was recorded.
    """
    scoring = instrument.scoring
    readings: tuple[CutoffReading, ...] = ()
    if scoring.caseness is not None and caseness is not None:
        cutoff = scoring.cutoff(scoring.caseness)
        readings = (CutoffReading(cutoff.code, cutoff.display, "any", min(cutoff.thresholds.values()), caseness),)
    total = value if scoring.method == "sum" else None
    mean = value if scoring.method == "mean" else None
    empty: MappingProxyType[str, Any] = MappingProxyType({})
    return ScoreResult(
        instrument_id=instrument.id, instrument_version=instrument.version, method=scoring.method,
        total=total, mean=mean, missing_reason=None if value is not None else "absent", missing_items=(),
        implied_items=(), answers=empty, item_scores=empty, item_bands=empty, subscales=(), derived=(),
        band=None, cutoffs=readings, flags=(), flags_undetermined=(), sex=None,
    )


def _bands(instrument: Instrument, part: str) -> tuple[Band, ...]:
    if part == TOTAL_PART:
        return instrument.scoring.bands
    for derived in instrument.scoring.derived:
        if derived.code == part:
            return derived.bands
    return ()


def _band_display(instrument: Instrument, part: str, code: str, language: str) -> str:
    for band in _bands(instrument, part):
        if band.code == code:
            return band.display.get(language)
    return code


def _chart(instrument: Instrument, trend_title: str, part: str, points: list[TrendPoint], sex: str,
           language: str) -> SafeString:
    scoring = instrument.scoring
    values = [p.value for p in points if p.value is not None]
    if part == TOTAL_PART and scoring.range is not None:
        y_low, y_high = scoring.range
    elif values:  # a derived value (BMI): the data's own range, a little wider, not the bands' 0–500
        y_low, y_high = math.floor(min(values)) - 2, math.ceil(max(values)) + 2
    else:
        y_low, y_high = 0.0, 1.0
    bands = _bands(instrument, part)
    ordered = list(bands) if scoring.higher_is_worse or part != TOTAL_PART else list(reversed(bands))
    chart_bands: list[ChartBand] = []
    for index, band in enumerate(ordered):
        colour = BAND_COLOURS[min(round(index * (len(BAND_COLOURS) - 1) / max(len(ordered) - 1, 1)),
                                  len(BAND_COLOURS) - 1)]
        following = [b.min for b in bands if b.min > band.min]
        low, high = max(band.min, y_low), min(min(following) if following else band.max, y_high)
        if low >= high:
            continue
        # Label only bands tall enough for their label in a small chart; the colour and the band field say the rest.
        label = band.display.get(language) if (high - low) / (y_high - y_low) >= 0.18 else ""
        chart_bands.append(ChartBand(low, high, colour, label))
    markers: list[Marker] = []
    if part == TOTAL_PART and scoring.caseness is not None:
        cutoff = scoring.cutoff(scoring.caseness)
        threshold = cutoff.thresholds.get("any", cutoff.thresholds.get(sex))
        if threshold is not None:
            markers.append(Marker(label=cutoff.display.get(language), y=threshold))
    series = [Series(trend_title, [(p.date, p.value) for p in points])]
    for status, label, colour in (
        (ChangeStatus.IMPROVED, _("Reliable improvement"), IMPROVED_COLOUR),
        (ChangeStatus.DETERIORATED, _("Reliable deterioration"), DETERIORATED_COLOUR),
    ):
        marked = [(p.date, p.value if p.change == status else None) for p in points]
        if any(value is not None for _date, value in marked):
            series.append(Series(label, marked, colour))
    svg = line_chart(
        series, title=trend_title, width=CHART_WIDTH, height=CHART_HEIGHT, y_min=y_low, y_max=y_high,
        bands=chart_bands, markers=markers, y_format=format_number,
        description=_("%(count)d administrations.") % {"count": len(points)},
    )
    return mark_safe(svg)  # noqa: S308 -- charts.py escapes every text it writes


def build_profile(person: Person) -> Profile:
    """The person's integrated profile; one database query whatever the number of administrations."""
    language = text_language()
    instruments = {i.id: i for i in all_instruments() if i.domain in dict(DOMAINS)}
    headline = {i.id: part for i in instruments.values() if (part := _headline_part(i)) is not None}
    wanted = Q(part__startswith=FLAG_PREFIX) | Q(part__startswith=ITEM_PREFIX)
    for part in set(headline.values()):
        wanted |= Q(part=part)
    rows = (
        ScoreObservation.objects.filter(person=person, instrument_id__in=list(headline))
        .filter(wanted)
        .order_by("effective", "administration_id", "id")
        .values_list("administration_id", "instrument_id", "part", "value", "absent_reason", "band", "caseness",
                     "flagged", "effective")
    )
    points: dict[str, list[TrendPoint]] = defaultdict(list)
    flags: dict[tuple[int, str], list[str]] = defaultdict(list)
    areas: dict[int, list[tuple[str, float | None, str]]] = defaultdict(list)
    administrations: set[int] = set()
    for admin_id, instrument_id, part, value, absent, band, caseness, flagged, effective in rows:
        instrument = instruments[instrument_id]
        administrations.add(admin_id)
        if part == headline[instrument_id]:
            points[instrument_id].append(TrendPoint(
                admin_id, effective, value, absent, _band_display(instrument, part, band, language) if band else "",
                caseness, None))
        elif part.startswith(FLAG_PREFIX):
            if flagged:
                flags[(admin_id, instrument_id)].append(part[len(FLAG_PREFIX):])
        elif part.startswith(ITEM_PREFIX):
            areas[admin_id].append((part[len(ITEM_PREFIX):], value, band))

    domains = [DomainProfile(code, str(label)) for code, label in DOMAINS]
    by_code = {d.code: d for d in domains}
    for instrument in instruments.values():
        by_code[instrument.domain].instruments.append(instrument)
        series = points.get(instrument.id)
        if not series:
            continue
        part = headline[instrument.id]
        baseline = _stored_result(instrument, series[0].value, series[0].caseness)
        change = None
        for point in series[1:]:
            change = reliable_change(instrument, baseline, _stored_result(instrument, point.value, point.caseness))
            point.change = change.status
        latest = series[-1]
        flag_names = {rule.code: rule.display.get(language) for rule in instrument.scoring.flags}
        raised = [flag_names.get(code, code) for code in flags.get((latest.administration_id, instrument.id), [])]
        ratings = []
        for link_id, value, band in areas.get(latest.administration_id, []):
            item = instrument.item_by_link.get(link_id)
            if item is None:
                continue
            band_obj = next((b for b in item.bands if b.code == band), None)
            # The area's name is the item text up to its colon ("Housing: ...").
            ratings.append({"area": item.text.get(language).split(":", 1)[0], "value": format_number(value) if value is not None
                            else "", "band": band_obj.display.get(language) if band_obj else band, "code": band})
        title = instrument.title.get(language)
        part_label = _("Total") if part == TOTAL_PART else next(
            d.display.get(language) for d in instrument.scoring.derived if d.code == part)
        if instrument.scoring.method == "mean" and part == TOTAL_PART:
            part_label = _("Mean")
        by_code[instrument.domain].trends.append(InstrumentTrend(
            instrument=instrument, title=title, part=part, part_label=part_label, points=series, flags=raised,
            area_ratings=ratings, change=change,
            chart=_chart(instrument, title, part, series, person.sex, language),
        ))
    return Profile(person=person, domains=domains, administrations=len(administrations))
