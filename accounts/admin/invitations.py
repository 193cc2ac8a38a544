"""Invitations in the console: invite, resend, cancel."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts.actions import invitations
from accounts.models import Invitation, User
from console.admin import ObjectAction, TenantAdmin, adopt
from console.scope import acting_principal, conflict_message
from console.site import site
from core.errors import Conflict
from accounts.admin.common import HUMAN_ROLE_CHOICES, ServiceForm


class InvitationAddForm(ServiceForm):
    role = forms.ChoiceField(choices=HUMAN_ROLE_CHOICES)

    class Meta:
        model = Invitation
        fields = ["organization", "email", "role"]

    def clean(self):
        data = super().clean()
        organization, email = data.get("organization"), data.get("email")
        if self.errors or organization is None or not email:
            return data
        try:
            invitations.check_can_invite(organization, User.objects.normalize_email(email).lower())
        except Conflict as exc:
            self.add_error("email", conflict_message(exc))
        return data


class InvitationStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("accepted", "Accepted"), ("cancelled", "Cancelled"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        open_ = {"accepted_at__isnull": True, "cancelled_at__isnull": True}
        return {
            "pending": lambda: queryset.filter(**open_, expires_at__gt=now),
            "accepted": lambda: queryset.filter(accepted_at__isnull=False),
            "cancelled": lambda: queryset.filter(accepted_at__isnull=True, cancelled_at__isnull=False),
            "expired": lambda: queryset.filter(**open_, expires_at__lte=now),
        }.get(self.value(), lambda: queryset)()


@admin.register(Invitation, site=site)
class InvitationAdmin(TenantAdmin):
    """Invite by email with a role; resend (a new link, 7 more days) or cancel a pending one."""

    allow_add = True
    sensitive_fields = ("token_digest",)
    list_display = ("email", "role", "status", "organization", "invited_by", "sent_count", "created_at", "expires_at")
    list_filter = ("role", InvitationStatusFilter)
    search_fields = ("id", "email")
    list_select_related = ("organization", "invited_by__user")
    ordering = ("-created_at",)
    actions = ["resend_selected", "cancel_selected"]
    object_actions = (
        ObjectAction("resend", "Resend", "A new link goes out, valid 7 days; the old link stops working.",
                     available="is_open"),
        ObjectAction("cancel", "Cancel invitation", "The link stops working.", available="is_open"),
    )
    add_form = InvitationAddForm
    detail_fields = ("id", "email", "role", "status", "organization", "invited_by", "sent_count", "created_at",
                     "expires_at", "accepted_at", "accepted_by", "cancelled_at")

    @admin.display(description="status")
    def status(self, invitation):
        return invitation.status()

    def is_open(self, request, invitation):
        return invitation.status() in ("pending", "expired")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        invitation = invitations.invite(principal=acting_principal(request, data["organization"]),
                                        email=data["email"], role=data["role"])
        adopt(obj, invitation)

    def resend_action(self, request, invitation, data):
        invitations.resend(invitation=invitation, principal=self.principal_for(request, invitation))
        messages.success(request, f"The invitation of {invitation.email} was sent again.")

    def cancel_action(self, request, invitation, data):
        invitations.cancel(invitation=invitation, principal=self.principal_for(request, invitation))
        messages.success(request, f"The invitation of {invitation.email} is cancelled.")

    def has_invite_permission(self, request):
        return self.covers(request)

    def _each(self, request, queryset, run, done):
        count = 0
        for invitation in queryset.select_related("organization"):
            try:
                run(invitation=invitation, principal=self.principal_for(request, invitation))
                count += 1
            except Conflict as exc:
                messages.warning(request, f"{invitation.email}: {conflict_message(exc)}")
        messages.success(request, f"{count} invitation{'s' if count != 1 else ''} {done}.")

    @admin.action(description="Resend the selected invitations", permissions=["invite"])
    def resend_selected(self, request, queryset):
        self._each(request, queryset, invitations.resend, "sent again")

    @admin.action(description="Cancel the selected invitations", permissions=["invite"])
    def cancel_selected(self, request, queryset):
        self._each(request, queryset, invitations.cancel, "cancelled")


# Access reviews
