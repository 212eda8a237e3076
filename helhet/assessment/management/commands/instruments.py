"""`helhet instruments`: list the instrument library; `helhet instruments register FILE`: map another
system's FHIR Questionnaire onto one of our instruments so its QuestionnaireResponses can be scored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from helhet.assessment.fhir_mapping import QuestionnaireMatchError
from helhet.assessment.library import default_library
from helhet.assessment.models import RegisteredQuestionnaire
from helhet.assessment.services import register_questionnaire


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a data command; it need not load every URLconf
    help = ("List the instrument library (`helhet instruments`), or register another system's FHIR "
            "Questionnaire (`helhet instruments register FILE`; refused, listing the items, unless every "
            "item our total needs matches by LOINC code).")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action")
        sub.add_parser("list", help="the library and the registered external Questionnaires (the default)")
        register = sub.add_parser("register", help="register a FHIR Questionnaire JSON file ('-': stdin)")
        register.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options.get("action") == "register":
                self._register(options["file"])
            else:
                self._list()
        except DatabaseError as exc:
            raise CommandError(" ".join(f"the database is not ready (run `helhet migrate`?): {exc}".split())) from None

    def _list(self) -> None:
        self.stdout.write(f"{'id':<20} {'version':<8} {'domain':<18} {'items':>5}  {'LOINC':<8} title")
        for instrument in sorted(default_library(), key=lambda i: i.id):
            self.stdout.write(
                f"{instrument.id:<20} {instrument.version:<8} {instrument.domain:<18} {len(instrument.items):>5}  "
                f"{instrument.loinc_panel or '—':<8} {instrument.title.en}")
        registered = list(RegisteredQuestionnaire.objects.all())
        if registered:
            self.stdout.write("\nregistered external Questionnaires:")
            for entry in registered:
                version = f"|{entry.version}" if entry.version else ""
                self.stdout.write(f"  {entry.url}{version} → {entry.instrument_id}")

    def _register(self, file: str) -> None:
        import sys

        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            resource = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Questionnaire":
            raise CommandError(f"{file} is not a FHIR Questionnaire")
        try:
            registered = register_questionnaire(resource)
        except QuestionnaireMatchError as exc:
            raise CommandError(f"refused: {exc}") from None
        mapping = registered.mapping
        self.stdout.write(f"registered {registered.url} → {registered.instrument_id} "
                          f"({len(mapping['link_ids'])} items matched"
                          + (f"; not scored: {', '.join(mapping['ignored_link_ids'])}"
                             if mapping["ignored_link_ids"] else "") + ")")
