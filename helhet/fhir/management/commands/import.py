"""`helhet import FILE`: a FHIR transaction Bundle or FHIR NDJSON, resumable, matched on identifiers."""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from helhet.accounts.models import User
from helhet.fhir.bulk import DEFAULT_BATCH, ImportSummary, import_bundle_file, import_ndjson_file, sniff_kind
from helhet.fhir.errors import FhirError


class Command(BaseCommand):
    help = ("Import a FHIR transaction Bundle (all-or-nothing) or FHIR NDJSON (one resource per line, committed "
            "in batches; a killed import resumes where it stopped) of Patient, EpisodeOfCare, ServiceRequest, "
            "Encounter, CarePlan, CareTeam and QuestionnaireResponse. Records are matched on their identifiers, "
            "so importing a file again creates no duplicates.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                            help="import as this user: only persons the user may see, audited as the user "
                                 "(without it: a system import, audited as such)")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="NDJSON lines per transaction")
        parser.add_argument("--restart", action="store_true", help="ignore the checkpoint of an earlier run")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                            help="processes validating lines ahead of the writer (default: one per CPU; 1: none)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path = str(options["file"])
        if not os.path.isfile(path):
            raise CommandError(f"no such file: {path}")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        user = None
        if options["as_user"]:
            user = User.objects.filter(username=options["as_user"], is_active=True).first()
            if user is None:
                raise CommandError(f"no active user named {options['as_user']!r}")
        kind = sniff_kind(path)
        began = time.perf_counter()
        summary: ImportSummary | None = None
        try:
            if kind == "bundle":
                summary = import_bundle_file(path, user=user)
            else:
                with tqdm(total=os.path.getsize(path), unit="B", unit_scale=True, desc="import",
                          disable=options["no_progress"], file=self.stderr._out) as bar:
                    summary = import_ndjson_file(path, user=user, batch_size=options["batch_size"],
                                                 progress=bar.update, restart=options["restart"],
                                                 workers=options["workers"])
        except FhirError as exc:
            raise CommandError("; ".join(issue.diagnostics for issue in exc.issues)) from None
        finally:
            # Indicator results from before are out of date (NDJSON batches committed before a stop stay).
            if (summary is None and kind != "bundle") or (
                    summary is not None and (summary.counts.get("created") or summary.counts.get("updated"))):
                from helhet.indicators.warmup import forget_after_bulk_load

                forget_after_bulk_load(self.stdout.write)
        self.report(path, summary, time.perf_counter() - began)

    def report(self, path: str, summary: ImportSummary, seconds: float) -> None:
        counts = summary.counts
        resumed = f", resumed after line {summary.resumed_from}" if summary.resumed_from else ""
        handled = summary.total if not summary.resumed_from else None
        speed = f" ({handled / seconds:,.0f} resources/s)" if handled and seconds > 0 else ""
        self.stdout.write(f"{path} ({summary.kind}{resumed}): created {counts.get('created', 0)}, "
                          f"updated {counts.get('updated', 0)}, skipped {counts.get('skipped', 0)}, "
                          f"rejected {counts.get('rejected', 0)}; {seconds:.1f} s{speed}")
        for reject in summary.rejects:
            where = f"line {reject['line']}: " if reject.get("line") else ""
            self.stderr.write(f"rejected {where}{reject['message']}")
        if counts.get("rejected"):
            more = counts["rejected"] - len(summary.rejects)
            if more > 0:
                self.stderr.write(f"... and {more} more rejected")
            if summary.kind == "bundle":
                raise CommandError("the Bundle was rejected; nothing was written")
            raise CommandError(f"{counts['rejected']} resource(s) rejected; the rest was imported")
