from django.conf import settings
from django.urls import include, path, re_path
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from api.permissions import ANY_PRINCIPAL
from oauth2_provider import views as oauth_views

from accounts.api.views import (
    APIKeyViewSet,
    InvitationViewSet,
    MemberViewSet,
    MeView,
    OAuthApplicationViewSet,
    TokenObtainView,
    TokenRefreshView,
    TokenRevokeView,
)
from accounts.web import account as account_pages
from accounts.web.discovery import AuthorizationServerMetadataView, OpenIDConfigurationView
from accounts.web.signin import SecondFactorView, SignInView, SignOutView
from accounts.web.oauth_pages import (BudgetedRevokeTokenView, ConsentView, InvitationView, OwnTokensIntrospectView,
                          SupportedGrantsTokenView)
from audit.views import AuditEventViewSet
from core import health
from core.errors import error_codes_page
from core.csp import consent_form_action
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
router.register("oauth-applications", OAuthApplicationViewSet, basename="oauth-application")
router.register("invitations", InvitationViewSet, basename="invitation")


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


class DocsView(_DocsAccess, SpectacularSwaggerSplitView):
    """Swagger UI, its start-up script served as a file of its own (``?script``): the Content-Security-Policy
    allows no inline script."""


api_v1 = [
    path("me", MeView.as_view(), name="me"),
    path("auth/token", TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/token/revoke", TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("schema", SchemaView.as_view(), name="schema"),
    path("docs", DocsView.as_view(url_name="schema"), name="docs"),
    *router.urls,
]

# django-oauth-toolkit's endpoints, chosen one by one: no implicit, device or dynamic-registration flows
# and no application-management pages (applications are managed through the API, per organization).
oauth = [
    path("authorize/", consent_form_action(ConsentView.as_view()), name="authorize"),
    path("token/", SupportedGrantsTokenView.as_view(), name="token"),
    path("revoke_token/", BudgetedRevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", OwnTokensIntrospectView.as_view(), name="introspect"),
    re_path(r"^\.well-known/openid-configuration/?$", OpenIDConfigurationView.as_view(),
            name="oidc-connect-discovery-info"),
    path(".well-known/jwks.json", oauth_views.JwksInfoView.as_view(), name="jwks-info"),
    path("userinfo/", oauth_views.UserInfoView.as_view(), name="user-info"),
]

urlpatterns = [
    path("", account_pages.HomeView.as_view(), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("docs/errors", require_safe(error_codes_page), name="error-codes"),
    # RFC 8414: the issuer is <host>/oauth, whose metadata lives at the path-component form; also at the root.
    path(".well-known/oauth-authorization-server", AuthorizationServerMetadataView.as_view(),
         name="oauth-authorization-server"),
    path(".well-known/oauth-authorization-server/oauth", AuthorizationServerMetadataView.as_view(),
         name="oauth-authorization-server-for-issuer"),
    path("api/v1/", include(api_v1)),
    path("oauth/", include((oauth, "oauth2_provider"))),
    path("login", SignInView.as_view(), name="login"),
    path("login/verify", SecondFactorView.as_view(), name="login-verify"),
    path("logout", SignOutView.as_view(), name="logout"),
    path("account", account_pages.AccountView.as_view(), name="account"),
    path("account/sudo", account_pages.SudoView.as_view(), name="sudo"),
    path("account/security", account_pages.SecurityView.as_view(), name="account-security"),
    path("account/security/enrol", account_pages.EnrolView.as_view(), name="mfa-enrol"),
    path("account/security/backup-codes", account_pages.BackupCodesView.as_view(), name="backup-codes"),
    path("account/security/second-factors/remove", account_pages.RemoveSecondFactorsView.as_view(), name="mfa-remove"),
    path("account/security/sessions/end", account_pages.EndSessionsView.as_view(), name="end-sessions"),
    path("account/security/password", account_pages.PasswordView.as_view(), name="password"),
    path("account/security/keys", account_pages.OwnKeysView.as_view(), name="own-keys"),
    path("account/security/keys/<str:key_id>/<str:verb>", account_pages.OwnKeysView.as_view(), name="own-key"),
    path("invitations/<str:token>", InvitationView.as_view(), name="accept-invitation"),
    path("admin/", include("console.site")),  # the administrator console (config/admin.py)
]

handler400 = "core.errors.handler400"
handler403 = "core.errors.handler403"
handler404 = "core.errors.handler404"
handler500 = "core.errors.handler500"
