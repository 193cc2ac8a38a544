from django.conf import settings
from rest_framework import serializers

from api.fields import not_one_of
from api.views import ObjectTypeField, TenantModelSerializer
from core.credentials import credential_in_url
from webhooks.events import ALL_EVENTS, EVENT_TYPES
from webhooks.models import WebhookEndpoint


class WebhookEndpointSerializer(TenantModelSerializer):
    object = ObjectTypeField("webhook_endpoint")
    url = serializers.URLField(max_length=2048)
    events = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=False,
                                   max_length=len(EVENT_TYPES) + 1)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "object", "url", "description", "events", "enabled", "disabled_at", "livemode",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "disabled_at", "livemode", "created_at", "updated_at"]
        extra_kwargs = {"description": {"max_length": 500}}

    def validate_url(self, url):
        if not url.lower().startswith("https://") and not (settings.OPENPAAS_WEBHOOK_ALLOW_HTTP and url.lower().startswith("http://")):
            raise serializers.ValidationError("Must be an https URL.")
        found = credential_in_url(url)
        if found:  # said without repeating it; the URL is shown to anyone who manages webhooks
            raise serializers.ValidationError(
                f"Webhook URLs cannot carry credentials ({found}): deliveries are signed with the endpoint's "
                "signing secret, which the receiver verifies.")
        return url

    def validate_events(self, events):
        unknown = sorted(set(events) - set(EVENT_TYPES) - {ALL_EVENTS})
        if unknown:
            raise serializers.ValidationError(not_one_of([ALL_EVENTS, *EVENT_TYPES], *unknown))
        return sorted(set(events))


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The create response: the only time the signing secret is sent."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookEndpointSerializer.Meta):
        fields = WebhookEndpointSerializer.Meta.fields + ["secret"]
