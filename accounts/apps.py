from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organizations and access"

    def ready(self):
        from accounts import audit_actions, signals  # noqa: F401  (registers its audit actions, connects the receivers)
