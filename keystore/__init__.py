"""Encryption at rest. The public face other apps use: the encrypted model fields, and
``encrypt_for`` / ``decrypt_for`` for a value that is not a model field (AES-256-GCM, keystore.crypto).

Today every organization's values are sealed with the platform's master key, the organization bound in
as associated data; the per-organization data keys of the design replace the key, not these names."""

from keystore import crypto
from keystore.crypto import DecryptionError
from keystore.fields import EncryptedJSONField, EncryptedTextField

__all__ = ["DecryptionError", "EncryptedJSONField", "EncryptedTextField", "decrypt_for", "encrypt_for"]


def _context(organization, context):
    # The organization is part of what is authenticated: a ciphertext moved to another organization's row
    # does not open there.
    return f"org:{getattr(organization, 'pk', organization)}:{context}"


def encrypt_for(organization, plaintext: bytes, *, context: str) -> str:
    """``plaintext`` sealed for ``organization`` (an Organization or its id); ``context`` names what it
    is ("webhooks.WebhookEndpoint.secret") and must be given again to open it."""
    return crypto.encrypt(plaintext, context=_context(organization, context))


def decrypt_for(organization, token: str, *, context: str) -> bytes:
    """The plaintext of ``encrypt_for``'s ``token``; DecryptionError when it was sealed for another
    organization or context, altered, or under a key no longer in the keyring."""
    return crypto.decrypt(token, context=_context(organization, context))

