"""The audit log. Its public face: ``record`` writes an event; ``register`` / ``register_crud`` name an
action, each app its own (its audit_actions module, imported when the app is ready)."""

from audit.actions import register, register_crud

__all__ = ["record", "register", "register_crud"]


def record(action, **kwargs):
    from audit.log import record as _record  # the model is not importable before the apps are ready

    return _record(action, **kwargs)
