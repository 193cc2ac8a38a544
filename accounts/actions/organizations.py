"""Organizations: a new one with its first Admin.

Each runs in one transaction with its audit event; views, the console and commands call these and never
write these models themselves."""

import secrets

from django.db import transaction

from accounts.actions import audit_change
from accounts.actions.api_keys import create_api_key
from accounts.models import Member, Organization, User
from core import scopes as scope_registry


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
        audit_change("organization.created", None, organization, None, organization, {"name": name})
        audit_change("member.created", None, organization, None, owner, {"role": owner.role})
        admin_scopes = sorted(scope_registry.ROLES_BY_ID[scope_registry.ADMIN].scopes)
        _, live_key = create_api_key(member=owner, livemode=True, name="Default live key", scopes=admin_scopes)
        _, test_key = create_api_key(member=owner, livemode=False, name="Default test key", scopes=admin_scopes)
    return organization, owner, password, live_key, test_key
