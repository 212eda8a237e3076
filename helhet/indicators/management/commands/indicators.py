"""`helhet indicators --period 2025 [--by STRATIFIER] [--scope LEVEL:CODE] [--format table|csv|json|fhir]`.

Prints published results only (small cells and their complements suppressed, ``:``
marking a hidden figure); unknown values stop with a message listing the valid ones.
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
               "value", "suppressed", "available", "reason")


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
        cells = [("", "", "", result.total)]
        for name, strata in result.strata.items():
            cells += [(name, row.stratum, result.labels.get(name, {}).get(row.stratum, row.stratum), row.cell)
                      for row in strata]
        for stratifier, stratum, label, cell in cells:
            value = _value(result.indicator, cell) if result.available else None
            flat.append({**common, "stratifier": stratifier, "stratum": stratum, "label": label,
                         "numerator": None if cell.suppressed else cell.numerator,
                         "denominator": None if cell.suppressed else cell.denominator,
                         "value": None if value is None else round(value, 6),
                         "suppressed": result.available and cell.suppressed})
    return flat


class Command(BaseCommand):
    help = ("Quality indicators for a period, as published (suppressed): "
            "helhet indicators --period 2025 --by region --format csv")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="2025, 2025-Q1, 2025-03 or 2025-01..2025-06")
        parser.add_argument("--by", default="", help=f"stratifier(s), comma-separated: {', '.join(STRATIFIERS)}, "
                                                     "or all")
        parser.add_argument("--scope", default="national",
                            help="national, or region:CODE, trust:CODE, municipality:NUMBER, unit:CODE")
        parser.add_argument("--indicator", action="append", default=[], help="indicator id; repeat for several")
        parser.add_argument("--format", default="table", help=f"one of {', '.join(FORMATS)}")
        parser.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD,
                            help="small-cell threshold (default 5)")

    def handle(self, *args: object, **options: Any) -> None:
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

        self.stdout.write(f"{'indicator / stratum':<58} {'events':>8} {'count':>8} {'value':>10}")
        for row in rows(results):
            name = row["label"] or row["indicator"]
            indent = "    " if row["stratifier"] else ""
            if not row["available"]:
                self.stdout.write(f"{name:<58} not available: {row['reason']}")
                continue
            numerator = "" if row["numerator"] is None and not row["suppressed"] else shown(row["numerator"])
            self.stdout.write(f"{indent}{name[:58 - len(indent)]:<{58 - len(indent)}} {numerator:>8} "
                              f"{shown(row['denominator']):>8} {shown(row['value']):>10}")
        if results:
            self.stdout.write(f"{HIDDEN} withheld: a count below {results[0].threshold}, or needed to protect one")
