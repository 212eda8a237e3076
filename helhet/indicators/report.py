"""The indicator report as a PDF: the dashboard's figures and charts plus a short methods section.

Rendered by WeasyPrint (helhet/web/pdf.py) from the same template fragments as the pages.
Used by the download on the dashboards and by ``helhet report --unit ID --period P --out FILE``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone, translation

from helhet.indicators import dashboard, engine
from helhet.indicators.definitions import Period
from helhet.web.pdf import render_pdf


def report_context(scope: engine.Scope, period: Period | str, *, by: str | None = None,
                   indicator_ids: list[str] | None = None) -> dict[str, Any]:
    """The report's template context; engine.IndicatorError for an unknown scope, period or stratifier."""
    the_period = engine.parse_period(period)
    if by is not None:
        engine.parse_stratifiers(by)
    info = dashboard.scope_info(scope)
    if info is None:
        engine.resolve_scope(scope)  # raises IndicatorError listing the valid codes
        raise engine.IndicatorError(f"unknown scope {scope}")
    board = dashboard.build(info, the_period, by=by, indicator_ids=indicator_ids)
    return {
        "board": board,
        "period": the_period,
        "generated": timezone.localtime(),
        "methods": [
            {"definition": row.definition, "title": row.title, "description": row.description,
             "target": row.target, "direction": row.direction}
            for row in board.rows
        ],
        "title": board.scope_name,
    }


def render_report(scope: engine.Scope, period: Period | str, *, by: str | None = None,
                  indicator_ids: list[str] | None = None, language: str | None = None,
                  request: HttpRequest | None = None) -> bytes:
    """The PDF report for a scope (a unit, trust, region or the country) and period."""
    if language is None:
        return render_pdf("indicators/report.html", report_context(scope, period, by=by,
                                                                   indicator_ids=indicator_ids), request=request)
    with translation.override(language):
        context = report_context(scope, period, by=by, indicator_ids=indicator_ids)
        return render_pdf("indicators/report.html", context, request=request)
