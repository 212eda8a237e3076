from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "helhet.indicators"
    label = "indicators"
    verbose_name = "Quality indicators"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
