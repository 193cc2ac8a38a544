"""OAuth applications in the console (a new client secret shown once)."""

from django import forms
from django.contrib import admin

from accounts.actions.oauth_applications import create_oauth_application, delete_oauth_application, update_oauth_application
from accounts.models import OAuthApplication
from accounts.api.serializers import OAuthApplicationSerializer
from console.admin import TenantAdmin, adopt, apply_serializer_errors
from console.site import site
from accounts.admin.common import SCOPE_CHOICES, ServiceForm, scope_lines


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
        return scope_lines(application.allowed_scopes)

    def save_model(self, request, obj, form, change):
        if not change:
            application, secret = create_oauth_application(
                organization=form.cleaned_data["organization"], livemode=form.cleaned_data.get("livemode", False),
                principal=form.principal, **form.validated)
            adopt(obj, application)
            request._openpaas_new_secret = secret
        elif form.validated:
            adopt(obj, update_oauth_application(principal=form.principal, application=obj, **form.validated))

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_openpaas_new_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self.secret_response(request, obj, title=f"OAuth application “{obj.name}” created", secret=secret,
                                    note=f"Client id: {obj.client_id}. This is its client secret.")

    def delete_model(self, request, obj):
        delete_oauth_application(principal=self.principal_for(request, obj, obj.livemode), application=obj)


# Invitations
