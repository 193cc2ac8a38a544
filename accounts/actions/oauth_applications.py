"""OAuth applications, and the Service member that one with client credentials acts as.

Each runs in one transaction with its audit event; views, the console and commands call these and never
write these models themselves."""

import secrets

from django.db import transaction

from accounts.actions import audit_change
from accounts.actions.members import removed_member_metadata
from accounts.models import Member, OAuthApplication
from core import scopes as scope_registry


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
        audit_change("member.created", principal, organization, None, member,
               {"role": member.role, "granted_scopes": member.granted_scopes, "oauth_application": application.id})
    elif uses_client_credentials and member.granted_scopes != application.allowed_scopes:
        member.granted_scopes = application.allowed_scopes
        member.save(update_fields=["granted_scopes"])
        audit_change("member.updated", principal, organization, None, member,
               {"granted_scopes": member.granted_scopes, "oauth_application": application.id})
    elif not uses_client_credentials and member is not None:
        application.service_member = None
        _remove_service_member(principal, application.id, member)


def _remove_service_member(principal, application_id, member):
    audit_change("member.removed", principal, member.organization, None, member,
           {**removed_member_metadata(member), "oauth_application": application_id})
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
        audit_change("oauth_application.created", principal, organization, livemode, application,
               {"grant_types": application.grant_types, "allowed_scopes": application.allowed_scopes})
    return application, secret or None


def update_oauth_application(*, principal, application, **changes):
    with transaction.atomic():
        application = OAuthApplication.objects.select_for_update().get(pk=application.pk, organization_id=application.organization_id)
        if "redirect_uris" in changes:
            changes["redirect_uris"] = " ".join(changes["redirect_uris"])
        if "grant_types" in changes:
            changes["grant_types"] = sorted(changes["grant_types"])
            changes["authorization_grant_type"] = changes["grant_types"][0]
        for field, value in changes.items():
            setattr(application, field, value)
        _sync_service_member(application, principal)
        application.save()
        audit_change("oauth_application.updated", principal, principal.organization, principal.livemode, application,
               {"fields": sorted(changes)})
    return application


def delete_oauth_application(*, principal, application):
    """Delete an application, every token it holds, and its Service member."""
    with transaction.atomic():
        audit_change("oauth_application.deleted", principal, principal.organization, principal.livemode, application)
        member, application_id = application.service_member, application.id
        application.delete()
        if member is not None:
            _remove_service_member(principal, application_id, member)
