from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from accounts.permissions import ANY_PRINCIPAL
from accounts.views import APIKeyViewSet, MemberViewSet, MeView
from audit.views import AuditEventViewSet
from connectors.views import ConnectorViewSet, DatasetViewSet, WorkflowViewSet
from webhooks.views import WebhookEndpointViewSet

router = SimpleRouter(trailing_slash=False)
router.register("connectors", ConnectorViewSet, basename="connector")
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("api-keys", APIKeyViewSet, basename="api-key")
router.register("members", MemberViewSet, basename="member")
router.register("audit-events", AuditEventViewSet, basename="audit-event")


class _DocsAccess:
    """Schema and docs: public only when OPENPAAS_PUBLIC_DOCS (or DEBUG) says so, otherwise any valid
    credential may read them, like any other API route."""

    scope_map = {"GET": ANY_PRINCIPAL}
    http_method_names = ["get"]
    throttle_classes = ()

    def get_authenticators(self):
        from rest_framework.settings import api_settings

        return [auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES]

    def get_permissions(self):
        from rest_framework.settings import api_settings

        if settings.OPENPAAS_PUBLIC_DOCS:
            return [AllowAny()]
        return [permission() for permission in api_settings.DEFAULT_PERMISSION_CLASSES]


class SchemaView(_DocsAccess, SpectacularAPIView):
    pass


class DocsView(_DocsAccess, SpectacularSwaggerView):
    pass


api_v1 = [
    path("me", MeView.as_view(), name="me"),
    path("schema", SchemaView.as_view(), name="schema"),
    path("docs", DocsView.as_view(url_name="schema"), name="docs"),
    *router.urls,
]

urlpatterns = [path("api/v1/", include(api_v1))]

handler400 = "config.errors.handler400"
handler403 = "config.errors.handler403"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"
