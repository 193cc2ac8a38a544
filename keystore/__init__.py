"""Encryption at rest. The public face other apps use: the encrypted model fields, and
``encrypt_for`` / ``decrypt_for`` for a value that is not a model field (AES-256-GCM, keystore.crypto).

Today every organization's values are sealed with the platform's master key, the organization bound in
as associated data; the per-organization data keys of the design replace the key, not these names."""

from django.db import models

from keystore import crypto
from keystore.crypto import DecryptionError
from keystore.fields import EncryptedJSONField, EncryptedTextField

__all__ = ["DecryptionError", "EncryptedJSONField", "EncryptedTextField", "decrypt_for", "encrypt_for"]


def _context(organization, context):
    # The organization is part of what is authenticated: a ciphertext moved to another organization's row
    # does not open there. Only an organization's id will do: None or another object's id would bind the
    # value to nobody, or to the wrong one.
    if isinstance(organization, models.Model):
        organization = organization.pk if organization._meta.label == "accounts.Organization" else None
    if not (isinstance(organization, str) and organization.startswith("org_")):
        raise ValueError("encrypt_for and decrypt_for take an Organization or its id (org_...).")
    if not context:
        raise ValueError("Name what the value is (context=...): it must be given again to open it.")
    return f"org:{organization}:{context}"


def encrypt_for(organization, plaintext: bytes, *, context: str) -> str:
    """``plaintext`` sealed for ``organization`` (an Organization or its id); ``context`` names what it
    is ("webhooks.WebhookEndpoint.secret") and must be given again to open it."""
    return crypto.encrypt(plaintext, context=_context(organization, context))


def decrypt_for(organization, token: str, *, context: str) -> bytes:
    """The plaintext of ``encrypt_for``'s ``token``; DecryptionError when it was sealed for another
    organization or context, altered, or under a key no longer in the keyring."""
    return crypto.decrypt(token, context=_context(organization, context))

