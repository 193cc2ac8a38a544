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
    # Encrypted: creation responses hold one-time secrets (API keys, webhook signing secrets).
    response_body = EncryptedTextField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "livemode", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self):
        return f"{self.organization_id} {'live' if self.livemode else 'test'} {self.key}"

    @property
    def completed(self):
        return self.response_status is not None
