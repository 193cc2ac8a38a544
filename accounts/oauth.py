"""OAuth 2.0 and OpenID Connect on django-oauth-toolkit, fitted to organizations, modes and scopes.

- An application belongs to one organization and mode; the scopes it may ask for are its own.
- Access tokens (``oat_...``) and refresh tokens (``ort_...``) say what they are, so a scanner (and the
  API's own dispatch) tells them from API keys and JWTs. Only their SHA-256 is stored.
- A token acts as its person's membership in the application's organization (authorization code) or as
  the application's Service member (client credentials); its scopes are narrowed by that member's role
  on every request.
"""

import hashlib
import secrets

from django.db.models import Q
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes

from accounts import credential_cache
from accounts.authentication import CredentialLoader
from accounts.ids import BASE62
from accounts.models import Member, OAuthApplication
from accounts.scopes import SCOPES

OPENID = "openid"
ACCESS_TOKEN_PREFIX = "oat_"  # nosec B105: a public marker, not a secret
REFRESH_TOKEN_PREFIX = "ort_"  # nosec B105: a public marker, not a secret


def _random(n=40):
    return "".join(secrets.choice(BASE62) for _ in range(n))


def new_access_token(request=None, refresh_token=False):
    return ACCESS_TOKEN_PREFIX + _random()


def new_refresh_token(request=None):
    return REFRESH_TOKEN_PREFIX + _random()


class RegistryScopes(BaseScopes):
    """The API's scope registry plus ``openid``; an application may ask only for its allowed scopes."""

    def get_all_scopes(self):
        return {OPENID: "Sign you in with your Open PaaS account", **SCOPES}

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        allowed = list(application.allowed_scopes) if application else []
        if application and application.allows_grant_type(OAuthApplication.GRANT_AUTHORIZATION_CODE):
            allowed.append(OPENID)
        return allowed

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return list(application.allowed_scopes) if application else []


class OrganizationOAuth2Validator(OAuth2Validator):
    """OpenID claims name the person and the application's organization."""

    oidc_claim_scope = None  # every claim below goes with the openid scope

    def get_additional_claims(self, request):
        claims = {"email": request.user.email, "email_verified": False}
        application = request.client
        if application is not None:
            claims["org"] = application.organization_id
        return claims


def member_for_token(access_token):
    """Who a token acts as: the person's membership in the application's organization, or the
    application's Service member. None when that membership is gone."""
    application = access_token.application
    members = Member.objects.select_related("organization", "user")
    if access_token.user_id is None:
        return members.filter(pk=application.service_member_id).first() if application.service_member_id else None
    return members.filter(organization_id=application.organization_id, user_id=access_token.user_id).first()


class OAuthTokenLoader(CredentialLoader):
    kind = "oauth"

    def matches(self, token):
        return token.startswith(ACCESS_TOKEN_PREFIX)

    def load(self, token, cache_key, now, generation):
        from oauth2_provider.models import get_access_token_model

        access_token = (
            get_access_token_model().objects.select_related("application", "user")
            .filter(token_checksum=hashlib.sha256(token.encode()).hexdigest())
            .filter(Q(user__isnull=True) | Q(user__is_active=True))
            .first()
        )
        if access_token is None or access_token.is_expired() or access_token.application is None:
            credential_cache.store.discard(cache_key)
            raise self.invalid()
        member = member_for_token(access_token)
        if member is None:
            raise self.invalid()
        application = access_token.application
        return credential_cache.CredentialSnapshot.of(
            kind=self.kind, credential_id=application.id, livemode=application.livemode,
            scopes=[scope for scope in access_token.scope.split() if scope != OPENID],
            expires_at=access_token.expires, member=member, generation=generation,
        )
