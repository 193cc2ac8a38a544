"""The administrator console's pages for organizations, members, API keys, OAuth applications,
invitations, access reviews and django-axes lockouts.

Each page writes through the same function the API calls (accounts.actions.services, accounts.actions.invitations,
accounts.actions.reviews), acting as the requesting person's Admin membership in the object's organization
(console.site.acting_principal), so every change is validated by the same rules and leaves the same
audit event. Secrets are never on a page: keys show their prefix and last four characters; a new key's or
application's secret is shown once, on the page that answers its creation."""

from datetime import timedelta

from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

import audit
from accounts.actions import invitations, reviews, services
from core import scopes as scope_registry
from accounts.models import (
    AccessReview,
    AccessReviewItem,
    APIKey,
    AuthenticatorDevice,
    BackupCodeDevice,
    Invitation,
    Member,
    OAuthApplication,
    Organization,
    User,
)
from accounts.api.serializers import APIKeySerializer, MemberSerializer, OAuthApplicationSerializer
from console.site import (
    ObjectAction,
    TenantAdmin,
    acting_principal,
    admin_membership,
    adopt,
    apply_serializer_errors,
    conflict_message,
    site,
    tenant_scope,
)
from core.errors import Conflict

SCOPE_CHOICES = [(scope, f"{scope}: {description}") for scope, description in sorted(scope_registry.SCOPES.items())]
SERVICE_SCOPE_CHOICES = [(scope, label) for scope, label in SCOPE_CHOICES if scope in scope_registry.SEED_SCOPES]
HUMAN_ROLE_CHOICES = [(role, name) for role, name in scope_registry.ROLE_CHOICES
                      if role in scope_registry.HUMAN_ROLE_IDS]


class ServiceForm(forms.ModelForm):
    """A form whose values a service function writes: it validates, and never touches the instance
    (no construct_instance, no model validation of half-set rows)."""

    def _post_clean(self):
        pass

    def principal_for(self, organization, livemode=True):
        return acting_principal(self.admin_request, organization, livemode)


def _scopes(values):
    return " ".join(values) if values else "—"


# Organizations


@admin.register(Organization, site=site)
class OrganizationAdmin(TenantAdmin):
    organization_field = "pk"
    allow_change = True
    sudo_fields = ("require_mfa",)  # weakening the two-factor policy is as sensitive as turning MFA off
    list_display = ("name", "id", "require_mfa", "member_count", "created_at")
    search_fields = ("name", "id")
    ordering = ("name", "id")  # the autocomplete pages this list: unordered, pages could repeat or skip rows
    fields = ("id", "name", "require_mfa", "created_at")
    readonly_fields = ("id", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, organization):
        return organization.member_total

    def save_model(self, request, obj, form, change):
        changed = [name for name in form.changed_data if name in ("name", "require_mfa")]
        if not changed:
            return
        with transaction.atomic():
            obj.save(update_fields=changed)
            audit.record("organization.updated", organization=obj, livemode=True,
                         principal=acting_principal(request, obj), target=obj,
                         metadata={name: getattr(obj, name) for name in changed})


# Members


class ServiceMemberAddForm(ServiceForm):
    granted_scopes = forms.MultipleChoiceField(choices=SERVICE_SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Member
        fields = ["organization", "name", "granted_scopes"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        body = {"role": scope_registry.SERVICE, "name": data.get("name", ""), "scopes": data.get("granted_scopes", [])}
        serializer = MemberSerializer(data=body)
        if not serializer.is_valid():
            apply_serializer_errors(self, serializer.errors, {"scopes": "granted_scopes"})
        return data


class MemberChangeForm(ServiceForm):
    """A person: role and display name. A Service member: name and granted scopes."""

    role = forms.ChoiceField(choices=HUMAN_ROLE_CHOICES)
    granted_scopes = forms.MultipleChoiceField(choices=SERVICE_SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple,
                                               required=False)

    class Meta:
        model = Member
        fields = ["role", "name", "granted_scopes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.role == scope_registry.SERVICE:
            self.fields.pop("role", None)
        else:
            self.fields.pop("granted_scopes", None)

    def clean(self):
        data = super().clean()
        member = self.instance
        if self.errors or not self.changed_data:
            return data
        body = {{"granted_scopes": "scopes"}.get(name, name): data.get(name) for name in self.changed_data}
        serializer = MemberSerializer(member, data=body, partial=True)
        if not serializer.is_valid():
            apply_serializer_errors(self, serializer.errors, {"scopes": "granted_scopes"})
        elif ("role" in self.changed_data and member.role == scope_registry.ADMIN
              and not Member.objects.filter(organization_id=member.organization_id, role=scope_registry.ADMIN)
              .exclude(pk=member.pk).exists()):
            self.add_error("role", "An organization must keep at least one Admin.")
        return data


class MFAFilter(admin.SimpleListFilter):
    title = "two-factor"
    parameter_name = "mfa"

    def lookups(self, request, model_admin):
        return [("yes", "On"), ("no", "Off")]

    def queryset(self, request, queryset):
        on = Q(has_authenticator=True) | Q(has_backup_codes=True)
        if self.value() == "yes":
            return queryset.filter(on)
        if self.value() == "no":
            return queryset.exclude(on)
        return queryset


@admin.register(Member, site=site)
class MemberAdmin(TenantAdmin):
    """People and Service members. People join by invitation; Service members are added here. A change of
    role or of a Service member's granted scopes needs sudo; removal takes the member's keys with it."""

    allow_add = allow_change = allow_delete = True
    sudo_fields = ("role", "granted_scopes")  # both decide what the member (and every key it holds) may do
    list_display = ("display_name", "email", "organization", "role", "mfa", "last_login", "created_at")
    list_filter = ("role", MFAFilter)
    search_fields = ("id", "name", "user__email")
    list_select_related = ("user", "organization")
    ordering = ("organization__name", "-created_at")

    def get_queryset(self, request):
        confirmed = {"user": OuterRef("user"), "confirmed": True}
        return super().get_queryset(request).annotate(
            has_authenticator=Exists(AuthenticatorDevice.objects.filter(**confirmed)),
            has_backup_codes=Exists(BackupCodeDevice.objects.filter(**confirmed)),
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name", "granted_scopes"]
        if obj.role == scope_registry.SERVICE:
            return ["id", "organization", "role", "name", "granted_scopes", "effective_scopes", "created_at"]
        return ["id", "email", "organization", "role", "name", "effective_scopes", "mfa", "last_login", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["id", "email", "organization", "effective_scopes", "mfa", "last_login", "created_at"]
        if obj.role == scope_registry.SERVICE:
            readonly.append("role")
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MemberChangeForm if obj is not None else ServiceMemberAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="email", ordering="user__email")
    def email(self, member):
        return member.user.email if member.user_id else "—"

    @admin.display(description="two-factor", boolean=True)
    def mfa(self, member):
        if member.user_id is None:
            return None
        if hasattr(member, "has_authenticator"):
            return member.has_authenticator or member.has_backup_codes
        return AuthenticatorDevice.objects.filter(user_id=member.user_id, confirmed=True).exists()

    @admin.display(description="last sign-in", ordering="user__last_login")
    def last_login(self, member):
        return member.user.last_login if member.user_id else None

    @admin.display(description="effective scopes")
    def effective_scopes(self, member):
        return _scopes(sorted(member.max_scopes()))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            organization = data["organization"]
            member = services.create_service_member(principal=acting_principal(request, organization),
                                                    name=data["name"], granted_scopes=data["granted_scopes"])
            adopt(obj, member)
            return
        changes = {name: data[name] for name in form.changed_data if name in ("role", "name", "granted_scopes")}
        if changes:
            updated = services.update_member(principal=self.principal_for(request, obj), member=obj, **changes)
            adopt(obj, updated)

    def delete_model(self, request, obj):
        services.remove_member(principal=self.principal_for(request, obj), member=obj)

    def get_deleted_objects(self, objs, request):
        # A member's keys, sessions and review entries go with them (that is what removal means, and the
        # service audits it); the API key page's own "no delete" must not block it.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected


# API keys


class APIKeyAddForm(ServiceForm):
    scopes = forms.MultipleChoiceField(choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = APIKey
        fields = ["member", "livemode", "name", "scopes", "expires_at"]
        labels = {"livemode": "Live mode (sk_live_); unticked: test mode (sk_test_)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        member = self.fields["member"]
        member.queryset = member.queryset.select_related("user", "organization").order_by("organization__name")
        member.label_from_instance = lambda m: f"{m.display_name} ({m.get_role_display()}, {m.organization.name})"

    def clean(self):
        data = super().clean()
        member = data.get("member")
        if self.errors or member is None:
            return data
        self.principal = self.principal_for(member.organization, data.get("livemode", False))
        body = {"name": data.get("name", ""), "member": member.pk, "scopes": data.get("scopes", [])}
        if data.get("expires_at"):
            body["expires_at"] = data["expires_at"]
        serializer = APIKeySerializer(data=body, context={"principal": self.principal})
        if not serializer.is_valid():
            apply_serializer_errors(self, serializer.errors)
        return data


GRACE_CHOICES = [(0, "Stop now"), (3600, "1 hour"), (24 * 3600, "24 hours"), (7 * 24 * 3600, "7 days")]


class RollForm(forms.Form):
    expires_in = forms.TypedChoiceField(choices=GRACE_CHOICES, coerce=int, initial=24 * 3600,
                                        label="The old key keeps working for")


class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.usable(now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.register(APIKey, site=site)
class APIKeyAdmin(TenantAdmin):
    """Keys, masked. Create (needs sudo; the secret is shown once), revoke, roll (needs sudo)."""

    allow_add = True
    sudo_to_add = True
    sensitive_fields = ("digest",)
    list_display = ("name", "masked", "member", "organization", "livemode", "status", "scope_list", "created_at",
                    "last_used_at", "expires_at")
    list_filter = ("livemode", KeyStatusFilter)
    search_fields = ("id", "name", "prefix", "member__name", "member__user__email")
    list_select_related = ("member__user", "organization")
    ordering = ("-created_at",)
    actions = ["revoke_selected"]
    object_actions = (
        ObjectAction("revoke", "Revoke", "The key stops working at once. This cannot be undone.",
                     available="is_unrevoked"),
        ObjectAction("roll", "Roll", "A new key replaces this one; its secret is shown once. The old key keeps "
                     "working for the grace period you choose.", sudo=True, form=RollForm, available="is_rollable"),
    )
    add_form = APIKeyAddForm
    detail_fields = ("id", "name", "masked", "member", "organization", "livemode", "scope_list", "status",
                     "created_at", "created_by", "expires_at", "revoked_at", "rolled_to", "last_used_at",
                     "last_used_ip")

    @admin.display(description="key")
    def masked(self, api_key):
        return api_key.masked

    @admin.display(description="scopes")
    def scope_list(self, api_key):
        return _scopes(api_key.scopes)

    @admin.display(description="status")
    def status(self, api_key):
        return api_key.status()

    def is_unrevoked(self, request, api_key):
        return api_key.revoked_at is None

    def is_rollable(self, request, api_key):
        return api_key.status() == "active" and not api_key.rolled_to_id

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        api_key, secret = services.create_api_key(
            member=data["member"], livemode=data.get("livemode", False), name=data["name"], scopes=data["scopes"],
            expires_at=data.get("expires_at"), principal=form.principal)
        adopt(obj, api_key)
        request._openpaas_new_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        return self.secret_response(request, obj, title=f"API key “{obj.name}” created",
                                    secret=request._openpaas_new_secret)

    def revoke_action(self, request, api_key, data):
        services.revoke_api_key(principal=self.principal_for(request, api_key, api_key.livemode), api_key=api_key)
        messages.success(request, f"{api_key.masked} is revoked.")

    def roll_action(self, request, api_key, data):
        new_key, secret = services.roll_api_key(principal=self.principal_for(request, api_key, api_key.livemode),
                                                api_key=api_key, expires_in=data["expires_in"])
        api_key.refresh_from_db()
        return self.secret_response(request, new_key, title=f"{api_key.masked} rolled", secret=secret,
                                    note=f"It replaces {api_key.masked}, which stops working at "
                                         f"{api_key.expires_at:%Y-%m-%d %H:%M} UTC.")

    def has_revoke_permission(self, request):
        return self.covers(request)

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_key(principal=self.principal_for(request, api_key, api_key.livemode), api_key=api_key)
            count += 1
        messages.success(request, f"{count} key{'s' if count != 1 else ''} revoked.")


# OAuth applications


class OAuthApplicationForm(ServiceForm):
    """Validated by the API's serializer, written by the API's services."""

    client_type = forms.ChoiceField(choices=[("confidential", "Confidential (has a secret)"), ("public", "Public")])
    grant_types = forms.MultipleChoiceField(choices=OAuthApplication.GRANT_CHOICES, widget=forms.CheckboxSelectMultiple)
    redirect_uris = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                    help_text="One per line: exact https URLs, without a fragment.")
    allowed_scopes = forms.MultipleChoiceField(choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = OAuthApplication
        fields = ["organization", "livemode", "name", "client_type", "grant_types", "redirect_uris", "allowed_scopes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validated = {}
        if not self.instance._state.adding:
            self.initial["redirect_uris"] = "\n".join(self.instance.redirect_uris.split())
            for name in ("organization", "livemode", "client_type"):
                self.fields.pop(name, None)

    def clean_redirect_uris(self):
        return "\n".join(line.strip() for line in self.cleaned_data["redirect_uris"].splitlines() if line.strip())

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        instance = None if self.instance._state.adding else self.instance
        organization = instance.organization if instance else data.get("organization")
        livemode = instance.livemode if instance else data.get("livemode", False)
        if organization is None:
            return data
        self.principal = self.principal_for(organization, livemode)
        body = {name: data[name] for name in ("name", "client_type", "grant_types", "allowed_scopes") if name in data}
        body["redirect_uris"] = data.get("redirect_uris", "").split()
        if instance:  # only what really changes (a textarea's line endings are no change)
            body = {name: value for name, value in body.items() if self._differs(instance, name, value)}
            if not body:
                return data
        serializer = OAuthApplicationSerializer(instance, data=body, partial=bool(instance),
                                                context={"principal": self.principal})
        if serializer.is_valid():
            self.validated = dict(serializer.validated_data)
        else:
            apply_serializer_errors(self, serializer.errors)
        return data

    @staticmethod
    def _differs(instance, name, value):
        current = instance.redirect_uris.split() if name == "redirect_uris" else getattr(instance, name)
        return sorted(value) != sorted(current) if isinstance(value, list) else value != current


@admin.register(OAuthApplication, site=site)
class OAuthApplicationAdmin(TenantAdmin):
    """OAuth clients. Creating one needs sudo, as a key does: a confidential client's secret is shown once,
    at creation; only its hash is kept, and no page shows either."""

    allow_add = allow_change = allow_delete = True
    sudo_to_add = True
    sudo_fields = ("allowed_scopes", "grant_types")  # widening them widens what its tokens may do
    sensitive_fields = ("client_secret",)
    list_display = ("name", "client_id", "organization", "livemode", "client_type", "grant_list", "scope_list",
                    "created_at")
    list_filter = ("livemode", "client_type")
    search_fields = ("id", "name", "client_id")
    list_select_related = ("organization",)
    ordering = ("-created_at",)
    detail_readonly = ("id", "client_id", "organization", "livemode", "client_type", "service_member", "created_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return list(OAuthApplicationForm.Meta.fields)
        return ["id", "name", "client_id", "organization", "livemode", "client_type", "grant_types", "redirect_uris",
                "allowed_scopes", "service_member", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if not self.has_change_permission(request, obj):
            return self.get_fields(request, obj)
        return list(self.detail_readonly)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = OAuthApplicationForm
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="grant types")
    def grant_list(self, application):
        return ", ".join(application.grant_types)

    @admin.display(description="scopes")
    def scope_list(self, application):
        return _scopes(application.allowed_scopes)

    def save_model(self, request, obj, form, change):
        if not change:
            application, secret = services.create_oauth_application(
                organization=form.cleaned_data["organization"], livemode=form.cleaned_data.get("livemode", False),
                principal=form.principal, **form.validated)
            adopt(obj, application)
            request._openpaas_new_secret = secret
        elif form.validated:
            adopt(obj, services.update_oauth_application(principal=form.principal, application=obj, **form.validated))

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_openpaas_new_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self.secret_response(request, obj, title=f"OAuth application “{obj.name}” created", secret=secret,
                                    note=f"Client id: {obj.client_id}. This is its client secret.")

    def delete_model(self, request, obj):
        services.delete_oauth_application(principal=self.principal_for(request, obj, obj.livemode), application=obj)


# Invitations


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


class ReviewStartForm(ServiceForm):
    class Meta:
        model = AccessReview
        fields = ["organization", "due_date"]
        help_texts = {"due_date": "When the decisions must be made; the review is flagged overdue after it."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["due_date"].initial = timezone.localdate() + timedelta(days=14)

    def clean_due_date(self):
        due_date = self.cleaned_data["due_date"]
        if due_date < timezone.localdate():
            raise forms.ValidationError("The due date cannot be in the past.")
        return due_date


class ReviewItemForm(ServiceForm):
    new_role = forms.ChoiceField(choices=[("", "—")] + HUMAN_ROLE_CHOICES, required=False)

    class Meta:
        model = AccessReviewItem
        fields = ["decision", "new_role", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2, "cols": 28})}

    def clean(self):
        data = super().clean()
        if not self.has_changed() or self.errors:
            return data
        item, decision = self.instance, data.get("decision")
        if not decision:
            self.add_error("decision", "Choose keep, change role or revoke.")
        elif decision == AccessReviewItem.CHANGE_ROLE:
            if item.is_credential or item.role == scope_registry.SERVICE:
                self.add_error("decision", "Only a person's role can change; keep or revoke a credential.")
            elif not data.get("new_role"):
                self.add_error("new_role", "Choose the new role.")
        else:
            data["new_role"] = ""
        return data


class AccessReviewItemInline(admin.TabularInline):
    model = AccessReviewItem
    form = ReviewItemForm
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("id",)
    fields = ("subject", "kind", "role", "scope_list", "last_login", "last_key_use", "two_factor", "key_age",
              "decision", "new_role", "note", "decided_by_label", "decided_at")
    readonly_fields = ("subject", "kind", "role", "scope_list", "last_login", "last_key_use", "two_factor", "key_age",
                       "decided_by_label", "decided_at")

    def _review_admin(self):
        return self.admin_site._registry[AccessReview]

    def has_view_permission(self, request, obj=None):
        return self._review_admin().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is not None and self._review_admin().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="scopes")
    def scope_list(self, item):
        return _scopes(item.scopes)

    @admin.display(description="two-factor")
    def two_factor(self, item):
        return "—" if item.is_credential else ("on" if item.mfa_enabled else "OFF")

    @admin.display(description="key age (days)")
    def key_age(self, item):
        return "—" if item.key_age_days is None else item.key_age_days


class ReviewStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("overdue", "Overdue"), ("completed", "Completed")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        return {
            "open": lambda: queryset.filter(completed_at__isnull=True),
            "overdue": lambda: queryset.filter(completed_at__isnull=True, due_date__lt=today),
            "completed": lambda: queryset.filter(completed_at__isnull=False),
        }.get(self.value(), lambda: queryset)()


@admin.register(AccessReview, site=site)
class AccessReviewAdmin(TenantAdmin):
    """An organization's Admin starts a review, decides for each member and credential (keep, change
    role, revoke, with a note), and completes it (needs sudo), which applies every decision. Platform
    staff who are not an Admin of the organization can read and export reviews, not decide them."""

    allow_add = allow_change = True
    # Who started and completed it as recorded then, not the links (emptied when that member is removed).
    list_display = ("__str__", "organization", "due_date", "status", "decided", "started_by_label", "created_at",
                    "completed_at", "completed_by_label", "csv")
    list_filter = (ReviewStatusFilter,)
    list_select_related = ("organization",)
    ordering = ("-created_at",)
    inlines = [AccessReviewItemInline]
    object_actions = (
        ObjectAction("complete", "Complete review", "Every decision is applied now: roles change, keys are revoked, "
                     "members are removed. Every entry needs a decision first.", sudo=True, available="is_open"),
        ObjectAction("export", "Export CSV", download=True, available="is_completed"),
    )
    add_form = ReviewStartForm
    detail_fields = ("organization", "due_date", "status", "started_by_label", "started_by_member_id", "created_at",
                     "completed_at", "completed_by_label", "completed_by_member_id")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            item_total=Count("items"), decided_total=Count("items", filter=~Q(items__decision="")))

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organization":
            # A review is started (and decided) by one of the organization's Admins, staff or not.
            kwargs["queryset"] = Organization.objects.filter(pk__in=tenant_scope(request).organization_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def reviewer(self, request, review):
        return admin_membership(request, review.organization_id)

    def has_add_permission(self, request):
        return bool(tenant_scope(request).organization_ids)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return self.covers(request)
        return self.covers(request, obj) and obj.completed_at is None and self.reviewer(request, obj) is not None

    def has_object_action_permission(self, request, obj, action):
        if action.name == "complete":
            return self.covers(request, obj) and self.reviewer(request, obj) is not None
        return self.covers(request, obj)

    def is_open(self, request, review):
        return review.completed_at is None

    def is_completed(self, request, review):
        return review.completed_at is not None

    @admin.display(description="status")
    def status(self, review):
        if review.completed_at:
            return "Completed"
        return "OVERDUE" if review.is_overdue else "Open"

    @admin.display(description="decided")
    def decided(self, review):
        return f"{review.decided_total} / {review.item_total}" if hasattr(review, "item_total") else ""

    @admin.display(description="export")
    def csv(self, review):
        if review.completed_at is None:
            return ""
        return format_html('<a href="{}">CSV</a>', self.object_action_url(review, "export"))

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing on the review itself is edited; the decisions are saved by save_formset
        organization = form.cleaned_data["organization"]
        member = admin_membership(request, organization.pk)
        review = reviews.start(organization=organization, started_by=member, due_date=form.cleaned_data["due_date"])
        adopt(obj, review)

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(request, f"{obj} started with {obj.items.count()} entries: decide on each, then complete it.")
        return HttpResponseRedirect(self.change_url(obj))

    def save_formset(self, request, form, formset, change):
        review = form.instance
        member = self.reviewer(request, review)
        # What formset.save() would leave, for the admin's own log entry.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item_form in formset.forms:
            if not item_form.has_changed():
                continue
            data = item_form.cleaned_data
            item = AccessReviewItem.objects.select_related("review").get(pk=item_form.instance.pk, review=review)
            reviews.decide(item=item, decision=data["decision"], decided_by=member, new_role=data.get("new_role", ""),
                           note=data.get("note", ""))
            formset.changed_objects.append((item, item_form.changed_data))

    def complete_action(self, request, review, data):
        completed = reviews.complete(review=review, completed_by=self.reviewer(request, review))
        messages.success(request, "The access review is completed and its decisions applied.")
        if completed.skipped:
            messages.warning(request, "Not applied, the member or key was already gone: "
                             + ", ".join(item.subject for item in completed.skipped) + ".")

    def export_action(self, request, review, data):
        with transaction.atomic():
            audit.record("access_review.exported", organization=review.organization, livemode=True,
                         principal=acting_principal(request, review.organization), target=review,
                         metadata={"format": "csv"})
        response = HttpResponse(reviews.export_csv(review), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="access-review-{review.pk}.csv"'
        response["Cache-Control"] = "no-store"
        return response


# Brute-force lockouts (django-axes)


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
        members = Member.objects.filter(user__email=username).select_related("organization", "user")
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
