"""API authentication: every bearer credential (API key, OAuth 2.0 token, JWT) becomes a Principal."""

import base64
import functools
import hashlib
import hmac
import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework import authentication, exceptions

import audit
from accounts.auth import credential_cache, keys
from core import gate
from accounts.models import APIKey
from api.exceptions import REFUSAL_AUDIT_SECONDS, TooManyRefusals
from core.principal import Principal

# Query parameters under which clients commonly (and wrongly) send credentials.
CREDENTIAL_PARAMS = {"api_key", "apikey", "key", "access_token", "token", "secret", "client_secret", "bearer"}


class InvalidAPIKey(exceptions.AuthenticationFailed):
    """A key this platform does not know. Each other refusal of a key says what is wrong with it, as
    Stripe's do; none says anything of an organization (a revoked or expired key's holder knows the key)."""

    default_detail = "Invalid API key provided: no such key. Check that it was copied whole."
    default_code = "invalid_api_key"


class MalformedAPIKey(InvalidAPIKey):
    default_detail = ("Invalid API key provided: an API key is sk_live_ or sk_test_ followed by 49 letters and "
                      "digits.")
    default_code = "api_key_malformed"


class MistypedAPIKey(InvalidAPIKey):
    default_detail = ("Invalid API key provided: its checksum does not match, so it was mistyped or cut short "
                      "(the last 6 characters check the rest).")
    default_code = "api_key_checksum_invalid"


class NotBearer(exceptions.AuthenticationFailed):
    default_detail = ("Send the credential as 'Authorization: Bearer <credential>' (an API key may also be the "
                      "user name of HTTP Basic, as curl -u sk_test_...: sends it).")
    default_code = "authorization_scheme_invalid"


class CredentialsInURL(exceptions.AuthenticationFailed):
    default_detail = ("Credentials are not accepted in the URL, where logs and browser history keep them. "
                      "Send them in the Authorization header, and roll any key that was sent this way.")
    default_code = "credentials_in_url"



def refuse_credentials_in_url(request):
    for name, values in request.GET.lists():
        if name.lower() in CREDENTIAL_PARAMS or any(keys.looks_like_key(value) for value in values):
            raise CredentialsInURL()


class UnusableAPIKey(InvalidAPIKey):
    """A real key that may no longer be used (revoked, expired, its person disabled): said so, and worth an
    audit event (a leaked, revoked key being tried)."""

    ANSWERS = {
        "revoked": ("api_key_revoked", "This API key was revoked: make or roll a new one."),
        "expired": ("api_key_expired", "This API key has expired: make or roll a new one."),
        # Not why: the person may be enabled again (the audit event keeps the reason).
        "person_disabled": ("api_key_inactive", "This API key cannot be used."),
    }

    def __init__(self, api_key, reason):
        code, message = self.ANSWERS.get(reason, (self.default_code, self.default_detail))
        super().__init__(message, code)
        self.api_key, self.reason = api_key, reason




def _record_refusal(api_key, reason, count):
    with transaction.atomic():
        audit.record("api_key.refused", organization=api_key.organization, livemode=api_key.livemode,
                     target=api_key, metadata={"reason": reason, "member": api_key.member_id, "count": count})


def refuse_authentication(request, refusal, credential=None):
    """A failed authentication: counted per client address and per credential before anything is
    written; a known key's refusal audited at most once a minute; then 429 if either budget is spent,
    else the refusal itself (401)."""
    api_key = getattr(refusal, "api_key", None)
    outcome = gate.refuse(gate.refusal_limits(address=getattr(request, "client_ip", None), credential=credential),
                          audit_key=f"api_key:{api_key.id}" if api_key is not None else None,
                          audit_seconds=REFUSAL_AUDIT_SECONDS)
    if outcome.record:
        _record_refusal(api_key, refusal.reason, outcome.record)
    if outcome.retry_after is not None:
        raise TooManyRefusals(wait=outcome.retry_after)
    raise refusal


class InvalidToken(exceptions.AuthenticationFailed):
    # One answer for unknown, revoked, expired, tampered and malformed tokens.
    default_detail = "Invalid or expired token."
    default_code = "invalid_token"


class CredentialLoader:
    """Turns one kind of bearer credential into a CredentialSnapshot. Subclasses say which tokens are
    theirs (``matches``), the cache key of a token (None: refused before any query), and how to load
    it from the database (``load``, raising ``invalid``)."""

    kind = None
    invalid = InvalidToken

    def matches(self, token: str) -> bool:
        return False

    def cache_key(self, token: str) -> str | None:
        return hashlib.sha256(token.encode()).hexdigest()

    def refusal_key(self, token: str) -> str:
        """What refusals of this token are counted under (besides the client address)."""
        return hashlib.sha256(token.encode()).hexdigest()[:32]

    def load(self, token, cache_key, now, generation):
        raise self.invalid()

    def unparsable(self, token):
        """The refusal of a token with no cache key (refused before any query)."""
        return self.invalid()

    def note_use(self, entry, now, ip):
        """Called on every accepted request."""


class APIKeyLoader(CredentialLoader):
    kind = "api_key"
    invalid = InvalidAPIKey

    def matches(self, token):
        return token.startswith("sk_")

    def cache_key(self, token):
        # A key held in the credential cache passed the checks below when it was loaded, and its digest
        # names it alone: one SHA-256 finds it. Any other token is checked first.
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        if credential_cache.store.holds(digest):
            return digest
        parsed = keys.parse(token)  # bad shape or checksum: refused before any query
        return parsed.digest if parsed else None

    def unparsable(self, token):
        shaped = re.fullmatch(keys.KEY_PATTERN, token) is not None
        return MistypedAPIKey() if shaped else MalformedAPIKey()

    def refusal_key(self, token):
        # The lookup prefix: every guess at one key's secret counts against that key.
        parsed = keys.parse(token)
        return f"key:{parsed.prefix}" if parsed else super().refusal_key(token)

    def load(self, token, cache_key, now, generation):
        parsed = keys.parse(token)
        # Every tenant's keys: the key is how the request finds its organization.
        candidates = APIKey.unscoped.filter(prefix=parsed.prefix).select_related("member__user", "member__organization")
        api_key = next((c for c in candidates if hmac.compare_digest(c.digest, parsed.digest)), None)
        if api_key is None:
            raise InvalidAPIKey()
        status = api_key.status(now)
        if status == "active" and not api_key.member.is_active:
            status = "person_disabled"
        if status != "active":
            credential_cache.store.discard(cache_key)
            raise UnusableAPIKey(api_key, status)
        return credential_cache.CredentialSnapshot.of(
            kind=self.kind, credential_id=api_key.id, livemode=api_key.livemode, scopes=api_key.scopes,
            expires_at=api_key.expires_at, member=api_key.member, generation=generation,
            last_used_at=api_key.last_used_at,
        )

    def note_use(self, entry, now, ip):
        """Record last use at most once per interval, so the hot path is read-only almost always."""
        interval = timedelta(seconds=settings.OPENPAAS_KEY_LAST_USED_INTERVAL)
        if entry.last_used_at and now - entry.last_used_at < interval:
            return
        APIKey.unscoped.filter(pk=entry.credential_id).exclude(last_used_at__gte=now - interval).update(
            last_used_at=now, last_used_ip=ip
        )
        entry.last_used_at = now


@functools.lru_cache(maxsize=1)
def _loaders():
    return tuple(import_string(path)() for path in settings.OPENPAAS_CREDENTIAL_LOADERS)


def bearer_token(header):
    """The credential of an ``Authorization: Bearer <credential>`` header, or None (another scheme, or none)."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def basic_api_key(header):
    """An API key sent as the user name of HTTP Basic with no password (``curl -u sk_test_...:``, as
    Stripe takes it), or None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("ascii").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user if user.startswith("sk_") and not password else None


def header_credential(header):
    """The credential an Authorization header carries: Bearer's, or an API key as Basic's user name."""
    return bearer_token(header) or basic_api_key(header)


def loader_for(token):
    return next((loader for loader in _loaders() if loader.matches(token)), None)


class BearerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <credential>``: an API key (``sk_live_...``), an OAuth 2.0 access token
    (``oat_...``) or a JWT. Each becomes the same Principal, so views, scopes and audit need not care."""

    keyword = "Bearer"

    def authenticate(self, request):
        loader = token = None
        try:
            refuse_credentials_in_url(request)
            header = request.META.get("HTTP_AUTHORIZATION")
            if header is None:
                return None
            ahead = getattr(request, "openpaas_read_ahead", None)
            if ahead is not None and ahead.header == header:
                # Found in the cache at the door, and its round trip started there (accounts.auth.read_ahead).
                token, loader = ahead.token, ahead.loader
            else:
                ahead = None
                token = header_credential(header)
                if token is None:
                    raise NotBearer()
                loader = loader_for(token)
            if loader is None:
                raise InvalidToken()
            principal = self.resolve(loader, token, request, ahead)
        except exceptions.AuthenticationFailed as refusal:
            # The success path above costs one cache round trip; only a refusal pays for another.
            refuse_authentication(request, refusal, loader.refusal_key(token) if loader else None)
        return principal, principal

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'

    @staticmethod
    def resolve(loader, token, request, ahead=None):
        store = credential_cache.store
        if ahead is not None:
            cache_key, cached, pending = ahead.cache_key, ahead.entry, ahead.pending
        else:
            cache_key = loader.cache_key(token)
            cached = store.get(cache_key) if cache_key and store.enabled() else None
            pending = None
        if cache_key is None:
            raise loader.unparsable(token)
        now = timezone.now()
        entry, counts = cached, None
        if entry is not None:
            # One cache round trip: the organization's access generation and the rate-limit counters.
            generation, counts = pending.result() if pending else gate.read(reading_of(entry))
            if not store.fresh(entry, generation) or _expired(entry, now):
                try:
                    entry = loader.load(token, cache_key, now, generation)
                except exceptions.AuthenticationFailed:
                    store.discard(cache_key)  # a credential no longer valid is not kept to be tried again
                    raise
        else:
            entry = loader.load(token, cache_key, now, None)
        if entry is not cached and store.enabled():
            store.put(cache_key, entry)
        if counts is None:
            _, counts = gate.read(reading_of(entry))
        # Read by accounts.auth.throttling.PrincipalRateThrottle, and by core.middleware for the X-RateLimit
        # headers (so on the Django request, which DRF's request reads through).
        django_request = getattr(request, "_request", request)
        django_request.openpaas_rate_counts = counts
        django_request.openpaas_bearer = token  # what authenticated it (api.idempotent_views seals replays with it)
        loader.note_use(entry, now, getattr(request, "client_ip", None))
        return Principal(
            organization_id=entry.organization_id,
            member_id=entry.member_id,
            role=entry.member_role,
            livemode=entry.livemode,
            scopes=entry.principal_scopes,
            credential_kind=entry.credential_kind,
            credential_id=entry.credential_id,
            load_models=entry.models,
        )


def reading_of(entry):
    return gate.reading_for(entry.credential_id, entry.organization_id, entry.livemode)


def _expired(entry, now):
    return entry.expires_at is not None and entry.expires_at <= now
