"""`helhet report --unit CODE --period P --out report.pdf`: the indicator report as a PDF.

A thin command over ``indicators.report.render_report`` (published figures only). The file
is written whole or not at all: rendered to a temporary file next to it, then renamed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helhet.indicators import engine
from helhet.indicators.definitions import STRATIFIERS


class Command(BaseCommand):
    help = "Indicator report as PDF: helhet report --unit CODE --period 2025 --out report.pdf"

    def add_arguments(self, parser: CommandParser) -> None:
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--unit", help="service unit code")
        where.add_argument("--scope", help="national, or region:CODE, trust:CODE, municipality:NUMBER, unit:CODE")
        parser.add_argument("--period", required=True, help="2025, 2025-Q1, 2025-03 or 2025-01..2025-06")
        parser.add_argument("--out", required=True, help="the PDF file to write")
        parser.add_argument("--by", default=None, help=f"one stratifier: {', '.join(STRATIFIERS)}")
        parser.add_argument("--language", default=None, choices=["nb", "en"], help="default: Norwegian bokmål")

    def handle(self, *args: object, **options: Any) -> None:
        from helhet.indicators.report import render_report

        out = Path(options["out"])
        if not out.parent.is_dir():
            raise CommandError(f"the folder {str(out.parent)!r} does not exist")
        try:
            scope = engine.Scope("unit", options["unit"]) if options["unit"] else engine.Scope.parse(options["scope"])
            pdf = render_report(scope, options["period"], by=options["by"], language=options["language"])
        except engine.IndicatorError as exc:
            raise CommandError(exc.message) from None
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".report-", suffix=".pdf")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(pdf)
            os.replace(temporary, out)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.stdout.write(f"wrote {out} ({len(pdf)} bytes)")
