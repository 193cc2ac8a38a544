"""Members: Service members created, roles, names and granted scopes changed, members removed; an organization keeps an Admin.

Each runs in one transaction with its audit event; views, the console and commands call these and never
write these models themselves."""

from django.db import transaction

from accounts.actions import audit_change
from accounts.models import Member, Organization
from core import scopes as scope_registry
from core.errors import Conflict


def create_service_member(*, principal, name, granted_scopes):
    with transaction.atomic():
        member = Member.objects.create(
            organization=principal.organization, user=None, name=name,
            role=scope_registry.SERVICE, granted_scopes=sorted(set(granted_scopes)),
        )
        audit_change("member.created", principal, principal.organization, None, member,
               {"role": member.role, "granted_scopes": member.granted_scopes})
    return member


def lock_organization(organization):
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
        lock_organization(member.organization)
        member = Member.objects.select_related("user").get(pk=member.pk, organization_id=member.organization_id)
        if role is not None and role != member.role:
            if _is_last_admin(member):
                raise Conflict("An organization must keep at least one Admin.")
            previous = member.role
            member.role = role
            member.save(update_fields=["role"])
            audit_change("member.role_changed", principal, member.organization, None, member,
                   {"from": previous, "to": role})
        changed = {}
        if name is not None and name != member.name:
            changed["name"] = member.name = name
        if granted_scopes is not None and sorted(set(granted_scopes)) != member.granted_scopes:
            changed["granted_scopes"] = member.granted_scopes = sorted(set(granted_scopes))
        if changed:
            member.save(update_fields=list(changed))
            audit_change("member.updated", principal, member.organization, None, member, changed)
    return member


def remove_member(*, principal, member):
    """Remove a member; their API keys go with them and stop working at once, and their OAuth tokens
    end for good (accounts.signals, for every path that deletes a member)."""
    with transaction.atomic():
        lock_organization(member.organization)
        if _is_last_admin(member):
            raise Conflict("An organization must keep at least one Admin.")
        audit_change("member.removed", principal, member.organization, None, member, removed_member_metadata(member))
        member.delete()


def removed_member_metadata(member):
    return {"role": member.role, "api_keys": list(member.api_keys.values_list("id", flat=True))}
