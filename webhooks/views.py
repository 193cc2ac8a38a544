from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from api.views import TenantCRUDViewSet
from api.permissions import every_method
from webhooks.models import WebhookEndpoint, new_signing_secret
from webhooks.serializers import WebhookEndpointSerializer, WebhookEndpointWithSecretSerializer


class WebhookEndpointViewSet(TenantCRUDViewSet):
    """Webhook endpoints. The signing secret (``whsec_...``) is returned once, at creation."""

    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    scope_map = every_method("webhooks:manage")
    audit_resource = "webhook_endpoint"

    @extend_schema(responses={201: WebhookEndpointWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer, secret=new_signing_secret())
        data = WebhookEndpointWithSecretSerializer(serializer.instance, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)
