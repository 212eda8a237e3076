from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "helhet.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
