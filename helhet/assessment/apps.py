from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "helhet.assessment"
    label = "assessment"
    verbose_name = "Assessment"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
