from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors, workflows and data"

    def ready(self):
        from connectors import audit_actions  # noqa: F401  (registers its audit actions)
