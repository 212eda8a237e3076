"""Published indicator tables as CSV and XLSX (openpyxl).

One row per indicator and stratum (long format, the easiest for analysts to pivot):
the total first, then the strata of the chosen stratifier; a median published with its
quartiles has them in two columns of its own. Breakdowns of a numerator (5a: rejected
referrals by reason) are a second table: a second sheet in XLSX, and in CSV after an empty
line, with its own header. Only published figures: a suppressed cell is written as ":" in
every numeric column and nothing else.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from helhet.indicators import dashboard, engine
from helhet.indicators.definitions import Period, Unit

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

Value = str | int | float | None


@dataclass
class ExportSection:
    """A further table of the download (a sheet of its own in XLSX)."""

    sheet: str
    header: list[str]
    rows: list[list[Value]]


@dataclass
class ExportTable:
    title: str
    header: list[str]
    rows: list[list[Value]]
    notes: list[str]
    sections: list[ExportSection] = field(default_factory=list)


def _number(value: float | None) -> Value:
    return dashboard.SUPPRESSED_MARK if value is None else round(value, 4)


def _cells(figure: dashboard.Figure, quartiles: bool = False) -> list[Value]:
    """Numerator, denominator, value, first and third quartile ("" for indicators without them)."""
    if figure.suppressed:
        mark = dashboard.SUPPRESSED_MARK
        return [mark, mark, mark, *([mark, mark] if quartiles else ["", ""])]
    numerator: Value = figure.numerator if figure.numerator is not None else ""
    spread: list[Value] = ["", ""]
    if figure.quartiles is not None:
        spread = [_number(figure.quartiles.q1), _number(figure.quartiles.q3)]
    return [numerator, figure.denominator, _number(figure.number), *spread]


def unit_text(unit: Unit) -> str:
    return {
        Unit.PROPORTION: _("proportion (0-1)"),
        Unit.MEDIAN_DAYS: _("median, days"),
        Unit.MEAN_CHANGE: _("mean change in score"),
        Unit.MEAN_SCORE: _("mean score"),
        Unit.MEDIAN_SCORE: _("median score"),
    }[unit]


def published_table(*, scope: engine.Scope, scope_name: str, period: Period, by: str | None,
                    indicator_ids: Sequence[str] | None = None) -> ExportTable:
    overall = dashboard.cached_published(period, scope)
    stratified = dashboard.cached_published(period, scope, by) if by else {}
    header = [_("Indicator"), _("Title"), _("Period"), _("Scope"), _("Stratifier"), _("Stratum"),
              _("Numerator"), _("Denominator"), _("Value"), _("First quartile"), _("Third quartile"), _("Unit"),
              _("Target"), _("Not available because")]
    rows: list[list[Value]] = []
    breakdown_header = [_("Indicator"), _("Title"), _("Period"), _("Scope"), _("Table"), _("Category code"),
                        _("Category"), _("Count"), _("Share"), pgettext("indicator table", "Total")]
    breakdown_rows: list[list[Value]] = []
    for definition in dashboard.select_definitions(indicator_ids):
        title = dashboard.title_of(definition)
        target: Value = definition.target if definition.target is not None else ""
        common: list[Value] = [definition.id, title, period.text, scope_name]
        result = overall.get(definition.id)
        if result is None or not result.available:
            reason = dashboard.reason_text(result.reason if result else "")
            rows.append([*common, "", "", "", "", "", "", "", unit_text(definition.unit), target, reason])
            continue
        quartiles = engine.has_quartiles(definition)
        total = dashboard.figure_of(result, definition)
        total_label = pgettext("indicator table", "Total")
        rows.append([*common, "", total_label, *_cells(total, quartiles), unit_text(definition.unit), target, ""])
        strata = stratified.get(definition.id)
        if by and strata is not None and by in definition.stratifiers:
            for _key, name, figure in dashboard.strata_of(strata, by, definition):
                rows.append([*common, dashboard.stratifier_label(by), name, *_cells(figure, quartiles),
                             unit_text(definition.unit), target, ""])
        for breakdown in dashboard.breakdowns_of(result):
            mark = dashboard.SUPPRESSED_MARK
            total_cell: Value = mark if breakdown.total is None else breakdown.total
            for key, label, figure in breakdown.rows:
                shown = not figure.suppressed
                breakdown_rows.append([*common, breakdown.title, key, label, figure.numerator if shown else mark,
                                       _number(figure.rate) if shown else mark, total_cell])
    notes = [
        _("Published figures only. “%(mark)s” marks a figure hidden to protect privacy: a count below "
          "%(threshold)s, a rate built on one, or a further figure hidden so that a hidden one cannot be "
          "worked out from the totals.") % {"mark": dashboard.SUPPRESSED_MARK, "threshold": dashboard.threshold()},
    ]
    if breakdown_rows:
        notes.append(_("The sheet “%(sheet)s” breaks numerators down by a category (rejected referrals by "
                       "reason): each count with its share of the total, suppressed by the same rules with the "
                       "numerator as the total.") % {"sheet": _("Breakdowns")})
    notes.append(_("Quartiles: linear interpolation between the ordered values (PERCENTILE_CONT); shown only "
                   "with their median."))
    title = _("Quality indicators, %(scope)s, %(period)s") % {"scope": scope_name, "period": period.text}
    sections = [ExportSection(_("Breakdowns"), breakdown_header, breakdown_rows)] if breakdown_rows else []
    return ExportTable(title=title, header=header, rows=rows, notes=notes, sections=sections)


def _safe(value: Value) -> Value:
    """Text that a spreadsheet would read as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and value != "-":
        return "'" + value
    return value


def to_csv(table: ExportTable) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")  # ";" as Norwegian spreadsheets expect
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow(["" if v is None else _safe(v) for v in row])
    for section in table.sections:  # a second table after an empty line, with its own header
        writer.writerow([])
        writer.writerow(section.header)
        for row in section.rows:
            writer.writerow(["" if v is None else _safe(v) for v in row])
    # A byte-order mark lets spreadsheets read the file as UTF-8 (æ, ø, å).
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: ExportTable) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("Indicators")[:31]
    sheet.append(table.header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_safe(v) for v in row])
    sheet.freeze_panes = "A2"
    for column, width in zip("ABCDEFGHIJKLMN", (38, 50, 10, 24, 18, 30, 11, 12, 10, 10, 10, 22, 8, 40),
                             strict=True):
        sheet.column_dimensions[column].width = width
    for section in table.sections:
        extra = workbook.create_sheet(section.sheet[:31])
        extra.append(section.header)
        for cell in extra[1]:
            cell.font = Font(bold=True)
        for row in section.rows:
            extra.append([_safe(v) for v in row])
        extra.freeze_panes = "A2"
        for column, width in zip("ABCDEFGHIJ", (38, 40, 10, 24, 30, 16, 44, 8, 8, 8), strict=True):
            extra.column_dimensions[column].width = width
    about = workbook.create_sheet(_("About"))
    about.append([table.title])
    about["A1"].font = Font(bold=True)
    for note in table.notes:
        about.append([note])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render(table: ExportTable, fmt: str) -> tuple[bytes, str]:
    body = to_csv(table) if fmt == "csv" else to_xlsx(table)
    return body, CONTENT_TYPES[fmt]


def filename(scope: engine.Scope, period: Period, by: str | None, extension: str) -> str:
    parts = ["indicators", scope.level] + ([scope.code] if scope.code else []) + [period.text]
    if by:
        parts.append(by)
    safe = "-".join("".join(ch for ch in part if ch.isalnum() or ch in "-_.") for part in parts)
    return f"{safe}.{extension}"
