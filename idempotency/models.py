from django.db import models
from django.utils import timezone

from keystore.fields import EncryptedTextField


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` of one organization and mode: first a claim (while its request runs),
    then the response to replay (``response_status`` set). Rows older than 24 hours are ignored and
    deleted by ``manage.py clear_idempotency_keys``."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField()
    key = models.CharField(max_length=255)
    # SHA-256 (hex) of method, path and canonical body: a retry must be the same request.
    request_fingerprint = models.CharField(max_length=64)
    # The first request's id, returned on replays as ``Original-Request``.
    request_id = models.CharField(max_length=40, blank=True)
    # Who holds the claim: completing or releasing it is conditional on this token, so a request whose
    # stale claim was taken over cannot record or delete anything.
    claim_token = models.CharField(max_length=64)
    claimed_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=255, blank=True)
    # The body replayed to any credential: one-time secrets (an API key, a webhook signing secret, an OAuth
    # client secret) are null in it. Encrypted all the same: it is a tenant's data.
    response_body = EncryptedTextField(null=True, blank=True)
    # The members nulled in ``response_body`` (comma-separated), named in a replay's
    # ``Idempotent-Secret-Withheld`` header.
    withheld_members = models.CharField(max_length=255, blank=True)
    # The first request's credential ("api_key:key_..."): only it may have the secrets back.
    credential = models.CharField(max_length=100, blank=True)
    # The first response as sent, secrets included, sealed with AES-256-GCM under a key derived from that
    # credential's own bearer value (api.idempotency.seal), which the database does not hold: neither
    # the database nor the master key opens it, only a retry that presents the same credential.
    sealed_response_body = models.TextField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "livemode", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self):
        return f"{self.organization_id} {'live' if self.livemode else 'test'} {self.key}"

    @property
    def completed(self):
        return self.response_status is not None
