"""The audit log. Other apps write to it only through ``audit.record(...)``."""


def record(action, **kwargs):
    from audit.log import record as _record

    return _record(action, **kwargs)
