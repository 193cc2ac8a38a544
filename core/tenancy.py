"""The tenancy rule in code: tenant rows carry organization and livemode, and every query of them
starts from the request's principal."""

from django.db import models


class TenantQuerySet(models.QuerySet):
    def for_principal(self, principal):
        """Only the rows of the principal's organization and mode (test or live)."""
        return self.filter(organization_id=principal.organization_id, livemode=principal.livemode)


class TenantModel(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


def tenant_index(name):
    """The index every tenant list uses: filter on (organization, livemode), newest first."""
    return models.Index(fields=["organization", "livemode", "-created_at", "-id"], name=name)
