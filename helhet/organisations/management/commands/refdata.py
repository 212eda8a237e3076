from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helhet.organisations.refdata import DATA_DIR, ReferenceDataError, load_reference_data


class Command(BaseCommand):
    help = "Load or update reference data: health regions, trusts, municipalities, Oslo districts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="load the shipped files, or newer ones")
        load.add_argument("--municipalities", type=Path, default=DATA_DIR / "municipalities.csv")
        load.add_argument("--trusts", type=Path, default=DATA_DIR / "health_trusts.csv")
        load.add_argument("--districts", type=Path, default=DATA_DIR / "oslo_districts.csv")

    def handle(self, *args: object, **options: object) -> None:
        try:
            summary = load_reference_data(
                trusts_csv=options["trusts"],  # type: ignore[arg-type]
                municipalities_csv=options["municipalities"],  # type: ignore[arg-type]
                districts_csv=options["districts"],  # type: ignore[arg-type]
            )
        except (OSError, ReferenceDataError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        from helhet.indicators.warmup import forget_after_bulk_load  # strata (catchment, centrality) changed

        forget_after_bulk_load()
        self.stdout.write(
            f"{summary.regions} regions, {summary.trusts} trusts, "
            f"{summary.municipalities} municipalities, {summary.districts} districts loaded"
        )
