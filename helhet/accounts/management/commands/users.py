import secrets
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from helhet.accounts.models import Role, StaffMembership, User
from helhet.organisations.models import HealthRegion, ServiceUnit
from helhet.persons.models import Person


class Command(BaseCommand):
    help = "Manage users: `helhet users add NAME --role ROLE [--unit CODE ...]`, `helhet users list`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add")
        add.add_argument("username")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--unit", action="append", default=[], help="unit code; repeat for several units")
        add.add_argument("--profession", default="")
        add.add_argument("--person", help="pseudonymous id, for a service user's own login")
        add.add_argument("--region", help="region code (HSO, HV, HMN, HN) for an analyst")
        add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        sub.add_parser("list")

    def handle(self, *args: object, **options: object) -> None:
        if options["action"] == "list":
            for user in User.objects.order_by("username").prefetch_related("units"):
                units = ", ".join(unit.code for unit in user.units.all())
                self.stdout.write(f"{user.username:<20} {user.role:<14} {units}")
            return
        self._add(options)

    @transaction.atomic
    def _add(self, options: dict[str, object]) -> None:
        username = str(options["username"])
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} exists already")
        role = str(options["role"])
        codes = list(options["unit"])  # type: ignore[call-overload]
        units = list(ServiceUnit.objects.filter(code__in=codes))
        unknown = sorted(set(codes) - {unit.code for unit in units})
        if unknown:
            raise CommandError(f"unknown unit(s): {', '.join(unknown)}")
        if role in (Role.CLINICIAN, Role.TEAM_LEADER) and not units:
            raise CommandError("clinicians and team leaders need at least one --unit")
        person = None
        if role == Role.SERVICE_USER:
            person = Person.objects.filter(pid=options["person"] or "").first()
            if person is None:
                raise CommandError("a service user needs --person with an existing pseudonymous id")
        region = None
        if options["region"]:
            region = HealthRegion.objects.filter(code=options["region"]).first()
            if region is None:
                raise CommandError(f"unknown region {options['region']!r}")
        generated = not options["password_stdin"]
        password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\n")
        user = User(username=username, role=role, person=person, region=region)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from exc
        user.set_password(password)
        user.save()
        for unit in units:
            StaffMembership.objects.create(user=user, unit=unit, profession=str(options["profession"]))
        self.stdout.write(f"created {username} ({role})" + (f"; password: {password}" if generated else ""))
