from django.core.management.base import BaseCommand, CommandError, CommandParser

from helhet.audit.services import verify_chain


class Command(BaseCommand):
    help = "Audit log tools: `helhet audit verify` checks the hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="recompute the hash chain and report the first broken entry")

    def handle(self, *args: object, **options: object) -> None:
        result = verify_chain()
        if not result.ok:
            raise CommandError(
                f"audit chain broken at entry {result.first_broken_seq}: {result.problem} "
                f"({result.checked} entries verified before it)"
            )
        self.stdout.write(f"audit chain intact: {result.checked} entries verified")
