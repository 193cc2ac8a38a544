"""API keys: created (the secret returned once), revoked, rolled (the old key kept for a grace period).

Each runs in one transaction with its audit event; views, the console and commands call these and never
write these models themselves."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.actions import audit_change
from accounts.auth import keys
from accounts.models import APIKey
from core.errors import Conflict


def create_api_key(*, member, livemode, name, scopes, expires_at=None, principal=None):
    """A new key for ``member``; returns (APIKey, secret). The secret exists only in this return value."""
    secret = keys.generate(livemode)
    parsed = keys.parse(secret)
    with transaction.atomic():
        api_key = APIKey.objects.create(
            organization=member.organization,
            livemode=livemode,
            member=member,
            name=name,
            prefix=parsed.prefix,
            last4=parsed.last4,
            digest=parsed.digest,
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
            created_by=principal.member if principal else None,
        )
        audit_change("api_key.created", principal, member.organization, livemode, api_key,
               {"member": member.id, "scopes": api_key.scopes, "expires_at": expires_at.isoformat() if expires_at else None})
    return api_key, secret


def revoke_api_key(*, principal, api_key):
    """Revoke a key and every key it replaced: a rolled key keeps working for its grace period, and must
    not outlive the revocation of its replacement. Each key revoked is audited in this transaction;
    revoking a revoked key is a no-op. Returns the key, as locked and saved."""
    now = timezone.now()
    with transaction.atomic():
        api_key = APIKey.objects.select_for_update().get(pk=api_key.pk, organization_id=api_key.organization_id)
        _revoke(principal, api_key, now)
        # Walk back the roll chain (each key was rolled at most once, so each has one predecessor at
        # most); a predecessor is locked before it is read, as the key was, so no roll slips in between.
        replaced_by = api_key
        while (predecessor := APIKey.objects.select_for_update().filter(organization_id=replaced_by.organization_id, rolled_to=replaced_by).first()) is not None:
            _revoke(principal, predecessor, now, {"reason": "replacement_revoked", "replaced_by": replaced_by.id})
            replaced_by = predecessor
    return api_key


def _revoke(principal, api_key, now, metadata=None):
    if api_key.revoked_at is None:  # revoking twice is a no-op, and audited once
        api_key.revoked_at = now
        api_key.save(update_fields=["revoked_at", "updated_at"])
        audit_change("api_key.revoked", principal, api_key.organization, api_key.livemode, api_key, metadata)


def roll_api_key(*, principal, api_key, expires_in):
    """Replace a key: the new one works now, the old one until ``expires_in`` seconds from now."""
    now = timezone.now()
    with transaction.atomic():
        api_key = APIKey.objects.select_for_update().get(pk=api_key.pk, organization_id=api_key.organization_id)
        if api_key.status(now) != "active":
            raise Conflict("Only an active key can be rolled.")
        if api_key.rolled_to_id:
            raise Conflict("This key has already been rolled.")
        new_key, secret = create_api_key(
            member=api_key.member, livemode=api_key.livemode, name=api_key.name, scopes=api_key.scopes,
            expires_at=api_key.expires_at, principal=principal,
        )
        grace_end = now + timedelta(seconds=expires_in)
        api_key.expires_at = min(grace_end, api_key.expires_at) if api_key.expires_at else grace_end
        api_key.rolled_to = new_key
        api_key.save(update_fields=["expires_at", "rolled_to", "updated_at"])
        audit_change("api_key.rolled", principal, api_key.organization, api_key.livemode, api_key,
               {"new_key": new_key.id, "old_key_expires_at": api_key.expires_at.isoformat()})
    return new_key, secret
