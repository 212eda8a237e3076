from django.core.management.base import BaseCommand, CommandError, CommandParser

from helhet.accounts.models import User
from helhet.fhir.models import ApiClient


class Command(BaseCommand):
    help = "Manage FHIR API clients: `helhet apiclient create NAME --user USERNAME` prints a new Bearer token once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("name")
        create.add_argument("--user", required=True, help="the service account whose role and units the client uses")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("name")

    def handle(self, *args: object, **options: object) -> None:
        if options["action"] == "create":
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user named {options['user']!r}")
            if ApiClient.objects.filter(name=options["name"]).exists():
                raise CommandError(f"a client named {options['name']!r} exists already")
            _client, token = ApiClient.issue(name=str(options["name"]), user=user)
            self.stdout.write(token)
        else:
            updated = ApiClient.objects.filter(name=options["name"]).update(active=False)
            if not updated:
                raise CommandError(f"no client named {options['name']!r}")
            self.stdout.write(f"revoked {options['name']}")
