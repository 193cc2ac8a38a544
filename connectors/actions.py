"""The writes of connectors whose rules both the API and the console apply: written once, here."""

from django.db import transaction
from django.db.models import RestrictedError

import audit
from core.errors import Conflict

CONNECTOR_IN_USE = "This connector is used by workflows; delete or change them first."


def in_use(connector):
    return connector.workflows.exists()


def delete_connector(connector, *, principal):
    """Delete ``connector`` with its ``connector.deleted`` event, in one transaction. A connector that
    workflows use cannot be deleted (409): checked first, and again by the database (on_delete=RESTRICT)
    for a workflow created since, which rolls the deletion and its event back."""
    if in_use(connector):
        raise Conflict(CONNECTOR_IN_USE)
    try:
        with transaction.atomic():
            audit.record("connector.deleted", organization=principal.organization, livemode=connector.livemode,
                         principal=principal, target=connector)
            connector.delete()
    except RestrictedError:
        raise Conflict(CONNECTOR_IN_USE) from None
