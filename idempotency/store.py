"""The rules of idempotency keys, apart from any view.

- A key is 1 to 255 printable ASCII characters, without leading or trailing spaces (which HTTP servers
  strip, so the same key could arrive in two spellings); anything else is a 400.
- Keys belong to an organization and a mode (test or live), as Stripe scopes them per account and mode.
- Two requests are the same when method, path (with query string) and body are: the body compared as
  canonical JSON (sorted keys, no insignificant spaces), so re-serialising it does not make a new request.
- Before the view runs its request claims the key: an insert under the unique constraint on
  (organization, livemode, key), committed at once, so a concurrent request with the same key sees it
  and is answered 409 ``idempotency_key_in_use``. The claim is settled in one of two ways:
  recorded (the response is stored for replay) or released (the row is deleted, so a retry runs again).
- Kept for replay: 2xx and 4xx, except 401, 403, 409 and 429 (answers about credentials, permission,
  concurrency and rate that may differ on the next try). 5xx is never kept.
- A record is valid for 24 hours from its first request; older ones are ignored (and replaced).
- A claim whose request died without settling it (a killed worker) is taken over after
  ``OPENPAAS_IDEMPOTENCY_LOCK_SECONDS`` (default 60). The request that lost its claim cannot record or
  release anything (both are conditional on the claim's token); it fails with 409 and its change rolls back.
- One-time secrets (a response member named ``secret`` or ``..._secret``: an API key, a webhook signing
  secret, an OAuth client secret) are replayed only to the credential that made the first request: the
  retry of a client whose response was lost must get the secret it would otherwise never see, as with
  Stripe, and nobody else may read it (a Developer must not obtain the key an Admin created). Any other
  credential that may make the request gets the object with those members null and an
  ``Idempotent-Secret-Withheld`` header naming them. The stored replay holds no secret; the response as
  sent is kept sealed under a key derived from the first request's own bearer credential (``seal``),
  which the database never holds, so a copy of the database, even with the master key, does not open it.
"""

import base64
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer

from core.errors import Conflict
from core.housekeeping import delete_in_batches
from idempotency.models import IdempotencyKey

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"
REPLAYED_HEADER = "Idempotent-Replayed"
ORIGINAL_REQUEST_HEADER = "Original-Request"
SECRET_WITHHELD_HEADER = "Idempotent-Secret-Withheld"  # nosec B105: a header name, not a secret

MAX_KEY_LENGTH = 255
# Printable ASCII (0x20-0x7E), not starting or ending with a space.
_VALID_KEY = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,%d}[\x21-\x7e])?" % (MAX_KEY_LENGTH - 2))

TTL = timedelta(hours=24)
NOT_REPLAYED = frozenset({401, 403, 409, 429})

# Response members that hold a one-time secret: shown once, at creation, and never readable again.
ONE_TIME_SECRET_MEMBER = re.compile(r"(?:[a-z0-9_]+_)?secret")


def lock_timeout():
    return timedelta(seconds=settings.OPENPAAS_IDEMPOTENCY_LOCK_SECONDS)


class IdempotencyKeyInvalid(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = (f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, "
                      "not starting or ending with a space.")
    default_code = "idempotency_key_invalid"


class IdempotencyKeyReused(Conflict):
    default_detail = (f"This {HEADER} was already used with a different request (method, path or body). "
                      "Use a new key for a new request.")
    default_code = "idempotency_key_reused"


class IdempotencyKeyInUse(Conflict):
    default_detail = (f"Another request with this {HEADER} is still being processed. "
                      "Retry after it has finished to receive its result.")
    default_code = "idempotency_key_in_use"


def key_from(request):
    """The request's idempotency key, None when it sends none; IdempotencyKeyInvalid when malformed."""
    value = request.META.get(META_KEY)
    if value is None:
        return None
    if not _VALID_KEY.fullmatch(value):
        raise IdempotencyKeyInvalid()
    return value


def canonical_body(data) -> bytes:
    """The parsed body as canonical JSON bytes."""
    if hasattr(data, "lists"):  # a QueryDict (an empty form body)
        data = {name: values for name, values in data.lists()}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode("ascii")


def fingerprint(method: str, full_path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode("ascii"), full_path.encode("utf-8"), body):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no two requests share a byte string
        digest.update(part)
    return digest.hexdigest()


def request_fingerprint(request) -> str:
    """Of a DRF request; reading ``request.data`` parses the body (a 400 or 415 for a malformed one)."""
    return fingerprint(request.method, request.get_full_path(), canonical_body(request.data))


def replayable(response) -> bool:
    code = response.status_code
    if not (200 <= code < 300 or 400 <= code < 500) or code in NOT_REPLAYED:
        return False
    return not getattr(response, "streaming", False)


def is_one_time_secret(member_name: str) -> bool:
    return bool(ONE_TIME_SECRET_MEMBER.fullmatch(member_name))


def withhold_secrets(body: str):
    """``(body without its one-time secrets, names of the members withheld)``. The members are set to null
    (not removed), so the object keeps its shape; a body without any is returned as it is."""
    try:
        data = json.loads(body)
    except ValueError:
        return body, []
    if not isinstance(data, dict):
        return body, []
    withheld = sorted(name for name, value in data.items() if is_one_time_secret(name) and value is not None)
    if not withheld:
        return body, []
    return JSONRenderer().render({**data, **dict.fromkeys(withheld)}).decode("utf-8"), withheld


@dataclass(frozen=True)
class Caller:
    """The credential a request came with: its identity ("api_key:key_...") and its bearer value, the only
    thing that can open what a request of that credential sealed. Neither is known for a browser session,
    which therefore never gets a one-time secret back."""

    credential: str = ""
    bearer: str = field(default="", repr=False)

    @property
    def can_seal(self):
        return bool(self.credential and self.bearer)


_SEAL_VERSION = "is1"
_SEAL_SALT_BYTES = 16
_SEAL_NONCE_BYTES = 12


def _sealing_key(bearer: str, salt: bytes) -> bytes:
    # HKDF over the bearer value with a fresh salt per record: not the SHA-256 digest under which API keys
    # are stored, so nothing in the database derives it. Bearer values carry >= 128 random bits.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=b"openpaas idempotency: one-time secrets").derive(bearer.encode("utf-8"))


def _seal_context(record: IdempotencyKey) -> bytes:
    """Associated data: a sealed body opens only in its own record, for its own credential."""
    return "\x00".join([str(record.organization_id), "live" if record.livemode else "test", record.key,
                         record.request_fingerprint, record.credential]).encode("utf-8")


def seal(text: str, caller: Caller, record: IdempotencyKey) -> str:
    salt, nonce = os.urandom(_SEAL_SALT_BYTES), os.urandom(_SEAL_NONCE_BYTES)
    sealed = AESGCM(_sealing_key(caller.bearer, salt)).encrypt(nonce, text.encode("utf-8"), _seal_context(record))
    return f"{_SEAL_VERSION}${base64.urlsafe_b64encode(salt + nonce + sealed).decode('ascii')}"


def unseal(token: str, caller: Caller, record: IdempotencyKey):
    """The sealed text, or None when ``caller`` is not the credential that sealed it."""
    version, _, body = token.partition("$")
    if version != _SEAL_VERSION or not caller.can_seal or caller.credential != record.credential:
        return None
    try:
        raw = base64.urlsafe_b64decode(body)
        salt, nonce = raw[:_SEAL_SALT_BYTES], raw[_SEAL_SALT_BYTES:_SEAL_SALT_BYTES + _SEAL_NONCE_BYTES]
        opened = AESGCM(_sealing_key(caller.bearer, salt)).decrypt(
            nonce, raw[_SEAL_SALT_BYTES + _SEAL_NONCE_BYTES:], _seal_context(record))
    except (InvalidTag, ValueError):
        return None
    return opened.decode("utf-8")


@dataclass
class Replay:
    record: IdempotencyKey
    caller: Caller = field(default_factory=Caller)

    def response(self):
        record = self.record
        body, withheld = record.response_body, record.withheld_members
        if record.sealed_response_body:
            original = unseal(record.sealed_response_body, self.caller, record)
            if original is not None:
                body, withheld = original, ""
        response = HttpResponse(body.encode("utf-8"), status=record.response_status,
                                content_type=record.response_content_type or None)
        response[REPLAYED_HEADER] = "true"
        if withheld:
            response[SECRET_WITHHELD_HEADER] = withheld
        if record.request_id:
            response[ORIGINAL_REQUEST_HEADER] = record.request_id
        return response


@dataclass
class Claim:
    """A key held by the running request, until settle() or release()."""

    record_id: int
    token: str
    caller: Caller = field(default_factory=Caller)
    settled: bool = field(default=False)

    def _mine(self):
        return IdempotencyKey.objects.filter(pk=self.record_id, claim_token=self.token, response_status__isnull=True)

    def settle(self, response):
        """Record ``response`` for replay when it is replayable, otherwise release the claim. Called inside
        the transaction of the view's change, this commits or rolls back with it. Raises IdempotencyKeyInUse
        when the claim was taken over, which rolls that transaction back."""
        body = _body_text(response) if replayable(response) else None
        if body is None:
            self.release()
            return
        public_body, withheld = withhold_secrets(body)
        sealed = None
        if withheld and self.caller.can_seal:
            record = IdempotencyKey.objects.only(
                "organization_id", "livemode", "key", "request_fingerprint").get(pk=self.record_id)
            record.credential = self.caller.credential
            sealed = seal(body, self.caller, record)
        recorded = self._mine().update(
            response_status=response.status_code,
            response_content_type=response.get("Content-Type", ""),
            response_body=public_body,
            withheld_members=",".join(withheld),
            credential=self.caller.credential if sealed else "",
            sealed_response_body=sealed,
            completed_at=timezone.now(),
        )
        if not recorded:
            raise IdempotencyKeyInUse()

    def release(self):
        """Delete the claim, so a retry runs again; a claim taken over by another request is left alone."""
        with transaction.atomic():
            self._mine().delete()


def _body_text(response):
    if hasattr(response, "render") and callable(response.render):
        response.render()  # a DRF Response renders once; Django's handler will not render it again
    try:
        return response.content.decode("utf-8")
    except UnicodeDecodeError:
        return None  # not JSON; not kept


def begin(*, organization_id, livemode, key, request_fingerprint, request_id="", caller=None):
    """Claim ``key`` for this request, or find the response to replay (its one-time secrets only to the
    ``caller`` whose credential made the first request).

    Returns a Claim or a Replay; raises IdempotencyKeyReused or IdempotencyKeyInUse (409)."""
    caller = caller or Caller()
    scope = IdempotencyKey.objects.filter(organization_id=organization_id, livemode=livemode, key=key)
    for _ in range(3):
        now = timezone.now()
        record = scope.first()
        if record is None:
            token = secrets.token_urlsafe(32)
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        organization_id=organization_id, livemode=livemode, key=key,
                        request_fingerprint=request_fingerprint, request_id=request_id[:40],
                        claim_token=token, claimed_at=now, created_at=now,
                    )
            except IntegrityError:
                continue  # claimed by a concurrent request a moment ago: look again
            return Claim(record.pk, token, caller)
        if record.created_at < now - TTL:
            # Expired: as if it did not exist. Deleted (if nobody else did) and claimed afresh.
            with transaction.atomic():
                IdempotencyKey.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        if record.completed:
            return Replay(record, caller)
        if record.claimed_at > now - lock_timeout():
            raise IdempotencyKeyInUse()
        # The claim's request died without settling it: take it over.
        token = secrets.token_urlsafe(32)
        with transaction.atomic():
            taken = IdempotencyKey.objects.filter(
                pk=record.pk, claim_token=record.claim_token, response_status__isnull=True,
            ).update(claim_token=token, claimed_at=now, request_id=request_id[:40])
        if taken:
            return Claim(record.pk, token, caller)
    raise IdempotencyKeyInUse()


def clear_expired(*, batch_size=1000, now=None):
    """Delete records older than the TTL, ``batch_size`` rows per statement; returns how many."""
    cutoff = (now or timezone.now()) - TTL
    return delete_in_batches(IdempotencyKey.objects.filter(created_at__lt=cutoff), batch_size=batch_size)
