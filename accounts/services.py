"""The state changes of organizations, members and API keys. Each runs in one transaction with its
audit event; views and commands call these and never write these models themselves."""

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

import audit
from accounts.auth import keys
from core import scopes as scope_registry
from accounts.models import APIKey, Member, OAuthApplication, Organization, User
from core.errors import Conflict


def _audit(action, principal, organization, livemode, target, metadata=None):
    audit.record(action, organization=organization, livemode=livemode, principal=principal, target=target, metadata=metadata)


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
        _audit("api_key.created", principal, member.organization, livemode, api_key,
               {"member": member.id, "scopes": api_key.scopes, "expires_at": expires_at.isoformat() if expires_at else None})
    return api_key, secret


def revoke_api_key(*, principal, api_key):
    """Revoke a key and every key it replaced: a rolled key keeps working for its grace period, and must
    not outlive the revocation of its replacement. Each key revoked is audited in this transaction;
    revoking a revoked key is a no-op. Returns the key, as locked and saved."""
    now = timezone.now()
    with transaction.atomic():
        api_key = APIKey.objects.select_for_update().get(pk=api_key.pk)
        _revoke(principal, api_key, now)
        # Walk back the roll chain (each key was rolled at most once, so each has one predecessor at
        # most); a predecessor is locked before it is read, as the key was, so no roll slips in between.
        replaced_by = api_key
        while (predecessor := APIKey.objects.select_for_update().filter(rolled_to=replaced_by).first()) is not None:
            _revoke(principal, predecessor, now, {"reason": "replacement_revoked", "replaced_by": replaced_by.id})
            replaced_by = predecessor
    return api_key


def _revoke(principal, api_key, now, metadata=None):
    if api_key.revoked_at is None:  # revoking twice is a no-op, and audited once
        api_key.revoked_at = now
        api_key.save(update_fields=["revoked_at", "updated_at"])
        _audit("api_key.revoked", principal, api_key.organization, api_key.livemode, api_key, metadata)


def roll_api_key(*, principal, api_key, expires_in):
    """Replace a key: the new one works now, the old one until ``expires_in`` seconds from now."""
    now = timezone.now()
    with transaction.atomic():
        api_key = APIKey.objects.select_for_update().get(pk=api_key.pk)
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
        _audit("api_key.rolled", principal, api_key.organization, api_key.livemode, api_key,
               {"new_key": new_key.id, "old_key_expires_at": api_key.expires_at.isoformat()})
    return new_key, secret


def create_organization(*, name, owner_email):
    """A new organization, its first Admin (an existing person keeps their password), and one live and
    one test key for that Admin. Returns (organization, owner member, password or None, live key, test key)."""
    owner_email = User.objects.normalize_email(owner_email).lower()
    with transaction.atomic():
        organization = Organization.objects.create(name=name)
        user = User.objects.filter(email=owner_email).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(18)
            user = User.objects.create_user(email=owner_email, password=password)
        owner = Member.objects.create(organization=organization, user=user, role=scope_registry.ADMIN)
        # Organization-wide events: recorded once, and listed in both modes (audit.actions).
        _audit("organization.created", None, organization, None, organization, {"name": name})
        _audit("member.created", None, organization, None, owner, {"role": owner.role})
        admin_scopes = sorted(scope_registry.ROLES_BY_ID[scope_registry.ADMIN].scopes)
        _, live_key = create_api_key(member=owner, livemode=True, name="Default live key", scopes=admin_scopes)
        _, test_key = create_api_key(member=owner, livemode=False, name="Default test key", scopes=admin_scopes)
    return organization, owner, password, live_key, test_key


def create_service_member(*, principal, name, granted_scopes):
    with transaction.atomic():
        member = Member.objects.create(
            organization=principal.organization, user=None, name=name,
            role=scope_registry.SERVICE, granted_scopes=sorted(set(granted_scopes)),
        )
        _audit("member.created", principal, principal.organization, None, member,
               {"role": member.role, "granted_scopes": member.granted_scopes})
    return member


def _lock_organization(organization):
    # Serializes member changes per organization, so two concurrent demotions cannot both see
    # "another Admin remains" and leave none.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()


def _is_last_admin(member):
    return member.role == scope_registry.ADMIN and not (
        Member.objects.filter(organization_id=member.organization_id, role=scope_registry.ADMIN)
        .exclude(pk=member.pk).exists()
    )


def update_member(*, principal, member, role=None, name=None, granted_scopes=None):
    with transaction.atomic():
        _lock_organization(member.organization)
        member = Member.objects.select_related("user").get(pk=member.pk)
        if role is not None and role != member.role:
            if _is_last_admin(member):
                raise Conflict("An organization must keep at least one Admin.")
            previous = member.role
            member.role = role
            member.save(update_fields=["role"])
            _audit("member.role_changed", principal, member.organization, None, member,
                   {"from": previous, "to": role})
        changed = {}
        if name is not None and name != member.name:
            changed["name"] = member.name = name
        if granted_scopes is not None and sorted(set(granted_scopes)) != member.granted_scopes:
            changed["granted_scopes"] = member.granted_scopes = sorted(set(granted_scopes))
        if changed:
            member.save(update_fields=list(changed))
            _audit("member.updated", principal, member.organization, None, member, changed)
    return member


def remove_member(*, principal, member):
    """Remove a member; their API keys go with them and stop working at once, and their OAuth tokens
    end for good (accounts.signals, for every path that deletes a member)."""
    with transaction.atomic():
        _lock_organization(member.organization)
        if _is_last_admin(member):
            raise Conflict("An organization must keep at least one Admin.")
        _audit("member.removed", principal, member.organization, None, member, _removed_member_metadata(member))
        member.delete()


SERVICE_MEMBER_SUFFIX = " (OAuth)"


def _service_member_name(application):
    # An application's name may be as long as a member's: the base is shortened, the suffix kept.
    limit = Member._meta.get_field("name").max_length - len(SERVICE_MEMBER_SUFFIX)
    return application.name[:limit].rstrip() + SERVICE_MEMBER_SUFFIX


def _sync_service_member(application, principal):
    """An application with client credentials acts as its own Service member, holding its scopes. Members
    belong to the organization, whatever the application's mode: each change is an organization-wide event."""
    uses_client_credentials = OAuthApplication.GRANT_CLIENT_CREDENTIALS in application.grant_types
    member = application.service_member
    organization = application.organization
    if uses_client_credentials and member is None:
        member = application.service_member = Member.objects.create(
            organization=organization, role=scope_registry.SERVICE, name=_service_member_name(application),
            granted_scopes=application.allowed_scopes)
        _audit("member.created", principal, organization, None, member,
               {"role": member.role, "granted_scopes": member.granted_scopes, "oauth_application": application.id})
    elif uses_client_credentials and member.granted_scopes != application.allowed_scopes:
        member.granted_scopes = application.allowed_scopes
        member.save(update_fields=["granted_scopes"])
        _audit("member.updated", principal, organization, None, member,
               {"granted_scopes": member.granted_scopes, "oauth_application": application.id})
    elif not uses_client_credentials and member is not None:
        application.service_member = None
        _remove_service_member(principal, application.id, member)


def _removed_member_metadata(member):
    return {"role": member.role, "api_keys": list(member.api_keys.values_list("id", flat=True))}


def _remove_service_member(principal, application_id, member):
    _audit("member.removed", principal, member.organization, None, member,
           {**_removed_member_metadata(member), "oauth_application": application_id})
    member.delete()


def create_oauth_application(*, organization, livemode, name, client_type, grant_types, allowed_scopes, redirect_uris=(),
                             principal=None):
    """Returns (application, client secret or None). The secret is hashed when saved."""
    secret = secrets.token_urlsafe(48) if client_type == OAuthApplication.CLIENT_CONFIDENTIAL else ""
    with transaction.atomic():
        application = OAuthApplication(
            organization=organization, livemode=livemode, name=name, client_type=client_type,
            grant_types=sorted(grant_types), authorization_grant_type=sorted(grant_types)[0],
            redirect_uris=" ".join(redirect_uris), allowed_scopes=sorted(allowed_scopes), client_secret=secret,
            algorithm=OAuthApplication.RS256_ALGORITHM, user=None,
        )
        _sync_service_member(application, principal)
        application.save()
        _audit("oauth_application.created", principal, organization, livemode, application,
               {"grant_types": application.grant_types, "allowed_scopes": application.allowed_scopes})
    return application, secret or None


def update_oauth_application(*, principal, application, **changes):
    with transaction.atomic():
        application = OAuthApplication.objects.select_for_update().get(pk=application.pk)
        if "redirect_uris" in changes:
            changes["redirect_uris"] = " ".join(changes["redirect_uris"])
        if "grant_types" in changes:
            changes["grant_types"] = sorted(changes["grant_types"])
            changes["authorization_grant_type"] = changes["grant_types"][0]
        for field, value in changes.items():
            setattr(application, field, value)
        _sync_service_member(application, principal)
        application.save()
        _audit("oauth_application.updated", principal, principal.organization, principal.livemode, application,
               {"fields": sorted(changes)})
    return application


def delete_oauth_application(*, principal, application):
    """Delete an application, every token it holds, and its Service member."""
    with transaction.atomic():
        _audit("oauth_application.deleted", principal, principal.organization, principal.livemode, application)
        member, application_id = application.service_member, application.id
        application.delete()
        if member is not None:
            _remove_service_member(principal, application_id, member)
