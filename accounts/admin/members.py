"""Members in the console: people and Service members; roles, granted scopes, removal."""

from django import forms
from django.contrib import admin
from django.db.models import Exists, OuterRef, Q

from accounts.actions.members import create_service_member, remove_member, update_member
from core import scopes as scope_registry
from accounts.models import AuthenticatorDevice, BackupCodeDevice, Member
from accounts.api.serializers import MemberSerializer
from console.admin import TenantAdmin, adopt, apply_serializer_errors
from console.scope import acting_principal
from console.site import site
from accounts.admin.common import HUMAN_ROLE_CHOICES, SERVICE_SCOPE_CHOICES, ServiceForm, scope_lines


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
        return scope_lines(sorted(member.max_scopes()))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            organization = data["organization"]
            member = create_service_member(principal=acting_principal(request, organization),
                                                    name=data["name"], granted_scopes=data["granted_scopes"])
            adopt(obj, member)
            return
        changes = {name: data[name] for name in form.changed_data if name in ("role", "name", "granted_scopes")}
        if changes:
            updated = update_member(principal=self.principal_for(request, obj), member=obj, **changes)
            adopt(obj, updated)

    def delete_model(self, request, obj):
        remove_member(principal=self.principal_for(request, obj), member=obj)

    def get_deleted_objects(self, objs, request):
        # A member's keys, sessions and review entries go with them (that is what removal means, and the
        # service audits it); the API key page's own "no delete" must not block it.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected


# API keys
