"""django-axes lockouts in the console: who is locked out, and unlocking them."""

from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.urls import reverse

import audit
from accounts.models import Member, User
from console.admin import ObjectAction, TenantAdmin
from console.scope import acting_principal, tenant_scope
from console.site import site


def _lockout_emails(scope):
    """The accounts whose lockouts an organization's Admin may see and lift: people who belong only to
    organizations this Admin administers (and are not platform staff). A failed attempt names an
    account, not an organization, so one that also belongs to another organization is that
    organization's business as much as this one's: neither Admin sees its attempts (their addresses) or
    lifts its lockout (for both); platform staff do."""
    elsewhere = Member.objects.filter(user=OuterRef("pk")).exclude(organization_id__in=scope.organization_ids)
    return (User.objects.filter(memberships__organization_id__in=scope.organization_ids, is_staff=False,
                                is_superuser=False)
            .exclude(Exists(elsewhere)).values("email"))


@admin.register(AccessAttempt, site=site)
class AccessAttemptAdmin(TenantAdmin):
    """Failed sign-ins per account and address (django-axes). "Unlock" deletes every failed attempt of
    the account, from every address (the per-address and the account-wide lockouts both end), and is
    recorded in every organization of the person. Platform staff see and unlock every account; an
    organization's Admins only those of people who belong to no organization they do not administer
    (_lockout_emails): the rows of anyone else are not on their pages at all (list, search, detail,
    actions), as another organization's objects are not."""

    organization_field = None
    allow_delete = True
    list_display = ("username", "ip_address", "failures_since_start", "attempt_time", "path_info")
    search_fields = ("username", "ip_address")
    ordering = ("-attempt_time",)
    fields = ("username", "ip_address", "user_agent", "path_info", "failures_since_start", "attempt_time")
    readonly_fields = fields
    actions = ["unlock_selected"]
    object_actions = (ObjectAction("unlock", "Unlock account", "Every failed sign-in of this account is deleted, from "
                                   "every address: it can sign in again at once."),)

    def scope_queryset(self, queryset, scope):
        if scope.everything:
            return queryset
        return queryset.filter(username__in=_lockout_emails(scope))

    def covers(self, request, obj=None):
        scope = tenant_scope(request)
        if obj is None or scope.everything:
            return scope.any
        return _lockout_emails(scope).filter(email=obj.username).exists()

    def changelist_view(self, request, extra_context=None):
        if not tenant_scope(request).everything:
            extra_context = {**(extra_context or {}), "subtitle": "People who also belong to another organization are "
                             "not listed: platform staff lift their lockouts."}
        return super().changelist_view(request, extra_context)

    def _record(self, request, username, attempts):
        """In every organization of the person (none for an unknown email), by the person lifting it."""
        members = Member.unscoped.filter(user__email=username).select_related("organization", "user")
        for member in members:
            audit.record("auth.unlocked", organization=member.organization, livemode=True,
                         principal=acting_principal(request, member.organization), target=member,
                         metadata={"email": username, "ip_addresses": sorted({a.ip_address or "" for a in attempts}),
                                   "failures": sum(a.failures_since_start for a in attempts)})

    def unlock(self, request, username):
        """Delete every failed attempt of one account, audited. Only for an account this person may see
        (get_queryset): all of its attempts, or none."""
        with transaction.atomic():
            attempts = list(self.get_queryset(request).select_for_update().filter(username=username))
            if not attempts:
                return attempts
            self._record(request, username, attempts)
            AccessAttempt.objects.filter(pk__in=[a.pk for a in attempts]).delete()
        return attempts

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._record(request, obj.username, [obj])
            obj.delete()

    def unlock_action(self, request, attempt, data):
        self.unlock(request, attempt.username)
        messages.success(request, f"{attempt.username} can sign in again.")
        return HttpResponseRedirect(reverse("admin:axes_accessattempt_changelist", current_app=self.admin_site.name))

    def has_unlock_permission(self, request):
        return self.covers(request)

    @admin.action(description="Unlock the accounts of the selected attempts", permissions=["unlock"])
    def unlock_selected(self, request, queryset):
        usernames = sorted(set(queryset.values_list("username", flat=True)))
        for username in usernames:
            self.unlock(request, username)
        messages.success(request, f"{len(usernames)} account{'s' if len(usernames) != 1 else ''} unlocked.")
