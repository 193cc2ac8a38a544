"""Audit events written by the framework (api's viewsets and permissions, the console's pages).

The framework imports no app (.importlinter), so it does not import the audit app: the setting
``OPENPAAS_AUDIT_RECORDER`` names the function, as DRF's settings name its classes, and
config/settings.py is the one place that knows both sides."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


@cache
def _recorder():
    return import_string(settings.OPENPAAS_AUDIT_RECORDER)


def record(action, **fields):
    """One audit event, in the caller's transaction (``audit.record``); raises when it cannot be written."""
    return _recorder()(action, **fields)
