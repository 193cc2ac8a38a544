"""The API's URLs plus two references for GET /api/v1/connectors, reached with ?org=<id>:

- /bench/baseline/connectors: the same view without authentication, permissions or throttling, so the
  difference between the two is their cost;
- /bench/floor/connectors: the baseline plus what no authentication of a bearer credential can avoid,
  one SHA-256 of the credential and one Redis round trip on an open connection (a GET), so the
  difference between the API and this one is what the platform adds above that floor."""

import hashlib
import threading
from types import SimpleNamespace

from django.urls import path
from django_redis import get_redis_connection
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


_connections = threading.local()


class FloorConnectorViewSet(BaselineConnectorViewSet):
    def initial(self, request, *args, **kwargs):
        hashlib.sha256(request.META.get("HTTP_AUTHORIZATION", "").encode()).hexdigest()
        connection = getattr(_connections, "redis", None)
        if connection is None:
            pool = get_redis_connection("default").connection_pool
            connection = _connections.redis = pool.connection_class(**pool.connection_kwargs)
        connection.send_command("GET", f"openpaas:authgen:{request.query_params['org']}")
        connection.read_response()
        super().initial(request, *args, **kwargs)


urlpatterns = [
    *api_urlpatterns,
    path("bench/baseline/connectors", BaselineConnectorViewSet.as_view({"get": "list"})),
    path("bench/floor/connectors", FloorConnectorViewSet.as_view({"get": "list"})),
]
