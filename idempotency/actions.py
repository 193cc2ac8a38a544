"""Housekeeping of the idempotency table: the only write this app makes itself (the claims and stored
responses are api.idempotency's)."""

from django.utils import timezone

from api.idempotency import TTL
from core.housekeeping import delete_in_batches
from idempotency.models import IdempotencyKey


def clear_expired(*, batch_size=1000, now=None):
    cutoff = (now or timezone.now()) - TTL
    return delete_in_batches(IdempotencyKey.unscoped.filter(created_at__lt=cutoff), batch_size=batch_size)
