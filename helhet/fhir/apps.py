from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "helhet.fhir"
    label = "fhir"
    verbose_name = "FHIR API"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
