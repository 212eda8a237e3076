"""`helhet indicators --period 2025 [--by STRATIFIER] [--scope LEVEL:CODE] [--format table|csv|json|fhir]`;
`helhet indicators warm [--period P] [--levels region,trust]` computes ahead what the dashboards read
(warmup.py): run it after a bulk load and, say, nightly, within the maximum age of stored results.

Prints published results only (small cells and their complements suppressed, ``:``
marking a hidden figure); unknown values stop with a message listing the valid ones.
Medians published with their quartiles carry ``q1`` and ``q3``; breakdowns of a numerator
(5a: rejected referrals by reason) follow their indicator's rows with ``table`` set to
"breakdown", the breakdown's name as ``stratifier``, the category as ``stratum``, its count
as ``numerator``, the numerator it breaks down as ``denominator`` and the share as ``value``.
"""

from __future__ import annotations

import csv
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helhet.indicators import engine
from helhet.indicators.definitions import STRATIFIERS
from helhet.indicators.suppression import DEFAULT_THRESHOLD, PublishedCell

FORMATS = ("table", "csv", "json", "fhir")
HIDDEN = ":"  # SSB's symbol for a figure withheld to protect confidentiality
CSV_COLUMNS = ("indicator", "period", "scope", "stratifier", "stratum", "label", "numerator", "denominator",
               "value", "suppressed", "available", "reason", "q1", "q3", "table")


def _value(definition: Any, cell: PublishedCell) -> float | None:
    if cell.suppressed:
        return None
    return cell.rate if definition.is_proportion else cell.value


def rows(results: list[engine.PublishedResult]) -> list[dict[str, Any]]:
    """One flat row per total and per stratum (the CSV and JSON layout)."""
    flat: list[dict[str, Any]] = []
    for result in results:
        common = {"indicator": result.indicator_id, "period": str(result.period), "scope": str(result.scope),
                  "available": result.available, "reason": result.reason}
        cells = [("", "", "", result.total, result.quartiles)]
        for name, strata in result.strata.items():
            cells += [(name, row.stratum, result.labels.get(name, {}).get(row.stratum, row.stratum), row.cell,
                       result.strata_quartiles.get(name, {}).get(row.stratum)) for row in strata]
        for stratifier, stratum, label, cell, quartiles in cells:
            value = _value(result.indicator, cell) if result.available else None
            flat.append({**common, "stratifier": stratifier, "stratum": stratum, "label": label,
                         "numerator": None if cell.suppressed else cell.numerator,
                         "denominator": None if cell.suppressed else cell.denominator,
                         "value": None if value is None else round(value, 6),
                         "suppressed": result.available and cell.suppressed,
                         "q1": None if quartiles is None else round(quartiles.q1, 6),
                         "q3": None if quartiles is None else round(quartiles.q3, 6), "table": "indicator"})
        for name, breakdown in result.breakdowns.items():
            for row in breakdown.rows:
                flat.append({**common, "stratifier": name, "stratum": row.key, "label": row.label,
                             "numerator": row.count, "denominator": None if row.suppressed else breakdown.total,
                             "value": None if row.share is None else round(row.share, 6),
                             "suppressed": row.suppressed, "q1": None, "q3": None, "table": "breakdown"})
    return flat


class Command(BaseCommand):
    help = ("Quality indicators for a period, as published (suppressed): "
            "helhet indicators --period 2025 --by region --format csv")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action")
        warm = sub.add_parser(
            "warm", help="compute ahead the results the dashboards read, for every worker (warmup.py)")
        warm.add_argument("--period", help="the dashboards' chosen period (default: the pages' default, the "
                                           "last complete year); it and the four before it are warmed")
        warm.add_argument("--levels", default="", help="also each region and/or trust by every stratifier for "
                                                       "the chosen period: region, trust or region,trust")
        parser.add_argument("--period", help="2025, 2025-Q1, 2025-03 or 2025-01..2025-06 (required)")
        parser.add_argument("--by", default="", help=f"stratifier(s), comma-separated: {', '.join(STRATIFIERS)}, "
                                                     "or all")
        parser.add_argument("--scope", default="national",
                            help="national, or region:CODE, trust:CODE, municipality:NUMBER, unit:CODE")
        parser.add_argument("--indicator", action="append", default=[], help="indicator id; repeat for several")
        parser.add_argument("--format", default="table", help=f"one of {', '.join(FORMATS)}")
        parser.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD,
                            help="small-cell threshold (default 5)")

    def handle(self, *args: object, **options: Any) -> None:
        if options.get("action") == "warm":
            self._warm(options)
            return
        if not options["period"]:
            raise CommandError("the following arguments are required: --period (or: helhet indicators warm)")
        output_format = options["format"]
        if output_format not in FORMATS:
            raise CommandError(f"unknown format {output_format!r}; valid: {', '.join(FORMATS)}")
        by = [name.strip() for name in options["by"].split(",") if name.strip()]
        try:
            scope = engine.Scope.parse(options["scope"])
            results = engine.published(options["period"], scope, by=by or None,
                                       indicator_ids=options["indicator"] or None, threshold=options["threshold"])
        except engine.IndicatorError as exc:
            raise CommandError(exc.message) from None
        if output_format == "json":
            self.stdout.write(json.dumps(rows(results), ensure_ascii=False, indent=2))
        elif output_format == "csv":
            writer = csv.DictWriter(self.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows(results))
        elif output_format == "fhir":
            from helhet.indicators.fhir_resources import measure_report

            base = "urn:helhet:fhir"
            bundle = {"resourceType": "Bundle", "type": "collection",
                      "entry": [{"fullUrl": f"{base}/MeasureReport/{report['id']}", "resource": report}
                                for report in (measure_report(r, base) for r in results)]}
            self.stdout.write(json.dumps(bundle, ensure_ascii=False, indent=2))
        else:
            self._table(results)

    def _table(self, results: list[engine.PublishedResult]) -> None:
        def shown(value: Any, digits: int = 3) -> str:
            if value is None:
                return HIDDEN
            return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

        self.stdout.write(f"{'indicator / stratum':<58} {'events':>8} {'count':>8} {'value':>10}  q1-q3")
        shown_breakdowns: set[str] = set()
        for row in rows(results):
            name = row["label"] or row["indicator"]
            indent = "    " if row["stratifier"] else ""
            if not row["available"]:
                self.stdout.write(f"{name:<58} not available: {row['reason']}")
                continue
            if row["table"] == "breakdown":  # under its indicator, with a heading line
                if row["stratifier"] not in shown_breakdowns:
                    shown_breakdowns.add(row["stratifier"])
                    self.stdout.write(f"    {'by ' + row['stratifier'].replace('_', ' ') + ':':<54} "
                                      f"{'count':>8} {'of':>8} {'share':>10}")
                indent = "      "
            else:
                shown_breakdowns = set()
            numerator = "" if row["numerator"] is None and not row["suppressed"] else shown(row["numerator"])
            spread = f"  {row['q1']:.1f}-{row['q3']:.1f}" if row["q1"] is not None else ""
            self.stdout.write(f"{indent}{name[:58 - len(indent)]:<{58 - len(indent)}} {numerator:>8} "
                              f"{shown(row['denominator']):>8} {shown(row['value']):>10}{spread}")
        if results:
            self.stdout.write(f"{HIDDEN} withheld: a count below {results[0].threshold}, or needed to protect one")

    def _warm(self, options: dict[str, Any]) -> None:
        from helhet.indicators import warmup

        levels = [name.strip() for name in options["levels"].split(",") if name.strip()]
        try:
            chosen = engine.parse_period(options["period"]) if options["period"] else None
            for level in levels:
                warmup.scopes_of(level)  # an unknown level stops before anything is computed
            periods = warmup.dashboard_periods(chosen)
            steps = warmup.warm(periods=periods, levels=levels, progress=lambda step: self.stdout.write(
                f"{step.period.text:<8} {str(step.scope):<24} {step.indicators} indicators by every stratifier: "
                f"{step.seconds:.1f} s ({step.cpu_seconds:.1f} s CPU here)"))
        except engine.IndicatorError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"warmed {len(steps)} evaluations in {sum(s.seconds for s in steps):.1f} s")
