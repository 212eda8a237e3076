from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "helhet.accounts"
    label = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        from helhet.extensions import load_app_extensions

        load_app_extensions(self.name)
