"""The writes of accounts (organizations, members, API keys, OAuth applications, invitations, access
reviews, second factors): each in one transaction with its audit event."""

import audit


def audit_change(action, principal, organization, livemode, target, metadata=None):
    audit.record(action, organization=organization, livemode=livemode, principal=principal, target=target, metadata=metadata)
