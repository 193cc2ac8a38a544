"""JWT sign-in for programs acting as a person (djangorestframework-simplejwt).

``POST /api/v1/auth/token`` trades email, password, organization (and a TOTP code when the person has a
confirmed device) for an access and a refresh token. Tokens name their organization, member, mode,
scopes and session (``sid``); refreshing rotates the refresh token and blacklists the old one, and
presenting a used one again revokes the whole session. Revoking (logout) ends the session, so every
access token of it fails on the next request, as do those of a removed member or a deactivated person.
"""

import math
from dataclasses import replace
from datetime import datetime, timezone as dt_timezone

import jwt as pyjwt
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions, serializers
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

import audit
from accounts.auth import credential_cache
from accounts.actions import mfa
from api.views import StrictSerializer
from accounts.auth.authentication import CredentialLoader, InvalidToken
from accounts.models import Member, TokenSession
from core.principal import session_principal
from accounts.auth.attempts import code_attempt, password_attempt, record_failure
from accounts.api.serializers import check_known_scopes, scope_list_field
from api.parsers import storable_text


class InvalidCredentials(exceptions.AuthenticationFailed):
    # The same for an unknown email, a wrong password and an organization the person is not in.
    default_detail = "Incorrect email, password or organization."
    default_code = "invalid_credentials"


class MFARequired(exceptions.AuthenticationFailed):
    default_detail = "This account has two-factor authentication: send the current code as 'otp'."
    default_code = "mfa_required"


class MFAEnrollmentRequired(exceptions.AuthenticationFailed):
    default_detail = ("Your role or organization requires two-factor authentication: sign in with a browser "
                      "and set it up first.")
    default_code = "mfa_enrollment_required"


class MFAInvalid(exceptions.AuthenticationFailed):
    default_detail = "The two-factor code is wrong or was already used."
    default_code = "mfa_invalid"


class Locked(exceptions.Throttled):
    default_detail = "Too many failed sign-ins. Try again later."
    default_code = "account_locked"
    wait_message = "Too many failed sign-ins. Try again in {wait}."


class TokenRequestSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    organization = serializers.CharField(max_length=40)
    otp = serializers.CharField(max_length=16, required=False)
    livemode = serializers.BooleanField(default=False)
    scopes = scope_list_field(required=False)

    def validate_scopes(self, scopes):
        check_known_scopes(scopes)
        return scopes


class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


def _audit(action, session, metadata=None):
    member = session.member
    # Acted by the person, through this session (checklist 16.3.1: the actor of a sign-in).
    principal = replace(session_principal(member, session.livemode), credential_kind="jwt", credential_id=session.id)
    audit.record(action, organization=member.organization, livemode=session.livemode, principal=principal,
                 target=session, metadata={"member": member.id, **(metadata or {})})


def sign_in(request, data):
    """Check the credentials and the second factor; returns the member. ``request`` is Django's
    HttpRequest. Wrong passwords and wrong codes count toward the django-axes lockout of this email
    from this address; while it holds, even the right password is refused (429 with Retry-After)."""
    email = data["email"].lower()
    attempt = password_attempt(request, email, data["password"])
    if attempt.locked_for is not None:  # locked out, or this failure reached the limit
        raise Locked(wait=attempt.locked_for)
    if attempt.failed:
        raise InvalidCredentials()
    user = attempt.passed
    member = (Member.objects.select_related("organization", "user")
              .filter(organization_id=data["organization"], user=user).first())
    if member is None:
        record_failure(email, "organization")  # the right password, for an organization not theirs
        raise InvalidCredentials()
    if mfa.has_second_factor(user):
        if not data.get("otp"):
            raise MFARequired()
        attempt = code_attempt(request, user, data["otp"], email=email, lockout_checked=True)
        if attempt.backing_off is not None:  # held back after wrong codes, so not checked: no failure, say so
            raise mfa.CodesBackingOff(wait=attempt.backing_off)
        if attempt.locked_for is not None:
            raise Locked(wait=attempt.locked_for)
        if attempt.failed:
            raise MFAInvalid()
    elif mfa.must_have_second_factor(user):
        # Nothing but enrolment (in the browser) until a person who must have a second factor has one.
        raise MFAEnrollmentRequired()
    if settings.AXES_RESET_ON_SUCCESS:  # as a browser sign-in does (django-axes' user_logged_in)
        AxesProxyHandler.reset_attempts(username=email, ip_address=request.axes_ip_address)
    return member


def issue_tokens(member, *, livemode, scopes=None):
    """A new session for ``member`` and its first pair of tokens: (access, refresh)."""
    granted = sorted((set(scopes) if scopes is not None else member.max_scopes()) & member.max_scopes())
    with transaction.atomic():
        session = TokenSession.objects.create(member=member, livemode=livemode, scopes=granted)
        refresh = RefreshToken()
        refresh[jwt_settings.USER_ID_CLAIM] = str(member.user_id)
        _outstand(refresh, member.user)
        for claim, value in (("sid", session.id), ("org", member.organization_id), ("member", member.id),
                             ("livemode", livemode), ("scope", " ".join(granted))):
            refresh[claim] = value
        _audit("auth.token_issued", session, {"scopes": granted})
    return str(refresh.access_token), str(refresh)


# simplejwt's outstanding-token list stores each refresh token whole (RefreshToken.for_user, outstand,
# blacklist), and a stored one that is not blacklisted yet can be redeemed by whoever reads the table. The
# list and the blacklist need only the jti, so these keep that and no token (as API keys keep a digest).
NO_TOKEN = ""  # nosec B105: what the list keeps in place of a token, nothing


def _outstand(refresh, user):
    return OutstandingToken.objects.get_or_create(jti=refresh[jwt_settings.JTI_CLAIM], defaults={
        "user": user, "token": NO_TOKEN, "created_at": refresh.current_time,
        "expires_at": datetime_from_epoch(refresh["exp"])})[0]


def _blacklist(refresh, user):
    BlacklistedToken.objects.get_or_create(token=_outstand(refresh, user))


# RFC 7519 NumericDate claims: simplejwt turns them into datetimes unguarded, so a validly signed token
# with "exp": "1" or 1e20 would be a 500. Accepted: a number (not a boolean) from 1970 to the year 9999.
_NUMERIC_DATE_CLAIMS = ("exp", "nbf", "iat")
_LATEST_NUMERIC_DATE = datetime(9999, 12, 31, tzinfo=dt_timezone.utc).timestamp()
# Claims this module reads, by the type they must have (absent is fine here: the checks after decide).
_TYPED_CLAIMS = {"sid": str, "org": str, "member": str, "scope": str, "livemode": bool,
                 jwt_settings.JTI_CLAIM: str, jwt_settings.TOKEN_TYPE_CLAIM: str,
                 jwt_settings.USER_ID_CLAIM: str}
_JTI_LENGTH = 255  # the blacklist's column


def _has_usable_ids(payload):
    """A jti the blacklist can hold (simplejwt reads it unguarded) and, when present, a user id that is
    the digits of a primary key, as simplejwt writes it (anything else was not signed by us)."""
    jti, user_id = payload.get(jwt_settings.JTI_CLAIM), payload.get(jwt_settings.USER_ID_CLAIM)
    return (isinstance(jti, str) and 0 < len(jti) <= _JTI_LENGTH
            and (user_id is None or (user_id.isascii() and user_id.isdigit() and len(user_id) <= 20)))


def _is_numeric_date(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= _LATEST_NUMERIC_DATE)


def check_claim_types(raw):
    """Refuse (401) a token whose signature holds but whose claims are not of the types the checks after
    it assume: done before simplejwt reads them, which would otherwise fail with a 500."""
    try:
        payload = pyjwt.decode(raw, token_backend.get_verifying_key(raw), algorithms=[token_backend.algorithm],
                               options={"verify_signature": True, "verify_exp": False, "verify_nbf": False,
                                        "verify_iat": False, "verify_aud": False, "verify_iss": False})
    except pyjwt.InvalidTokenError:
        raise InvalidToken()
    if not isinstance(payload.get("exp"), (int, float)):
        raise InvalidToken()  # simplejwt requires exp; absent or not a number, the token is refused here
    for claim in _NUMERIC_DATE_CLAIMS:
        if claim in payload and not _is_numeric_date(payload[claim]):
            raise InvalidToken()
    for claim, kind in _TYPED_CLAIMS.items():
        if claim in payload and not isinstance(payload[claim], kind):
            raise InvalidToken()
    if not _has_usable_ids(payload):
        raise InvalidToken()
    if not all(storable_text(value) for value in payload.values() if isinstance(value, str)):
        raise InvalidToken()  # a NUL in sid or jti would reach PostgreSQL's lookups (a 500 there)


def _verified_refresh_payload(raw):
    """The claims of a refresh token whose signature, audience, issuer and expiry hold, whether or not it
    is blacklisted (so that a reused one can be recognised)."""
    check_claim_types(raw)
    try:
        payload = token_backend.decode(raw, verify=True)
    except TokenBackendError:
        raise InvalidToken()
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh":
        raise InvalidToken()
    return payload


def _names_its_session(claims, session):
    """The token's member, organization and mode are its session's (a token naming others is forged)."""
    return (session.member_id == claims.get("member") and session.member.organization_id == claims.get("org")
            and session.livemode == claims.get("livemode"))


def _live_session(session_id, lock=False):
    sessions = TokenSession.objects.select_related("member__organization", "member__user")
    if lock:  # only the session row: the joined user is on the nullable side of an outer join
        sessions = sessions.select_for_update(of=("self",))
    session = sessions.filter(pk=session_id, revoked_at__isnull=True).first()
    if session is None or not session.member.is_active:
        return None
    return session


def refresh_tokens(raw):
    """Rotate: a new access and refresh token; the presented refresh token is blacklisted. A refresh
    token presented twice means it leaked: the session is revoked. Rotations of one session run one at
    a time (the session row is locked), so two concurrent uses of one token cannot both succeed."""
    payload = _verified_refresh_payload(raw)
    reused = False
    with transaction.atomic():
        session = _live_session(payload.get("sid"), lock=True)
        if session is None or not _names_its_session(payload, session):
            raise InvalidToken()
        if BlacklistedToken.objects.filter(token__jti=payload.get(jwt_settings.JTI_CLAIM)).exists():
            revoke_session(session, reason="refresh_token_reused")
            reused = True
        else:
            try:
                refresh = RefreshToken(raw)
            except TokenError:
                raise InvalidToken()
            _blacklist(refresh, session.member.user)
            refresh.set_jti()
            refresh.set_exp()
            refresh.set_iat()
            _outstand(refresh, session.member.user)
            session.refreshed_at = timezone.now()
            session.save(update_fields=["refreshed_at"])
            _audit("auth.token_refreshed", session)
    if reused:  # raised after the commit, so that the revocation stands
        raise InvalidToken()
    return str(refresh.access_token), str(refresh)


def revoke_session(session, reason="logout"):
    """End a session: its refresh tokens no longer refresh and its access tokens no longer authenticate
    (both check the session), from the next request on."""
    with transaction.atomic():
        session = TokenSession.objects.select_for_update().select_related("member__organization").get(pk=session.pk)
        if session.revoked_at is None:
            session.revoked_at = timezone.now()
            session.save(update_fields=["revoked_at"])
            _audit("auth.token_revoked", session, {"reason": reason})


def revoke_refresh_token(raw):
    """Logout: the session of this refresh token ends, with every token it issued."""
    payload = _verified_refresh_payload(raw)
    session = TokenSession.objects.select_related("member__organization", "member__user").filter(pk=payload.get("sid")).first()
    if session is not None:
        revoke_session(session)


class JWTLoader(CredentialLoader):
    kind = "jwt"

    def matches(self, token):
        return token.count(".") == 2

    def load(self, token, cache_key, now, generation):
        check_claim_types(token)
        try:
            claims = AccessToken(token).payload  # signature, alg, exp, nbf, aud, iss, token type
        except TokenError:
            raise InvalidToken()
        session = _live_session(claims.get("sid"))
        if session is None or not _names_its_session(claims, session):
            credential_cache.store.discard(cache_key)
            raise InvalidToken()
        expires_at = datetime.fromtimestamp(claims["exp"], tz=dt_timezone.utc)
        return credential_cache.CredentialSnapshot.of(
            kind=self.kind, credential_id=session.id, livemode=session.livemode,
            scopes=str(claims.get("scope", "")).split(), expires_at=expires_at, member=session.member,
            generation=generation,
        )

