"""What the database holds, to show that a refused (or replayed) request changed nothing."""

from django.apps import apps


def snapshot(instance):
    """The stored state of an object."""
    return type(instance)._base_manager.filter(pk=instance.pk).values().first()


def row_counts():
    """Rows per model of every application table (the idempotency records apart): what a request created."""
    return {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in {"accounts", "audit", "connectors", "webhooks"} and model._meta.managed
    }
