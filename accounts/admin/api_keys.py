"""API keys in the console: created for a Service member (the secret shown once), rolled, revoked."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts.actions.api_keys import create_api_key, revoke_api_key, roll_api_key
from accounts.models import APIKey
from accounts.api.serializers import APIKeySerializer
from console.admin import ObjectAction, TenantAdmin, adopt, apply_serializer_errors
from console.site import site
from accounts.admin.common import SCOPE_CHOICES, ServiceForm, scope_lines


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
        return scope_lines(api_key.scopes)

    @admin.display(description="status")
    def status(self, api_key):
        return api_key.status()

    def is_unrevoked(self, request, api_key):
        return api_key.revoked_at is None

    def is_rollable(self, request, api_key):
        return api_key.status() == "active" and not api_key.rolled_to_id

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        api_key, secret = create_api_key(
            member=data["member"], livemode=data.get("livemode", False), name=data["name"], scopes=data["scopes"],
            expires_at=data.get("expires_at"), principal=form.principal)
        adopt(obj, api_key)
        request._openpaas_new_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        return self.secret_response(request, obj, title=f"API key “{obj.name}” created",
                                    secret=request._openpaas_new_secret)

    def revoke_action(self, request, api_key, data):
        revoke_api_key(principal=self.principal_for(request, api_key, api_key.livemode), api_key=api_key)
        messages.success(request, f"{api_key.masked} is revoked.")

    def roll_action(self, request, api_key, data):
        new_key, secret = roll_api_key(principal=self.principal_for(request, api_key, api_key.livemode),
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
            revoke_api_key(principal=self.principal_for(request, api_key, api_key.livemode), api_key=api_key)
            count += 1
        messages.success(request, f"{count} key{'s' if count != 1 else ''} revoked.")


# OAuth applications
