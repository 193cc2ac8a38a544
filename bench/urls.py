"""The API's URLs plus /bench/baseline/connectors?org=<id>: GET /api/v1/connectors without
authentication, permissions or throttling, so the difference between the two is their cost."""

from types import SimpleNamespace

from django.urls import path
from drf_spectacular.utils import OpenApiParameter

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as api_urlpatterns
from connectors.views import ConnectorViewSet


class BaselineConnectorViewSet(ConnectorViewSet):
    """The same viewset, so the same get_queryset (organization + live mode), ConnectorSerializer and
    KeysetPagination; the organization comes from ?org= instead of a credential."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    query_parameters = {"list": [OpenApiParameter("org", str)]}

    @property
    def principal(self):
        return SimpleNamespace(organization_id=self.request.query_params["org"], livemode=True)


urlpatterns = [
    *api_urlpatterns,
    path("bench/baseline/connectors", BaselineConnectorViewSet.as_view({"get": "list"})),
]
