from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api import TenantCRUDViewSet
from accounts.pagination import list_response
from accounts.permissions import read_write
from connectors.models import Connector, Dataset, Workflow
from connectors.records import append_records, record_page
from connectors.serializers import (
    ConnectorSerializer,
    DatasetSerializer,
    RecordBatchResultSerializer,
    RecordBatchSerializer,
    RecordSerializer,
    WorkflowSerializer,
)
from config.errors import Conflict


class ConnectorViewSet(TenantCRUDViewSet):
    """Connectors: settings and (write-only, encrypted) credentials for outside systems."""

    model = Connector
    serializer_class = ConnectorSerializer
    scope_map = read_write("connectors")
    audit_resource = "connector"

    def perform_destroy(self, instance):
        if instance.workflows.exists():
            raise Conflict("This connector is used by workflows; delete or change them first.")
        super().perform_destroy(instance)


class WorkflowViewSet(TenantCRUDViewSet):
    """Workflows: an ordered list of steps over one connector's data."""

    model = Workflow
    serializer_class = WorkflowSerializer
    scope_map = read_write("data")
    audit_resource = "workflow"

    def scope_queryset(self, queryset):
        return queryset.select_related("connector")


class DatasetViewSet(TenantCRUDViewSet):
    """Datasets and their records."""

    model = Dataset
    serializer_class = DatasetSerializer
    scope_map = read_write("data")
    audit_resource = "dataset"

    @extend_schema(
        methods=["GET"], responses=RecordSerializer(many=True),
        parameters=[
            OpenApiParameter("order_by", str, description="seq (default), -seq, a field name, or -field"),
            OpenApiParameter("limit", int), OpenApiParameter("cursor", str),
        ],
        description="Records of the dataset. Any other query parameter filters on a field: `status=paid`, "
                    "`amount__gte=10`; operators: ne, gt, gte, lt, lte, in (comma-separated).",
    )
    @extend_schema(methods=["POST"], request=RecordBatchSerializer, responses={201: RecordBatchResultSerializer})
    @action(detail=True, methods=["get", "post"])
    def records(self, request, id=None):
        dataset = self.get_object()
        if request.method == "GET":
            rows, has_more, next_cursor = record_page(dataset, request)
            return list_response(RecordSerializer(rows, many=True).data, has_more, next_cursor)
        batch = RecordBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        records = batch.validated_data["records"]
        with transaction.atomic():
            first_seq = append_records(dataset, records)
            self.record("records_appended", dataset, {"count": len(records), "first_seq": first_seq})
        result = {"dataset": dataset.id, "appended": len(records), "first_seq": first_seq,
                  "record_count": dataset.record_count}
        return Response(RecordBatchResultSerializer(result).data, status=status.HTTP_201_CREATED)
