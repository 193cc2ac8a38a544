"""audit.record(): the one way an audit event is written."""

import re

from django.db import connection

from audit.actions import ACTIONS, ORGANIZATION_WIDE
from audit.models import AuditEvent
from core.context import current_request_context


def type_name(instance) -> str:
    """A model's name as the API spells object types: APIKey -> api_key, WebhookEndpoint -> webhook_endpoint."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", type(instance).__name__).lower()


def record(action, *, organization, livemode=None, principal=None, target=None, metadata=None):
    """Write one audit event. Must run inside the transaction of the change it records, so that
    either both are saved or neither is.

    ``livemode`` is the mode the action happened in; an organization-wide action (audit.actions) has
    none and is always recorded in live mode (and listed to readers of both modes), whatever is passed.
    ``principal`` is who acted (an API credential's, or a browser session's: see
    core.principal.session_principal), None for the system. ``target`` is a model instance or None."""
    if action not in ACTIONS:
        raise ValueError(f"Unregistered audit action {action!r}.")
    if action in ORGANIZATION_WIDE:
        livemode = True
    elif livemode is None:
        raise ValueError(f"Audit action {action!r} happens in a mode: pass livemode.")
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must run inside the transaction of the change it records.")
    context = current_request_context()
    member = principal.member if principal else None
    return AuditEvent.objects.create(
        organization=organization,
        livemode=livemode,
        action=action,
        actor_type="member" if member else "system",
        actor_id=member.id if member else "",
        actor_label=member.display_name[:254] if member else "",
        credential_kind=principal.credential_kind if principal else "",
        credential_id=principal.credential_id if principal else "",
        target_type=type_name(target) if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        request_id=context.request_id if context else "",
        ip_address=context.client_ip if context else None,
        user_agent=context.user_agent if context else "",
        metadata=metadata or {},
    )
