"""Audited refusals (core.gate.refuse) without waiting for the minute to pass."""

from django.conf import settings
from django.core.cache import cache

from core import gate


def next_minute(audit_key):
    """As if the minute of ``audit_key``'s last audited refusal had passed (no sleeping in tests)."""
    key = gate._audit_window_key(audit_key)
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        get_redis_connection("default").delete(key)
    else:
        cache.delete(key)
