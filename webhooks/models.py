import base64
import secrets

from django.db import models

from core.ids import PublicIdField
from core.tenancy import TenantModel, tenant_index
from keystore.fields import EncryptedTextField


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(TenantModel):
    """Where an organization wants events delivered, and the secret that signs them."""

    id = PublicIdField(prefix="we")
    url = models.URLField(max_length=2048)
    description = models.CharField(max_length=500, blank=True)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    secret = EncryptedTextField()
    # While a secret rotates, deliveries are signed with both until the old one expires.
    previous_secret = EncryptedTextField(null=True, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Set when deliveries keep failing and the endpoint is turned off automatically.
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [tenant_index("webhookendpoint_tenant_idx")]

    def __str__(self):
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events
