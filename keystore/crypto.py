"""AES-256-GCM for secrets at rest, behind two functions: encrypt() and decrypt().

A ciphertext is text: ``ek1$<key id>$<base64url(nonce | ciphertext | tag)>``. The format version and
the key id let per-organization data keys, rotation and an HSM-held master key arrive later without
reshaping stored values: decrypt() picks the key by id, encrypt() uses the current one.
The ``context`` (a field's label) is bound in as associated data, so a ciphertext copied into another
column does not decrypt.
"""

import base64
import functools
import hashlib
import logging
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("openpaas.keystore")

FORMAT_VERSION = "ek1"
NONCE_BYTES = 12  # 96-bit random nonces: a collision is negligible at far more than 2**32 encryptions per key


class DecryptionError(Exception):
    """The value was tampered with, truncated, or encrypted under a key this keyring does not hold."""


def key_id_for(key: bytes) -> str:
    """A stable, non-secret name for a key: a truncated digest of it under a fixed label."""
    return "mk" + hashlib.sha256(b"openpaas-key-id\x00" + key).hexdigest()[:12]


def _decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("A master key must be urlsafe base64 of 32 bytes.") from exc
    if len(key) != 32:
        raise ImproperlyConfigured("A master key must be 32 bytes (AES-256).")
    return key


def generate_key_text() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _read_or_create_key_file(path):
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; read theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(generate_key_text() + "\n")
            logger.warning("Generated a new local master key at %s; back it up, or set OPENPAAS_MASTER_KEY.", path)
    return [line for line in path.read_text().splitlines() if line.strip()]


@functools.lru_cache(maxsize=4)
def _keyring(master_key_env, key_file):
    """(current key id, {key id: key}). Several keys (comma-separated, or one per line in the file)
    are allowed so that old ciphertexts still decrypt after a new key takes over; the first is current."""
    texts = master_key_env.split(",") if master_key_env else _read_or_create_key_file(key_file)
    keys = [_decode_key(text) for text in texts if text.strip()]
    if not keys:
        raise ImproperlyConfigured("No master key is configured.")
    ring = {key_id_for(key): key for key in keys}
    return key_id_for(keys[0]), ring


def keyring():
    return _keyring(settings.OPENPAAS_MASTER_KEY, settings.OPENPAAS_KEY_FILE)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encrypt(plaintext: bytes, *, context: str) -> str:
    current_id, ring = keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring[current_id]).encrypt(nonce, plaintext, context.encode())
    return f"{FORMAT_VERSION}${current_id}${_b64e(nonce + sealed)}"


def decrypt(token: str, *, context: str) -> bytes:
    try:
        version, key_id, body = token.split("$")
    except ValueError:
        raise DecryptionError("Not a ciphertext of a known format.") from None
    if version != FORMAT_VERSION:
        raise DecryptionError(f"Unknown ciphertext format {version!r}.")
    key = keyring()[1].get(key_id)
    if key is None:
        raise DecryptionError(f"No key {key_id!r} in the keyring.")
    try:
        raw = _b64d(body)
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("The ciphertext failed authentication.") from exc
