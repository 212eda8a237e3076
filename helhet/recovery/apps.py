from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "helhet.recovery"
    label = "recovery"
    verbose_name = "Recovery plans"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
