from django.core.management.base import BaseCommand, CommandError, CommandParser

from helhet.synth.service import SynthError, generate_population


class Command(BaseCommand):
    help = "Generate a reproducible synthetic population (never real persons)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--persons", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--replace", action="store_true", help="delete the existing persons first")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        try:
            summary = generate_population(persons=int(options["persons"]), seed=int(options["seed"]),  # type: ignore[call-overload]
                                          replace=bool(options["replace"]),
                                          show_progress=not options["no_progress"])
        except SynthError as exc:
            raise CommandError(str(exc)) from exc
        counts = ", ".join(f"{value} {name}" for name, value in summary.counts.items())
        self.stdout.write(f"synthetic population created in {summary.seconds:.1f} s: {counts}")
        from helhet.indicators.warmup import forget_after_bulk_load

        forget_after_bulk_load(self.stdout.write)
