"""Open PaaS Python SDK.

    from openpaas_sdk import OpenPaaSClient

    client = OpenPaaSClient(api_key="sk_live_...")
    for connector in client.connectors.list(limit=50):
        print(connector["id"], connector["name"])
"""

from openpaas_sdk import webhooks
from openpaas_sdk.auth import OAuthConfig, Token
from openpaas_sdk.client import OpenPaaSClient, __version__
from openpaas_sdk.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    OAuthError,
    OpenPaaSError,
    PermissionDeniedError,
    PinningError,
    RateLimitError,
    ValidationError,
    WebhookVerificationError,
)
from openpaas_sdk.pinning import public_key_pin
from openpaas_sdk.resources import ListIterator

__all__ = [
    "OpenPaaSClient",
    "OAuthConfig",
    "Token",
    "ListIterator",
    "webhooks",
    "public_key_pin",
    "OpenPaaSError",
    "ConfigurationError",
    "APIConnectionError",
    "PinningError",
    "APIError",
    "AuthenticationError",
    "OAuthError",
    "PermissionDeniedError",
    "NotFoundError",
    "ValidationError",
    "ConflictError",
    "RateLimitError",
    "WebhookVerificationError",
    "__version__",
]
