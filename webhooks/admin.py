"""Webhook endpoints in the administrator console. The signing secret (and the previous one, while a
secret rotates) is on no page."""

from django import forms
from django.contrib import admin

from console.admin import APIResourceAdmin, APIResourceForm
from console.site import site
from webhooks.events import ALL_EVENTS, EVENT_TYPES
from webhooks.models import WebhookEndpoint
from webhooks.serializers import WebhookEndpointSerializer


class WebhookEndpointForm(APIResourceForm):
    url = forms.URLField(max_length=2048, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(ALL_EVENTS, "* (every event)")] + [(name, f"{name}: {text}") for name, text in EVENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "enabled"]


@admin.register(WebhookEndpoint, site=site)
class WebhookEndpointAdmin(APIResourceAdmin):
    serializer_class = WebhookEndpointSerializer
    audit_resource = "webhook_endpoint"
    form = WebhookEndpointForm
    list_display = ("url", "organization", "livemode", "enabled", "event_list", "disabled_at", "created_at")
    list_filter = ("livemode", "enabled")
    search_fields = ("id", "url", "description")
    list_select_related = ("organization",)
    ordering = ("-created_at",)
    fields = ("id", "url", "description", "events", "enabled", "organization", "livemode", "disabled_at",
              "disabled_reason", "previous_secret_expires_at", "created_at", "updated_at")
    readonly_fields = ("id", "organization", "livemode", "disabled_at", "disabled_reason", "previous_secret_expires_at",
                       "created_at", "updated_at")
    sensitive_fields = ("secret", "previous_secret")

    @admin.display(description="events")
    def event_list(self, endpoint):
        return ", ".join(endpoint.events)
