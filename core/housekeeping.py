"""Deleting what has expired, in batches: each statement deletes at most ``batch_size`` rows chosen by
primary key, in its own short transaction, so a table with millions of expired rows is cleared without
one long lock or one huge transaction."""

from django.db import transaction


def delete_in_batches(queryset, *, batch_size=1000):
    """Delete the rows of ``queryset``, ``batch_size`` per statement; returns how many rows of its model
    went (rows deleted by cascade are not counted). The filter is applied again in each DELETE, so a row
    that stopped matching between the two statements stays."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    model = queryset.model
    deleted = 0
    while True:
        batch = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        with transaction.atomic(using=queryset.db):
            _, per_model = queryset.filter(pk__in=batch).delete()
        deleted += per_model.get(model._meta.label, 0)
