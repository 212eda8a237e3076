from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "helhet.teams"
    label = "teams"
    verbose_name = "ACT/FACT teams"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
