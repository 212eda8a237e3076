from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from helhet.organisations.refdata import load_reference_data
from helhet.persons.models import Person
from helhet.synth.service import generate_population
from helhet.web.demo import DEMO_PASSWORD, create_demo_users


class Command(BaseCommand):
    help = "Set up and run the demo: migrate, reference data, synthetic population, demo users, web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--persons", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="prepare everything but do not start the server")

    def handle(self, *args: object, **options: object) -> None:
        call_command("migrate", verbosity=0)
        load_reference_data()
        if not Person.objects.exists():
            self.stdout.write(f"Generating a synthetic population of {options['persons']} persons ...")
            generate_population(persons=int(options["persons"]), seed=int(options["seed"]))  # type: ignore[call-overload]
        from helhet.indicators.warmup import forget_after_bulk_load  # reference data or population loaded

        forget_after_bulk_load()
        try:
            with transaction.atomic():
                logins = create_demo_users()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        address = f"http://127.0.0.1:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nHelhet demo is at {address}"))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for login in logins:
            self.stdout.write(f"  {login.username:<11} {login.description}")
        self.stdout.write("Synthetic data only. Stop with Ctrl+C.\n")
        if not options["no_serve"]:
            call_command("runserver", f"127.0.0.1:{options['port']}", use_reloader=False, skip_checks=True)
