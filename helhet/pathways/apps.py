from django.apps import AppConfig


class PathwaysConfig(AppConfig):
    name = "helhet.pathways"
    label = "pathways"
    verbose_name = "Care pathways"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
