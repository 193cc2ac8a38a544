from django.db import models
from django.db.models import Q

from core.ids import PublicIdField
from core.tenancy import TenantQuerySet


class AppendOnlyQuerySet(TenantQuerySet):
    def for_principal(self, principal):
        """The events of the principal's mode, and the organization-wide ones (members, roles,
        invitations, sign-ins: audit.actions), which have no mode and are listed in both."""
        from audit.actions import ORGANIZATION_WIDE

        return self.filter(Q(livemode=principal.livemode) | Q(action__in=sorted(ORGANIZATION_WIDE)),
                           organization_id=principal.organization_id)

    def update(self, **kwargs):
        raise TypeError("Audit events are append-only.")

    def delete(self):
        raise TypeError("Audit events are append-only.")


class AuditEvent(models.Model):
    """One security-relevant action. Written in the same transaction as the change it records."""

    id = PublicIdField(prefix="evt")
    # The record outlives what it records: deleting an organization leaves its events (no database
    # constraint, nothing cascades or blocks); they are still found by organization_id.
    organization = models.ForeignKey("accounts.Organization", on_delete=models.DO_NOTHING, db_constraint=False,
                                     related_name="+")
    livemode = models.BooleanField()
    action = models.CharField(max_length=64)
    actor_type = models.CharField(max_length=16)  # "member" or "system"
    actor_id = models.CharField(max_length=40, blank=True)
    actor_label = models.CharField(max_length=254, blank=True)
    credential_kind = models.CharField(max_length=16, blank=True)
    credential_id = models.CharField(max_length=40, blank=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=40, blank=True)
    request_id = models.CharField(max_length=40, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "livemode", "-created_at", "-id"], name="auditevent_tenant_idx")]

    def __str__(self):
        return f"{self.action} {self.target_id} by {self.actor_label or self.actor_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only.")
