from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actions import invitations

from accounts.actions.api_keys import create_api_key, revoke_api_key, roll_api_key

from accounts.actions.members import create_service_member, remove_member, update_member

from accounts.actions.oauth_applications import create_oauth_application, delete_oauth_application, update_oauth_application
from accounts.auth import jwt
from api.views import QueryParametersMixin, StrictSerializer, TenantCRUDViewSet, TenantViewSet
from accounts.auth.jwt import RefreshSerializer, TokenPairSerializer, TokenRequestSerializer
from accounts.models import APIKey, Invitation, Member, OAuthApplication
from api.permissions import ANY_PRINCIPAL, WRITE_METHODS, every_method, refuse_test_mode
from accounts.auth.throttling import SignInAddressThrottle, SignInDoor
from accounts.api.serializers import (
    APIKeySerializer,
    APIKeyWithSecretSerializer,
    InvitationSerializer,
    MemberSerializer,
    MeSerializer,
    OAuthApplicationSerializer,
    OAuthApplicationWithSecretSerializer,
    RollSerializer,
)


class MeView(QueryParametersMixin, APIView):
    """The caller as the API sees them: organization, member, role, mode, effective scopes, credential."""

    scope_map = {"GET": ANY_PRINCIPAL}
    http_method_names = ["get"]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.auth).data)


class MemberViewSet(TenantCRUDViewSet):
    """Members of the organization and their roles. ``{"email", "role"}`` invites a person (they join when
    they accept); ``{"role": "service", "name"}`` adds a Service member at once."""

    model = Member
    serializer_class = MemberSerializer
    scope_map = every_method("org:admin")
    # Members have no mode: a person or Service member added, changed or removed here acts in live mode
    # too. Test-mode credentials may read the list (to make test keys for a member), not change it.
    organization_wide = WRITE_METHODS

    def scope_queryset(self, queryset):
        return queryset.select_related("user")

    @extend_schema(request=MemberSerializer, responses={201: MemberSerializer})
    def create(self, request, *args, **kwargs):
        if isinstance(request.data, dict) and "email" in request.data:
            body = InvitationSerializer(data=request.data, context=self.get_serializer_context())
            body.is_valid(raise_exception=True)
            invitation = invitations.invite(principal=self.principal, **body.validated_data)
            return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = create_service_member(
            principal=self.principal, name=data["name"], granted_scopes=data["granted_scopes"])

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = update_member(
            principal=self.principal, member=serializer.instance, role=data.get("role"),
            name=data.get("name"), granted_scopes=data.get("granted_scopes"))

    def perform_destroy(self, instance):
        remove_member(principal=self.principal, member=instance)


class InvitationViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin):
    """Invitations of the organization (send one with ``POST /members {"email", "role"}``): list them,
    resend one (a new link, 7 more days), cancel one (``DELETE``)."""

    model = Invitation
    serializer_class = InvitationSerializer
    scope_map = every_method("org:admin")
    query_parameters = {"list": [OpenApiParameter("status", str, enum=["pending"], description="Only pending invitations.")]}
    organization_wide = WRITE_METHODS  # an invitation makes a member, who acts in live mode too

    def scope_queryset(self, queryset):
        status_filter = self.request.query_params.get("status")
        if status_filter == "pending":
            queryset = queryset.filter(accepted_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=timezone.now())
        return queryset

    @extend_schema(summary="Cancel an invitation", responses={204: None})
    def destroy(self, request, *args, **kwargs):
        invitations.cancel(invitation=self.get_object(), principal=self.principal)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request, id=None):
        """Send the invitation again with a new link (the old one stops working) valid 7 more days."""
        StrictSerializer(data=request.data).is_valid(raise_exception=True)  # takes no fields
        invitation = invitations.resend(invitation=self.get_object(), principal=self.principal)
        return Response(InvitationSerializer(invitation).data)


class APIKeyViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.DestroyModelMixin):
    """API keys of the organization in the caller's mode. The secret is shown once, at creation."""

    model = APIKey
    serializer_class = APIKeySerializer
    scope_map = every_method("org:admin")

    def scope_queryset(self, queryset):
        return queryset.select_related("member")

    @extend_schema(responses={201: APIKeyWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        api_key, secret = create_api_key(
            member=data["member"], livemode=self.principal.livemode, name=data["name"], scopes=data["scopes"],
            expires_at=data.get("expires_at"), principal=self.principal)
        return self._with_secret(api_key, secret)

    @extend_schema(summary="Revoke an API key", responses={204: None})
    def destroy(self, request, *args, **kwargs):
        revoke_api_key(principal=self.principal, api_key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RollSerializer, responses={201: APIKeyWithSecretSerializer})
    @action(detail=True, methods=["post"])
    def roll(self, request, id=None):
        """Replace this key with a new one; the old key keeps working for ``expires_in`` seconds."""
        api_key = self.get_object()
        body = RollSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        new_key, secret = roll_api_key(
            principal=self.principal, api_key=api_key, expires_in=body.validated_data["expires_in"])
        return self._with_secret(new_key, secret)

    def _with_secret(self, api_key, secret):
        data = APIKeyWithSecretSerializer(api_key, context={**self.get_serializer_context(), "secret": secret}).data
        return Response(data, status=status.HTTP_201_CREATED)


class OAuthApplicationViewSet(TenantCRUDViewSet):
    """OAuth 2.0 applications of the organization in the caller's mode. A confidential client's secret is
    shown once, at creation; only its hash is kept."""

    model = OAuthApplication
    serializer_class = OAuthApplicationSerializer
    scope_map = every_method("org:admin")

    def _refuse_test_mode_for_service_member(self, grant_types=(), application=None):
        # An application with client credentials is a Service member of the organization (which has no
        # mode): making, changing or deleting one changes the organization, so it takes live mode.
        if (OAuthApplication.GRANT_CLIENT_CREDENTIALS in grant_types
                or (application is not None and application.service_member_id)):
            refuse_test_mode(self.request, "org:admin")

    @extend_schema(responses={201: OAuthApplicationWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self._refuse_test_mode_for_service_member(serializer.validated_data["grant_types"])
        application, secret = create_oauth_application(
            organization=self.principal.organization, livemode=self.principal.livemode, principal=self.principal,
            **serializer.validated_data)
        context = {**self.get_serializer_context(), "client_secret": secret}
        return Response(OAuthApplicationWithSecretSerializer(application, context=context).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        self._refuse_test_mode_for_service_member(serializer.validated_data.get("grant_types", ()), serializer.instance)
        serializer.instance = update_oauth_application(
            principal=self.principal, application=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        self._refuse_test_mode_for_service_member(application=instance)
        delete_oauth_application(principal=self.principal, application=instance)


class _PublicAuthView(QueryParametersMixin, SignInDoor, APIView):
    """The JWT endpoints: reached without a credential (they hand them out), POST only, JSON."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []  # brute force is django-axes' job here: failures per account and address
    http_method_names = ["post"]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'  # so that refused credentials are a 401, not DRF's 403


class TokenObtainView(_PublicAuthView):
    """Sign in for a JWT session: email, password, organization, and a TOTP code when the person has a
    confirmed device. Failures count toward the account's lockout as sign-ins do."""

    throttle_classes = [SignInAddressThrottle]

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenPairSerializer}, auth=[])
    def post(self, request):
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        member = jwt.sign_in(request._request, body.validated_data)
        access, refresh = jwt.issue_tokens(member, livemode=body.validated_data["livemode"],
                                           scopes=body.validated_data.get("scopes"))
        return Response({"access": access, "refresh": refresh})


class TokenRefreshView(_PublicAuthView):
    """Rotate a refresh token: a new access and refresh token; the old refresh token stops working, and
    presenting it again ends the whole session."""

    throttle_classes = [SignInAddressThrottle]

    @extend_schema(request=RefreshSerializer, responses={200: TokenPairSerializer}, auth=[])
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        access, refresh = jwt.refresh_tokens(body.validated_data["refresh"])
        return Response({"access": access, "refresh": refresh})


class TokenRevokeView(_PublicAuthView):
    """Log out: the session of this refresh token ends, with every access token it issued."""

    @extend_schema(request=RefreshSerializer, responses={204: None}, auth=[])
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        jwt.revoke_refresh_token(body.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)
