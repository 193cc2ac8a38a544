"""OAuth 2.0 and OpenID Connect on django-oauth-toolkit, fitted to organizations, modes and scopes.

- An application belongs to one organization and mode; the scopes it may ask for are its own.
- Access tokens (``oat_...``) and refresh tokens (``ort_...``) say what they are, so a scanner (and the
  API's own dispatch) tells them from API keys and JWTs. Only their SHA-256 is stored.
- A token acts as its person's membership in the application's organization (authorization code) or as
  the application's Service member (client credentials); its scopes are narrowed by that member's role
  on every request.
- An authorization code is used once: a second exchange is refused and revokes every token the first
  one issued (RFC 6749 section 4.1.2, RFC 9700 section 4.5), so a stolen code is worth nothing to
  either party once it has been seen twice.
"""

import hashlib
import json
import secrets
from contextvars import ContextVar
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.utils import scope_to_list
from oauth2_provider.models import (
    get_access_token_model, get_grant_model, get_id_token_model, get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings

import audit
from accounts.auth import credential_cache
from core import gate
from accounts.auth.authentication import REFUSAL_AUDIT_SECONDS, CredentialLoader
from core.ids import BASE62
from accounts.models import Member, OAuthApplication
from core.scopes import SCOPES

OPENID = "openid"
# The Django user of the authorization request being handled (set by accounts.web.oauth_pages.ConsentView).
AUTHORIZING_USER = ContextVar("openpaas_authorizing_user", default=None)
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
        if application is None:
            # Asked without an application only by the discovery documents (scopes_supported):
            # every scope an application can be registered for. Token requests always name one.
            return list(self.get_all_scopes())
        allowed = list(application.allowed_scopes)
        # openid names a person: only for the grant people authorize, never for client credentials.
        if (application.allows_grant_type(OAuthApplication.GRANT_AUTHORIZATION_CODE)
                and getattr(request, "grant_type", None) != "client_credentials"):
            allowed.append(OPENID)
        return allowed

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return list(application.allowed_scopes) if application else []


# A redeemed authorization code is kept under this prefix (and the SHA-256 of the code), with the ids of
# the tokens it was exchanged for, so that a second exchange can revoke them.
SPENT_CODE_PREFIX = "spent:"


def _spent(code):
    return SPENT_CODE_PREFIX + _checksum(code)


def _issued_by(spent_grant):
    try:
        issued = json.loads(spent_grant.claims or "{}")
    except ValueError:
        return {}
    return issued if isinstance(issued, dict) else {}


def _checksum(token):
    return hashlib.sha256(token.encode()).hexdigest()  # how django-oauth-toolkit looks tokens up


def _audit(action, application, metadata=None):
    audit.record(action, organization=application.organization, livemode=application.livemode,
                 target=application, metadata=metadata or {})


def _audit_reuse(action, application, token):
    """A code or refresh token presented again leaked: audited, but once a minute per token with the
    count of the presentations held back since, so that replaying one writes no row each."""
    outcome = gate.refuse([], audit_key=f"{action}:{_checksum(token)}", audit_seconds=REFUSAL_AUDIT_SECONDS)
    if outcome.record:
        _audit(action, application, {"count": outcome.record})


def _revoke_issued(issued, application, code):
    """Revoke the tokens a code was exchanged for: the refresh token family (and with it every access
    token minted from it) and the first access token. A code seen twice leaked: audited."""
    with transaction.atomic():
        if issued.get("family"):
            get_refresh_token_model().revoke_family(issued["family"])
        if issued.get("access_token"):
            get_access_token_model().objects.filter(pk=issued["access_token"]).delete()
        _audit_reuse("oauth.code_reused", application, code)


class OrganizationOAuth2Validator(OAuth2Validator):
    """OpenID claims name the person and the application's organization; authorization codes are used
    once, and replaying one revokes what it was exchanged for."""

    oidc_claim_scope = None  # every claim below goes with the openid scope

    @staticmethod
    def _may_act(user, application):
        """A person's grant stays usable only while they are active, a member of the organization, and
        the application still lets people authorize it."""
        return bool(user is not None and user.is_active
                    and application.allows_grant_type(OAuthApplication.GRANT_AUTHORIZATION_CODE)
                    and Member.objects.filter(organization_id=application.organization_id, user=user).exists())

    def validate_bearer_token(self, token, scopes, request):
        # Asked only by the OIDC userinfo endpoint (the API has its own loader), which describes a person:
        # a client's own token has none, and a deactivated or removed person's token tells nothing any more.
        if not super().validate_bearer_token(token, scopes, request):
            return False
        if self._may_act(request.user, request.client):
            return True
        request.oauth2_error = {"error": "invalid_token"}
        return False

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        with transaction.atomic():  # django-oauth-toolkit's family revocation and its audit event together
            if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
                # A revoked (rotated away, or revoked at /revoke) token presented again: with
                # REFRESH_TOKEN_REUSE_PROTECTION its whole family has just been revoked.
                if get_refresh_token_model().objects.filter(token_checksum=_checksum(refresh_token), application=client,
                                                           revoked__isnull=False).exists():
                    _audit_reuse("oauth.refresh_token_reused", client, refresh_token)
                return False
        # Nothing the grant gave is still allowed to the application: nothing to refresh.
        return self._may_act(request.user, client) and bool(self.get_original_scopes(refresh_token, request))

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        # The application's allowed scopes may have narrowed since the grant: a refresh never returns more.
        return within_application(scope_to_list(super().get_original_scopes(refresh_token, request, *args, **kwargs)),
                                  request.client, request)

    def validate_silent_login(self, request):
        # prompt=none. oauthlib's request carries no Django user at validation (and takes a "user" from the
        # query string): the consent view says who is signed in.
        user = AUTHORIZING_USER.get()
        return bool(user is not None and user.is_authenticated)

    def validate_silent_authorization(self, request):
        # The person is asked every time (REQUEST_APPROVAL_PROMPT "force"): there is no silent consent,
        # so prompt=none is answered consent_required.
        return False

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        """RFC 7009, audited when it revoked something of this client's (an unknown token, or another
        client's, is answered the same and changes nothing)."""
        if request.client is None:
            return super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        lookup = {"token_checksum": _checksum(token), "application": request.client}
        found = (get_access_token_model().objects.filter(**lookup).first()
                 or get_refresh_token_model().objects.filter(**lookup, revoked__isnull=True).first())
        with transaction.atomic():
            super().revoke_token(token, token_type_hint, request, *args, **kwargs)
            if found is not None:
                kind = "refresh_token" if isinstance(found, get_refresh_token_model()) else "access_token"
                _audit("oauth.token_revoked", request.client, {"token_type": kind, "user": found.user_id})

    def _save_bearer_token(self, token, request, *args, **kwargs):
        # django-oauth-toolkit runs this inside the transaction that stores the tokens: the event with them.
        super()._save_bearer_token(token, request, *args, **kwargs)
        _audit("oauth.token_issued", request.client,
               {"scopes": token["scope"].split(), "user": request.user.pk if request.user else None})

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not code or code.startswith(SPENT_CODE_PREFIX):
            return False
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return self._may_act(request.user, client)
        spent = get_grant_model().objects.filter(code=_spent(code), application=client).first()
        if spent is not None:
            _revoke_issued(_issued_by(spent), client, code)
        return False

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token=source_refresh_token)
        request.openpaas_issued = {**getattr(request, "openpaas_issued", {}), "access_token": access_token.pk}
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        request.openpaas_issued = {**getattr(request, "openpaas_issued", {}), "family": str(refresh_token.token_family)}
        return refresh_token

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        """Keep the redeemed code (under another name, so it can never be redeemed again) with the ids of
        what it was exchanged for, until those tokens can no longer be alive."""
        keep = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS or oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
        issued = getattr(request, "openpaas_issued", {})
        redeemed = get_grant_model().objects.filter(code=code, application=request.client).update(
            code=_spent(code), claims=json.dumps(issued), expires=timezone.now() + timedelta(seconds=keep))
        if not redeemed:
            # A concurrent exchange of the same code won: revoke its tokens and the ones just made.
            spent = get_grant_model().objects.filter(code=_spent(code), application=request.client).first()
            if spent is not None:
                _revoke_issued(_issued_by(spent), request.client, code)
            _revoke_issued(issued, request.client, code)
            raise errors.InvalidGrantError(request=request)

    def get_additional_claims(self, request):
        claims = {"email": request.user.email, "email_verified": False}
        application = request.client
        if application is not None:
            claims["org"] = application.organization_id
        return claims


def within_application(scopes, application, request=None):
    """``scopes`` narrowed to what ``application`` may ask for now: its allowed scopes are a ceiling on
    every token it holds, whenever the token was issued."""
    ceiling = set(RegistryScopes().get_available_scopes(application=application, request=request))
    return [scope for scope in scopes if scope in ceiling]


def member_for_token(access_token):
    """Who a token acts as: the person's membership in the application's organization, or the
    application's Service member. None when the API refuses it: that membership is gone, the person is
    deactivated, or the application no longer allows the grant that issued it."""
    application = access_token.application
    members = Member.objects.select_related("organization", "user")
    if access_token.user_id is None:
        if not (application.service_member_id
                and application.allows_grant_type(OAuthApplication.GRANT_CLIENT_CREDENTIALS)):
            return None
        return members.filter(pk=application.service_member_id).first()
    if not application.allows_grant_type(OAuthApplication.GRANT_AUTHORIZATION_CODE):
        return None
    return members.filter(organization_id=application.organization_id, user_id=access_token.user_id,
                          user__is_active=True).first()


def end_member_tokens(member):
    """End every OAuth grant ``member`` holds, for good: their access tokens, unredeemed (and spent)
    codes and ID tokens are deleted and their refresh tokens revoked, so that adding the same person
    (or client credentials) back later brings none of them back. A person's are those of the
    organization's applications; a Service member's, those of its application's client credentials."""
    if member.user_id is None:
        held = Q(user__isnull=True, application__service_member=member)
    else:
        held = Q(user_id=member.user_id, application__organization_id=member.organization_id)
    with transaction.atomic():
        get_access_token_model().objects.filter(held).delete()
        get_id_token_model().objects.filter(held).delete()
        get_grant_model().objects.filter(held).delete()
        # Revoked, not deleted: presented again, one is refused as reused (and audited so).
        get_refresh_token_model().objects.filter(held, revoked__isnull=True).update(revoked=timezone.now())


class OAuthTokenLoader(CredentialLoader):
    kind = "oauth"

    def matches(self, token):
        return token.startswith(ACCESS_TOKEN_PREFIX)

    def load(self, token, cache_key, now, generation):
        from oauth2_provider.models import get_access_token_model

        access_token = (
            get_access_token_model().objects.select_related("application", "user")
            .filter(token_checksum=_checksum(token))
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
            scopes=[scope for scope in within_application(access_token.scope.split(), application) if scope != OPENID],
            expires_at=access_token.expires, member=member, generation=generation,
        )
