from django.apps import AppConfig


class OrganisationsConfig(AppConfig):
    name = "helhet.organisations"
    label = "organisations"
    verbose_name = "Organisations"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
