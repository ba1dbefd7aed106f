from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "prm.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from prm.accounts import schema  # noqa: F401  (registers the OpenAPI security scheme)
