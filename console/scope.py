"""Who may administer what in the console: platform staff everything, an organization's Admins their
organization; the principal a change is made as; tenant-scoped choices; sudo.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse

from core import scopes as scope_registry
from core.principal import Principal, session_principal
from core.sudo import sudo_is_fresh
from core.tenancy import every_tenant


def accounts_model(name):
    """An accounts model, named rather than imported (as AUTH_USER_MODEL is): the console is the
    framework the apps' admin modules build on and imports none of them (.importlinter)."""
    return apps.get_model("accounts", name)

# Who may administer what


def is_platform_staff(user) -> bool:
    """Platform staff see and change every organization's objects."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.is_superuser)


@dataclass(frozen=True)
class TenantScope:
    """The organizations a person may administer in the console: all of them, or those they are an
    Admin of."""

    everything: bool
    organization_ids: frozenset

    @property
    def any(self) -> bool:
        return self.everything or bool(self.organization_ids)

    def covers(self, organization_id) -> bool:
        return self.everything or organization_id in self.organization_ids


def tenant_scope(request) -> TenantScope:
    """Read once per request: the person's Admin memberships, as they are now (never cached longer, so
    a demoted Admin loses the console on their next request)."""
    scope = getattr(request, "_openpaas_tenant_scope", None)
    if scope is None:
        user = request.user
        ids = frozenset()
        if user.is_authenticated and user.is_active:
            ids = frozenset(accounts_model("Member").unscoped.filter(user=user, role=scope_registry.ADMIN)  # in every organization
                            .values_list("organization_id", flat=True))
        scope = TenantScope(is_platform_staff(user), ids)
        request._openpaas_tenant_scope = scope
    return scope


def admin_membership(request, organization_id):
    """The requesting person's Admin membership in an organization, or None."""
    return (accounts_model("Member").objects.select_related("organization", "user")
            .filter(user=request.user, organization_id=organization_id, role=scope_registry.ADMIN).first())


def staff_principal(user, organization, livemode=True):
    """The principal of platform staff acting on an organization they are not an Admin of. It has no
    member, so audit events name no member ("system" actor) but carry ``credential_kind="staff"`` and the
    person's user id, which says who it was."""
    return Principal(
        organization_id=organization.pk, member_id="", role="", livemode=livemode,
        scopes=frozenset(scope_registry.SCOPES), credential_kind="staff", credential_id=str(user.pk),
        load_models=lambda: (organization, None),
    )


def acting_principal(request, organization, livemode=True):
    """Who an admin change is made by, for the services and their audit events: the person's Admin
    membership in the object's organization, else (platform staff) a staff principal."""
    member = admin_membership(request, organization.pk)
    if member is not None:
        return session_principal(member, livemode)
    if is_platform_staff(request.user):
        return staff_principal(request.user, organization, livemode)
    raise PermissionDenied


def tenant_choices(model, scope: TenantScope, queryset=None):
    """The rows of ``model`` a foreign-key field may offer: those of the administered organizations.
    Deny by default: a model with no known way to its organization offers nothing."""
    queryset = model._default_manager.all() if queryset is None else queryset
    if scope.everything:
        return every_tenant(queryset)
    ids = scope.organization_ids
    if model is accounts_model("Organization"):
        return queryset.filter(pk__in=ids)
    if model is accounts_model("User"):
        return queryset.filter(memberships__organization_id__in=ids).distinct()
    if any(f.name == "organization" for f in model._meta.fields):
        return queryset.filter(organization_id__in=ids)
    return queryset.none()


def sudo_redirect(request, next_url=None):
    """None when sudo is fresh; else the redirect to confirm it and come back to ``next_url`` (by GET)."""
    if sudo_is_fresh(request):
        return None
    return HttpResponseRedirect(f"{reverse('sudo')}?{urlencode({'next': next_url or request.get_full_path()})}")


def conflict_message(exc) -> str:
    detail = getattr(exc, "detail", exc)
    return str(detail)
