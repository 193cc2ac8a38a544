"""Connectors, workflows and datasets in the administrator console. A connector's credentials are on no
page, not even encrypted: the page says only whether it has some."""

from django.contrib import admin

from console.admin import APIResourceAdmin, TenantAdmin
from console.site import site
from connectors.actions import delete_connector
from connectors.models import Connector, Dataset, Workflow
from connectors.serializers import ConnectorSerializer


@admin.register(Connector, site=site)
class ConnectorAdmin(APIResourceAdmin):
    serializer_class = ConnectorSerializer
    audit_resource = "connector"
    list_display = ("name", "type", "organization", "livemode", "has_credentials", "created_at", "updated_at")
    list_filter = ("livemode", "type")
    search_fields = ("id", "name")
    list_select_related = ("organization",)
    ordering = ("-created_at",)
    # Whitelisted, never "all fields": ``credentials`` must not be one of them.
    fields = ("id", "name", "type", "organization", "livemode", "config", "has_credentials", "created_at", "updated_at")
    readonly_fields = ("id", "type", "organization", "livemode", "has_credentials", "created_at", "updated_at")
    sensitive_fields = ("credentials",)

    @admin.display(description="credentials", boolean=True)
    def has_credentials(self, connector):
        return bool(connector.credentials)

    def delete_model(self, request, obj):
        delete_connector(obj, principal=self.principal_for(request, obj, obj.livemode))


@admin.register(Workflow, site=site)
class WorkflowAdmin(TenantAdmin):
    """Read-only here; workflows are edited through the API."""

    list_display = ("name", "connector", "organization", "livemode", "created_at", "updated_at")
    list_filter = ("livemode",)
    search_fields = ("id", "name")
    list_select_related = ("organization", "connector")
    ordering = ("-created_at",)
    fields = ("id", "name", "connector", "organization", "livemode", "steps", "created_at", "updated_at")
    readonly_fields = fields


@admin.register(Dataset, site=site)
class DatasetAdmin(TenantAdmin):
    """Read-only here, and without its records (the data stays behind the API's data:read scope)."""

    list_display = ("name", "organization", "livemode", "record_count", "created_at", "updated_at")
    list_filter = ("livemode",)
    search_fields = ("id", "name")
    list_select_related = ("organization",)
    ordering = ("-created_at",)
    fields = ("id", "name", "description", "organization", "livemode", "record_count", "created_at", "updated_at")
    readonly_fields = fields
