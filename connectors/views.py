from django.db import transaction
from django.db.models import RestrictedError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.views import TenantCRUDViewSet
from api.pagination import list_response
from api.permissions import read_write
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
from core.errors import Conflict


class ConnectorViewSet(TenantCRUDViewSet):
    """Connectors: settings and (write-only, encrypted) credentials for outside systems."""

    model = Connector
    serializer_class = ConnectorSerializer
    scope_map = read_write("connectors")
    audit_resource = "connector"

    IN_USE = "This connector is used by workflows; delete or change them first."

    def in_use(self, connector):
        return connector.workflows.exists()

    def perform_destroy(self, instance):
        if self.in_use(instance):
            raise Conflict(self.IN_USE)
        try:
            super().perform_destroy(instance)
        except RestrictedError:  # a workflow created since the check: the delete and its audit event roll back
            raise Conflict(self.IN_USE) from None


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
    open_query_actions = ("records",)  # any other query parameter filters on a field (connectors.records)

    @extend_schema(
        methods=["GET"], responses=RecordSerializer(many=True),
        parameters=[
            OpenApiParameter("order_by", str, description="seq (default), -seq, a field name, or -field"),
            OpenApiParameter("limit", int), OpenApiParameter("cursor", str),
        ],
        description="Records of the dataset. Any other query parameter filters on a field: `status=paid`, "
                    "`amount__gte=10`; operators: ne, gt, gte, lt, lte, in (comma-separated). Values are read "
                    "as JSON when they parse (`10`, `true`, `null`, `\"10\"`) and compare only with values of "
                    "the same JSON type; a record without the field matches no filter. Ordering by a field "
                    "puts numbers, strings, false, true, arrays, objects in that order, and records whose "
                    "value is null or missing last; ties go by seq. An unknown or empty operator (`amount__x`, "
                    "`amount__`), and `order_by` naming a field no record of the dataset has, are a 400 naming "
                    "the parameter. A cursor is valid only with the ordering that issued it.",
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
