"""`helhet export FILE`: everything the caller may see, as FHIR NDJSON that `helhet import` reads back."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from helhet.accounts.models import User
from helhet.audit import services as audit
from helhet.fhir.bulk import export_resources, write_ndjson


class Command(BaseCommand):
    help = ("Export Patients and their EpisodeOfCare, ServiceRequest (with clinical decisions), CareTeam, Encounter "
            "(also responsibility-group meetings, next-of-kin contacts, evaluation points), CarePlan (individual "
            "and recovery plans) and QuestionnaireResponse resources as FHIR NDJSON, in the order `helhet import` "
            "needs.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                            help="export what this user may see, audited as the user (without it: a system "
                                 "export of everything, audited as such)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = str(options["file"])
        user = None
        if options["as_user"]:
            user = User.objects.filter(username=options["as_user"], is_active=True).first()
            if user is None:
                raise CommandError(f"no active user named {options['as_user']!r}")
        partial = f"{path}.partial"
        try:
            # The audit entries are appended once the file is written, as the transaction's last step: the
            # chain's lock is not held while the export runs (every audited access would wait for it).
            with transaction.atomic(), audit.deferred(), open(partial, "w", encoding="utf-8") as handle:
                counts = write_ndjson(export_resources(user, warn=self.stderr.write), handle)
        except BaseException:
            # Nothing of a failed export stays on disk: it holds national identity numbers, and it has no
            # audit entry (none was appended, or it went with the rollback).
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise
        os.replace(partial, path)
        summary = ", ".join(f"{kind} {n}" for kind, n in counts.items()) or "nothing"
        self.stdout.write(f"{path}: {sum(counts.values())} resources ({summary})")
