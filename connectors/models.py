from django.db import models

from core.ids import PublicIdField
from core.tenancy import TenantModel, TenantQuerySet, tenant_index
from keystore.fields import EncryptedJSONField


class Connector(TenantModel):
    """Settings and credentials for one outside system. Credentials are encrypted and never shown."""

    id = PublicIdField(prefix="conn")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=32)
    config = models.JSONField(default=dict)
    credentials = EncryptedJSONField(null=True, blank=True)

    class Meta:
        indexes = [tenant_index("connector_tenant_idx")]

    def __str__(self):
        return self.name


class Workflow(TenantModel):
    """An ordered list of steps run over the data a connector brings in."""

    id = PublicIdField(prefix="wf")
    name = models.CharField(max_length=200)
    # RESTRICT, not PROTECT: a connector in use cannot be deleted on its own, but deleting its organization
    # deletes both.
    connector = models.ForeignKey(Connector, on_delete=models.RESTRICT, related_name="workflows")
    steps = models.JSONField(default=list)

    class Meta:
        indexes = [tenant_index("workflow_tenant_idx")]

    def __str__(self):
        return self.name


class Dataset(TenantModel):
    id = PublicIdField(prefix="ds")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    record_count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [tenant_index("dataset_tenant_idx")]

    def __str__(self):
        return self.name


class Record(models.Model):
    """One JSON object in a dataset, addressed by its position (seq, from 1) in that dataset."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField()
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="records")
    seq = models.BigIntegerField()
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "seq"], name="record_unique_seq")]
