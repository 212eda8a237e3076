from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "helhet.web"
    label = "web"
    verbose_name = "Web UI"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
