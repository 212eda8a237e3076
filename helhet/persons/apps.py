from django.apps import AppConfig


class PersonsConfig(AppConfig):
    name = "helhet.persons"
    label = "persons"
    verbose_name = "Persons"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
