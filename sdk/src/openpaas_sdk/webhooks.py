"""Verify (and, for tests, sign) webhooks per the Standard Webhooks specification.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(space-separated ``v1,<base64>`` entries; during a secret rotation there are several). The signature is
``base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))`` where ``key`` is the base64-decoded part of the
endpoint's ``whsec_...`` secret, and ``body`` the raw request body, byte for byte.

    event = openpaas_sdk.webhooks.verify(request.body, request.headers, secret)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from openpaas_sdk.errors import ConfigurationError, WebhookVerificationError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300  # seconds, either way
__all__ = ["verify", "sign", "WebhookVerificationError"]


def _key(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError("The webhook secret is the endpoint's 'whsec_...' string.")
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("The webhook secret is not 'whsec_' followed by base64.") from None
    if not key:
        raise ConfigurationError("The webhook secret is empty.")
    return key


def _as_bytes(payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError("The payload is the raw request body, bytes or str (not parsed JSON).")


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(payload: bytes | str, secret: str, *, msg_id: str | None = None,
         timestamp: int | None = None) -> dict[str, str]:
    """The three headers a sender puts on ``payload``: ``webhook-id``, ``webhook-timestamp`` and
    ``webhook-signature`` (``v1,<base64>``). ``msg_id`` defaults to a new ``msg_...``, ``timestamp``
    to now."""
    msg_id = msg_id if msg_id is not None else "msg_" + secrets.token_urlsafe(18)
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = _signature(_key(secret), msg_id, timestamp, _as_bytes(payload))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def verify(payload: bytes | str, headers: Mapping[str, str], secret: str, tolerance: int = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """Check a delivery and return its parsed JSON body (an object); raise WebhookVerificationError otherwise.

    ``payload`` must be the raw body as received (re-serialized JSON will not match). Header names are
    matched case-insensitively. A timestamp more than ``tolerance`` seconds away from now, in either
    direction, is refused (replays). Any one matching ``v1`` signature passes."""
    key = _key(secret)
    body = _as_bytes(payload)
    lowered = {str(name).lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    missing = [name for name, value in (("webhook-id", msg_id), ("webhook-timestamp", timestamp_text),
                                        ("webhook-signature", signatures)) if not value]
    if missing:
        raise WebhookVerificationError(f"Missing webhook header(s): {', '.join(missing)}.")
    assert msg_id is not None and timestamp_text is not None and signatures is not None
    timestamp_text = timestamp_text.strip()
    if not (timestamp_text.isascii() and timestamp_text.isdigit()) or len(timestamp_text) > 12:
        raise WebhookVerificationError("The webhook-timestamp header is not a Unix time in seconds.")
    timestamp = int(timestamp_text)
    now = time.time()
    if timestamp < now - tolerance:
        raise WebhookVerificationError(f"The webhook timestamp is more than {tolerance} s old; refusing a possible replay.")
    if timestamp > now + tolerance:
        raise WebhookVerificationError(f"The webhook timestamp is more than {tolerance} s in the future; check the clocks.")

    expected = base64.b64encode(_signature(key, msg_id, timestamp, body))
    matched = False
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue  # other schemes (v1a: asymmetric) are not ours to check
        # Compare every entry, in constant time, and do not stop at the first match.
        matched |= hmac.compare_digest(expected, value.encode("ascii", "replace"))
    if not matched:
        raise WebhookVerificationError("No webhook signature matches this payload and secret.")
    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("The webhook payload is signed but is not JSON.") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("The webhook payload is signed but is not a JSON object.")
    return event
