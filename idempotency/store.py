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
"""

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions, status

from config.errors import Conflict
from config.housekeeping import delete_in_batches
from idempotency.models import IdempotencyKey

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"
REPLAYED_HEADER = "Idempotent-Replayed"
ORIGINAL_REQUEST_HEADER = "Original-Request"

MAX_KEY_LENGTH = 255
# Printable ASCII (0x20-0x7E), not starting or ending with a space.
_VALID_KEY = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,%d}[\x21-\x7e])?" % (MAX_KEY_LENGTH - 2))

TTL = timedelta(hours=24)
NOT_REPLAYED = frozenset({401, 403, 409, 429})


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


@dataclass
class Replay:
    record: IdempotencyKey

    def response(self):
        record = self.record
        response = HttpResponse(record.response_body.encode("utf-8"), status=record.response_status,
                                content_type=record.response_content_type or None)
        response[REPLAYED_HEADER] = "true"
        if record.request_id:
            response[ORIGINAL_REQUEST_HEADER] = record.request_id
        return response


@dataclass
class Claim:
    """A key held by the running request, until settle() or release()."""

    record_id: int
    token: str
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
        recorded = self._mine().update(
            response_status=response.status_code,
            response_content_type=response.get("Content-Type", ""),
            response_body=body,
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


def begin(*, organization_id, livemode, key, request_fingerprint, request_id=""):
    """Claim ``key`` for this request, or find the response to replay.

    Returns a Claim or a Replay; raises IdempotencyKeyReused or IdempotencyKeyInUse (409)."""
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
            return Claim(record.pk, token)
        if record.created_at < now - TTL:
            # Expired: as if it did not exist. Deleted (if nobody else did) and claimed afresh.
            with transaction.atomic():
                IdempotencyKey.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        if record.completed:
            return Replay(record)
        if record.claimed_at > now - lock_timeout():
            raise IdempotencyKeyInUse()
        # The claim's request died without settling it: take it over.
        token = secrets.token_urlsafe(32)
        with transaction.atomic():
            taken = IdempotencyKey.objects.filter(
                pk=record.pk, claim_token=record.claim_token, response_status__isnull=True,
            ).update(claim_token=token, claimed_at=now, request_id=request_id[:40])
        if taken:
            return Claim(record.pk, token)
    raise IdempotencyKeyInUse()


def clear_expired(*, batch_size=1000, now=None):
    """Delete records older than the TTL, ``batch_size`` rows per statement; returns how many."""
    cutoff = (now or timezone.now()) - TTL
    return delete_in_batches(IdempotencyKey.objects.filter(created_at__lt=cutoff), batch_size=batch_size)
