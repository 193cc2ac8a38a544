"""The API's own exceptions that the credential door (accounts.auth) and the permission classes both
raise; DRF's exception handler (core.errors) answers them in the one error shape."""

from rest_framework import exceptions


class MissingCredentials(exceptions.NotAuthenticated):
    default_detail = ("No credentials were provided. Send an API key or token as "
                      "'Authorization: Bearer <credential>'.")
    default_code = "missing_credentials"


class TooManyRefusals(exceptions.Throttled):
    """429: this address or credential was refused too often; nothing more is looked up or written."""

    default_code = "rate_limited"


# Refusals of one key (or denials of one credential) are audited once per this many seconds, the event
# counting those held back since.
REFUSAL_AUDIT_SECONDS = 60
