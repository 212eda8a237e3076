"""`helhet score FILE|-`: score a FHIR QuestionnaireResponse and print the Observations as a Bundle.

Nothing is stored. The instrument is recognised as the API does (ours, or a registered external
Questionnaire). The sex for sex-specific cut-offs comes from `--sex`, or from the subject when
`--as USERNAME` names a user who may open that person (audited); otherwise both readings are given.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from helhet.accounts.access import AccessDenied, open_person
from helhet.accounts.models import User
from helhet.assessment.fhir_mapping import FhirMappingError, bundle_json, observations_for
from helhet.assessment.scoring import ScoringError
from helhet.assessment.services import score_questionnaire_response, scoring_sex
from helhet.fhir.errors import FhirError

SEXES = ("male", "female", "other", "unknown")


def _one_line(text: str) -> str:
    return " ".join(text.split())


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a data command; it need not load every URLconf
    help = "Score a FHIR QuestionnaireResponse JSON file (or '-' for stdin); print the Observations as a Bundle."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="QuestionnaireResponse JSON file, or '-' to read standard input")
        parser.add_argument("--sex", choices=SEXES, help="the person's sex, for sex-specific cut-offs")
        parser.add_argument("--as", dest="username",
                            help="act as this user to read the subject's sex (access-checked and audited)")

    def handle(self, *args: Any, **options: Any) -> None:
        from helhet.assessment.fhir_resources import validate_r4

        file = options["file"]
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text") from None
        try:
            resource = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise CommandError(_one_line(f"not valid JSON: {exc}")) from None
        if not isinstance(resource, dict) or resource.get("resourceType") != "QuestionnaireResponse":
            found = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
            raise CommandError(f"not a FHIR QuestionnaireResponse (found {found!r})")
        try:
            validate_r4(resource)
        except FhirError as exc:
            details = "; ".join(issue.diagnostics for issue in exc.issues)
            raise CommandError(_one_line(f"not a valid FHIR R4 QuestionnaireResponse: {details}")) from None
        subject = resource.get("subject") if isinstance(resource.get("subject"), dict) else None
        subject_ref = subject.get("reference") if subject else None
        sex = options["sex"] or self._subject_sex(options.get("username"), subject_ref)
        try:
            scored = score_questionnaire_response(resource, sex=sex)
        except (FhirMappingError, ScoringError) as exc:
            raise CommandError(_one_line(str(exc))) from None
        except DatabaseError as exc:  # registered Questionnaires are looked up for a questionnaire not ours
            raise CommandError(_one_line(f"the database is not ready (run `helhet migrate`?): {exc}")) from None
        if scored.declared_total_disagrees:
            self.stderr.write(_one_line(
                f"warning: the response declares a total of {scored.extracted.declared_total:g}, "
                f"the answers give {scored.result.score if scored.result.score is not None else 'no total'}"))
        effective = resource.get("authored") or "unknown"
        qr_ref = f"QuestionnaireResponse/{resource.get('id') or 'unidentified'}"
        observations = observations_for(scored.result, scored.instrument, subject_ref=subject_ref,
                                        qr_ref=qr_ref, effective=effective)
        self.stdout.write(bundle_json(observations))

    def _subject_sex(self, username: str | None, reference: str | None) -> str | None:
        if not username:
            if reference:
                self.stderr.write("note: the subject's sex is not read without --as USERNAME; "
                                  "sex-specific cut-offs are given for both sexes (or pass --sex)")
            return None
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        if not reference or not reference.startswith("Patient/"):
            raise CommandError("--as needs a response whose subject is a Patient/<id> reference")
        try:
            person, _rel = open_person(user, reference.removeprefix("Patient/"), resource="score",
                                       channel="cli")
        except AccessDenied as exc:
            raise CommandError(exc.message) from None
        return scoring_sex(person)
