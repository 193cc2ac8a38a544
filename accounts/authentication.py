"""API authentication: ``Authorization: Bearer sk_live_...`` becomes a Principal."""

import hmac
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

import audit
from accounts import credential_cache, gate, keys
from accounts.models import APIKey
from accounts.principal import Principal
from accounts.scopes import effective_scopes

# Query parameters under which clients commonly (and wrongly) send credentials.
CREDENTIAL_PARAMS = {"api_key", "apikey", "key", "access_token", "token", "secret", "client_secret", "bearer"}


class InvalidAPIKey(exceptions.AuthenticationFailed):
    # One answer for unknown, revoked, expired and malformed keys: the caller learns nothing more.
    default_detail = "Invalid API key provided."
    default_code = "invalid_api_key"


class CredentialsInURL(exceptions.AuthenticationFailed):
    default_detail = ("Credentials are not accepted in the URL, where logs and browser history keep them. "
                      "Send them in the Authorization header, and roll any key that was sent this way.")
    default_code = "credentials_in_url"


class MissingCredentials(exceptions.NotAuthenticated):
    default_detail = "No credentials were provided. Send an API key as 'Authorization: Bearer sk_...'."
    default_code = "missing_credentials"


def refuse_credentials_in_url(request):
    for name, values in request.GET.lists():
        if name.lower() in CREDENTIAL_PARAMS or any(keys.looks_like_key(value) for value in values):
            raise CredentialsInURL()


def _record_refusal(api_key, reason):
    """A real key that may no longer be used is worth an audit event (a leaked, revoked key being
    tried); the caller still gets the same 401 as for any invalid key."""
    with transaction.atomic():
        audit.record("api_key.refused", organization=api_key.organization, livemode=api_key.livemode,
                     target=api_key, metadata={"reason": reason, "member": api_key.member_id})


class APIKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        refuse_credentials_in_url(request)
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip():
            raise InvalidAPIKey()
        principal = self.principal_for_key(token.strip(), request)
        return principal, principal

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'

    def principal_for_key(self, token, request):
        parsed = keys.parse(token)
        if parsed is None:
            raise InvalidAPIKey()  # bad shape or checksum: refused before any query
        now = timezone.now()
        entry = credential_cache.store.get(parsed.digest) if credential_cache.store.enabled() else None
        counts = None
        if entry is not None:
            # One cache round trip: the organization's access generation and the rate-limit counters.
            generation, counts = gate.read(entry.organization_id, self._limits(entry))
            if not credential_cache.store.fresh(entry, generation) or _expired(entry, now):
                entry = self._load(parsed, now, generation)
        else:
            entry = self._load(parsed, now, generation=None)
        if counts is None:
            _, counts = gate.read(entry.organization_id, self._limits(entry))
        request.openpaas_rate_counts = counts  # read by accounts.throttling.PrincipalRateThrottle
        self._note_use(entry, now, getattr(request, "client_ip", None))
        return Principal(
            organization_id=entry.organization_id,
            member_id=entry.member_id,
            role=entry.member_role,
            livemode=entry.livemode,
            scopes=effective_scopes(entry.scopes, entry.member_role, entry.member_granted_scopes),
            credential_kind="api_key",
            credential_id=entry.key_id,
            load_models=entry.models,
        )

    @staticmethod
    def _limits(entry):
        return gate.limits_for(entry.key_id, entry.organization_id, entry.livemode)

    @staticmethod
    def _load(parsed, now, generation):
        """The key from the database (one indexed query), cached under ``generation``; refused keys
        are audited and forgotten."""
        candidates = APIKey.objects.filter(prefix=parsed.prefix).select_related("member__user", "organization")
        api_key = next((c for c in candidates if hmac.compare_digest(c.digest, parsed.digest)), None)
        if api_key is None:
            raise InvalidAPIKey()
        status = api_key.status(now)
        if status == "active" and not api_key.member.is_active:
            status = "person_disabled"
        if status != "active":
            credential_cache.store.discard(parsed.digest)
            _record_refusal(api_key, status)
            raise InvalidAPIKey()
        entry = credential_cache.KeySnapshot.of(api_key, generation)
        if credential_cache.store.enabled():
            credential_cache.store.put(parsed.digest, entry)
        return entry

    @staticmethod
    def _note_use(entry, now, ip):
        """Record last use at most once per interval, so the hot path is read-only almost always."""
        interval = timedelta(seconds=settings.OPENPAAS_KEY_LAST_USED_INTERVAL)
        if entry.last_used_at and now - entry.last_used_at < interval:
            return
        APIKey.objects.filter(pk=entry.key_id).exclude(last_used_at__gte=now - interval).update(
            last_used_at=now, last_used_ip=ip
        )
        entry.last_used_at = now


def _expired(entry, now):
    return entry.expires_at is not None and entry.expires_at <= now
