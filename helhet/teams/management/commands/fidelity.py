"""`helhet fidelity export --format json|csv [--team CODE] [--region CODE] [--output FILE]`; `helhet fidelity scales`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helhet.organisations.models import HealthRegion, ServiceUnit
from helhet.teams import services
from helhet.teams.fidelity import ScaleError


class Command(BaseCommand):
    help = "Fidelity reviews of ACT/FACT teams: export them as JSON or CSV; list the scales this installation has."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="export reviews (a system command, audited)")
        export.add_argument("--format", dest="fmt", choices=["json", "csv"], default="json")
        export.add_argument("--team", help="team (unit) code")
        export.add_argument("--region", help="region code (HSO, HV, HMN, HN)")
        export.add_argument("--output", help="file to write; standard output if left out")
        sub.add_parser("scales", help="list the fidelity scales (shipped and licensed)")

    def handle(self, *args: object, **options: object) -> None:
        if options["action"] == "scales":
            try:
                scales = services.available_scales()
            except ScaleError as exc:
                raise CommandError(str(exc)) from exc
            for scale in sorted(scales.values(), key=lambda s: s.id):
                self.stdout.write(f"{scale.id:<16} {scale.version:<10} {len(scale.items):>3} items  {scale.name.en}")
            return
        self._export(options)

    def _export(self, options: dict[str, object]) -> None:
        fmt = str(options["fmt"])
        team = None
        if options["team"]:
            team = ServiceUnit.objects.filter(code=options["team"], kind__in=services.TEAM_KINDS).first()
            if team is None:
                raise CommandError(f"no ACT/FACT team with code {options['team']!r}")
        region = str(options["region"] or "")
        if region and not HealthRegion.objects.filter(code=region).exists():
            raise CommandError(f"unknown region {region!r}")
        reviews = list(services.reviews_for_export(user=None, team=team, region_code=region or None))
        body = services.export_json(reviews) if fmt == "json" else services.export_csv(reviews)
        output = options["output"]
        if output:
            try:
                Path(str(output)).write_text(body, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from exc
        else:
            self.stdout.write(body, ending="")
        scope = f"team {team.code}" if team else f"region {region}" if region else "all"
        services.audit_export(None, fmt=fmt, count=len(reviews), channel="cli", scope=scope)
        if output:
            self.stderr.write(f"wrote {len(reviews)} review(s) to {output}")
