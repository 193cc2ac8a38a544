import re

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import scopes as scope_registry
from api.fields import ChoiceField, not_one_of
from api.views import ObjectTypeField, StrictSerializer, TenantModelSerializer
from accounts.models import APIKey, Invitation, Member, OAuthApplication

MAX_ROLL_GRACE_SECONDS = 7 * 24 * 3600


# A pattern rather than an enum: drf-spectacular would name one enum component per field that uses it.
@extend_schema_field({"type": "string", "pattern": "^(?:%s)$" % "|".join(map(re.escape, sorted(scope_registry.SCOPES)))})
class ScopeField(serializers.CharField):
    """A scope name; the schema lists them, check_known_scopes refuses others with the names it does not know."""


def scope_list_field(**kwargs):
    return serializers.ListField(child=ScopeField(max_length=64), max_length=len(scope_registry.SCOPES) + 8, **kwargs)


def check_known_scopes(scopes):
    unknown = scope_registry.unknown_scopes(scopes)
    if unknown:
        raise serializers.ValidationError(not_one_of(sorted(scope_registry.SCOPES), *unknown))


class MeSerializer(serializers.Serializer):
    object = ObjectTypeField("principal")
    organization = serializers.SerializerMethodField()
    member = serializers.SerializerMethodField()
    role = serializers.CharField(source="member.role")
    livemode = serializers.BooleanField()
    scopes = serializers.SerializerMethodField()
    credential = serializers.SerializerMethodField()

    def get_organization(self, principal) -> dict:
        return {"id": principal.organization.id, "name": principal.organization.name}

    def get_member(self, principal) -> dict:
        member = principal.member
        return {"id": member.id, "name": member.display_name, "email": member.user.email if member.user_id else None}

    def get_scopes(self, principal) -> list[str]:
        return sorted(principal.scopes)

    def get_credential(self, principal) -> dict:
        return {"kind": principal.credential_kind, "id": principal.credential_id}


class MemberSerializer(TenantModelSerializer):
    object = ObjectTypeField("member")
    email = serializers.SerializerMethodField()
    role = ChoiceField(choices=scope_registry.ROLE_CHOICES, required=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    scopes = scope_list_field(source="granted_scopes", required=False)
    effective_scopes = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = ["id", "object", "name", "email", "role", "scopes", "effective_scopes", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_email(self, member) -> str | None:
        return member.user.email if member.user_id else None

    def get_effective_scopes(self, member) -> list[str]:
        return sorted(member.max_scopes())

    def validate_scopes(self, scopes):
        check_known_scopes(scopes)
        not_grantable = sorted(set(scopes) - scope_registry.SEED_SCOPES)
        if not_grantable:
            raise serializers.ValidationError(f"A Service member cannot be granted: {', '.join(not_grantable)}.")
        return scopes

    def validate(self, attrs):
        member = self.instance
        role = attrs.get("role")
        if member is None:
            if role != scope_registry.SERVICE:
                raise serializers.ValidationError(
                    {"role": ["People join by invitation: send their \"email\" with the role; "
                              "only Service members are created directly (role \"service\" and a \"name\")."]})
            if not attrs.get("name"):
                raise serializers.ValidationError({"name": ["A Service member needs a name."]})
            attrs.setdefault("granted_scopes", sorted(scope_registry.SEED_SCOPES))
            return attrs
        is_service = member.role == scope_registry.SERVICE
        if role is not None and (role == scope_registry.SERVICE) != is_service:
            raise serializers.ValidationError(
                {"role": ["A person cannot become a Service member, nor a Service member a person."]})
        if "granted_scopes" in attrs and not is_service:
            raise serializers.ValidationError({"scopes": ["Only Service members have granted scopes; a person's role decides theirs."]})
        return attrs


class APIKeySerializer(TenantModelSerializer):
    object = ObjectTypeField("api_key")
    member = serializers.CharField(source="member_id", required=False, max_length=40)
    scopes = scope_list_field(allow_empty=False)
    redacted = serializers.CharField(source="masked", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = APIKey
        fields = ["id", "object", "name", "member", "livemode", "scopes", "redacted", "status", "expires_at",
                  "revoked_at", "rolled_to", "last_used_at", "last_used_ip", "created_at"]
        read_only_fields = ["id", "livemode", "revoked_at", "rolled_to", "last_used_at", "last_used_ip", "created_at"]
        extra_kwargs = {"name": {"max_length": 200}}

    def get_status(self, api_key) -> str:
        return api_key.status()

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value

    def validate_scopes(self, scopes):
        check_known_scopes(scopes)
        principal = self.context["principal"]
        beyond_caller = sorted(set(scopes) - principal.scopes)
        if beyond_caller:
            raise serializers.ValidationError(f"You cannot grant a scope you do not hold: {', '.join(beyond_caller)}.")
        return scopes

    def validate(self, attrs):
        principal = self.context["principal"]
        member_id = attrs.pop("member_id", None)
        if member_id is None:
            member = principal.member
        else:
            member = Member.objects.for_principal(principal).select_related("organization").filter(pk=member_id).first()
            if member is None:
                raise serializers.ValidationError({"member": ["No such member."]})
        beyond_role = sorted(set(attrs["scopes"]) - member.max_scopes())
        if beyond_role:
            raise serializers.ValidationError({"scopes": [f"The member's role does not allow: {', '.join(beyond_role)}."]})
        if principal.livemode and OAuthApplication.objects.filter(organization_id=member.organization_id, service_member=member, livemode=False).exists():
            # A test-mode application (managed with test-mode credentials) changes and deletes its Service
            # member: that member must not hold live credentials, or test mode would reach live mode.
            raise serializers.ValidationError({"member": ["This Service member acts for a test-mode OAuth application: "
                                                          "it can hold test-mode keys only."]})
        attrs["member"] = member
        return attrs


class APIKeyWithSecretSerializer(APIKeySerializer):
    """What the create and roll responses show: the only time the secret is ever sent."""

    secret = serializers.SerializerMethodField()

    class Meta(APIKeySerializer.Meta):
        fields = APIKeySerializer.Meta.fields + ["secret"]

    def get_secret(self, api_key) -> str:
        return self.context["secret"]


class RollSerializer(StrictSerializer):
    expires_in = serializers.IntegerField(min_value=0, max_value=MAX_ROLL_GRACE_SECONDS, default=24 * 3600,
                                          help_text="Seconds the old key keeps working (0 = now).")



# RFC 7591 (dynamic client registration) and the token endpoint name the grants with underscores; the
# applications keep django-oauth-toolkit's names (hyphens), which are accepted too and are what responses show.
RFC7591_GRANT_NAMES = {
    "authorization_code": OAuthApplication.GRANT_AUTHORIZATION_CODE,
    "client_credentials": OAuthApplication.GRANT_CLIENT_CREDENTIALS,
}


class GrantTypeField(ChoiceField):
    """A grant an application may use, by its django-oauth-toolkit name or its RFC 7591 name."""

    def __init__(self, **kwargs):
        stored = [grant for grant, _ in OAuthApplication.GRANT_CHOICES]
        super().__init__(choices=stored + [name for name, grant in RFC7591_GRANT_NAMES.items() if grant in stored],
                         **kwargs)

    def to_internal_value(self, data):
        grant = super().to_internal_value(data)
        return RFC7591_GRANT_NAMES.get(grant, grant)


class OAuthApplicationSerializer(TenantModelSerializer):
    object = ObjectTypeField("oauth_application")
    client_type = ChoiceField(choices=["confidential", "public"])
    grant_types = serializers.ListField(child=GrantTypeField(), allow_empty=False, max_length=2)
    # Only the authorization code grant redirects: a client credentials application may have none.
    redirect_uris = serializers.ListField(child=serializers.URLField(max_length=2048), default=list, max_length=20)
    allowed_scopes = scope_list_field(allow_empty=False)

    class Meta:
        model = OAuthApplication
        fields = ["id", "object", "name", "client_id", "client_type", "grant_types", "redirect_uris",
                  "allowed_scopes", "livemode", "created_at"]
        read_only_fields = ["id", "client_id", "livemode", "created_at"]
        extra_kwargs = {"name": {"max_length": 200, "required": True, "allow_blank": False}}

    def to_representation(self, application):
        data = super().to_representation(application)
        data["redirect_uris"] = application.redirect_uris.split()
        return data

    def validate_redirect_uris(self, uris):
        allowed = ("https://", "http://") if settings.DEBUG else ("https://",)
        bad = [uri for uri in uris if not uri.lower().startswith(allowed) or "#" in uri]
        if bad:
            raise serializers.ValidationError("Redirect URIs are exact https URLs without a fragment.")
        return sorted(set(uris))

    def validate_allowed_scopes(self, scopes):
        check_known_scopes(scopes)
        beyond_caller = sorted(set(scopes) - self.context["principal"].scopes)
        if beyond_caller:
            raise serializers.ValidationError(f"You cannot grant a scope you do not hold: {', '.join(beyond_caller)}.")
        return sorted(set(scopes))

    def validate_grant_types(self, grant_types):
        return sorted(set(grant_types))  # one grant under both of its names is that grant once

    def validate(self, attrs):
        merged = {
            "client_type": getattr(self.instance, "client_type", None),
            "grant_types": getattr(self.instance, "grant_types", []),
            "redirect_uris": (self.instance.redirect_uris.split() if self.instance else []),
            "allowed_scopes": getattr(self.instance, "allowed_scopes", []),
            **attrs,
        }
        if self.instance is not None and "client_type" in attrs and attrs["client_type"] != self.instance.client_type:
            raise serializers.ValidationError({"client_type": ["An application's client type cannot change."]})
        if OAuthApplication.GRANT_AUTHORIZATION_CODE in merged["grant_types"] and not merged["redirect_uris"]:
            raise serializers.ValidationError({"redirect_uris": ["The authorization code grant needs a redirect URI."]})
        if OAuthApplication.GRANT_CLIENT_CREDENTIALS in merged["grant_types"]:
            if merged["client_type"] == "public":
                raise serializers.ValidationError({"grant_types": ["A public client cannot use client credentials."]})
            beyond_service = sorted(set(merged["allowed_scopes"]) - scope_registry.SEED_SCOPES)
            if beyond_service:
                raise serializers.ValidationError({"allowed_scopes": [
                    f"An application with client credentials acts as a Service member, which cannot hold: {', '.join(beyond_service)}."]})
        return attrs


class OAuthApplicationWithSecretSerializer(OAuthApplicationSerializer):
    """The create response: the only time a confidential client's secret is sent."""

    client_secret = serializers.SerializerMethodField()

    class Meta(OAuthApplicationSerializer.Meta):
        fields = OAuthApplicationSerializer.Meta.fields + ["client_secret"]

    def get_client_secret(self, application) -> str | None:
        return self.context.get("client_secret")


class InvitationSerializer(TenantModelSerializer):
    """An invitation, as the inviting Admins see it (never its link)."""

    object = ObjectTypeField("invitation")
    email = serializers.EmailField(max_length=254)
    role = ChoiceField(choices=[(r, n) for r, n in scope_registry.ROLE_CHOICES if r in scope_registry.HUMAN_ROLE_IDS])
    status = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "object", "email", "role", "status", "sent_count", "expires_at", "created_at", "accepted_at"]
        read_only_fields = ["id", "sent_count", "expires_at", "created_at", "accepted_at"]

    def get_status(self, invitation) -> str:
        return invitation.status()
