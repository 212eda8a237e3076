from django.apps import AppConfig


class SynthConfig(AppConfig):
    name = "helhet.synth"
    label = "synth"
    verbose_name = "Synthetic population"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
