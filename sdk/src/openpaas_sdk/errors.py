"""Exceptions. Every failure the client raises is an ``OpenPaaSError``.

API errors are built from the server's body ``{"error": {"type", "code", "message", "param", "doc_url",
"request_id", "details"?, "required_scope"?}}`` and chosen by HTTP status.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import httpx


class OpenPaaSError(Exception):
    """Base class. ``status`` is the HTTP status (None when no response was received)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        type: str | None = None,
        request_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.type = type
        self.request_id = request_id
        self.body: Mapping[str, Any] = body or {}

    @property
    def param(self) -> str | None:
        """The field or query parameter at fault (dotted for a nested field, ``id`` for a missing object)."""
        value = self.body.get("param")
        return value if isinstance(value, str) else None

    @property
    def doc_url(self) -> str | None:
        """The error code's entry in the platform's error reference."""
        value = self.body.get("doc_url")
        return value if isinstance(value, str) else None

    def __str__(self) -> str:
        prefix = f"[{self.status} {self.code}] " if self.status is not None else ""
        suffix = f" (request_id={self.request_id})" if self.request_id else ""
        return f"{prefix}{self.message}{suffix}"


class ConfigurationError(OpenPaaSError, ValueError):
    """The client was set up wrongly (no credential, two credentials, a bad URL or pin)."""


class APIConnectionError(OpenPaaSError):
    """No usable response: the connection failed, timed out, or TLS refused the server."""


class PinningError(APIConnectionError):
    """The server's certificate public key is not one of ``pinned_public_keys``. Never retried."""


class APIError(OpenPaaSError):
    """A 5xx, or any status without a more specific class."""


class ValidationError(OpenPaaSError):
    """400. ``details`` maps field names to their errors, as the server sent them."""

    @property
    def details(self) -> dict[str, Any]:
        details = self.body.get("details")
        return dict(details) if isinstance(details, Mapping) else {}


class AuthenticationError(OpenPaaSError):
    """401, or a refused OAuth/JWT token request."""


class OAuthError(AuthenticationError):
    """An OAuth 2.0 token endpoint error (RFC 6749 5.2), or a failed state check.

    ``code`` holds the RFC error (``invalid_grant``, ``invalid_client``, ...)."""


class PermissionDeniedError(OpenPaaSError):
    """403. ``required_scope`` names the scope the credential lacks, when that is the reason."""

    @property
    def required_scope(self) -> str | None:
        scope = self.body.get("required_scope")
        return scope if isinstance(scope, str) else None


class NotFoundError(OpenPaaSError):
    """404."""


class ConflictError(OpenPaaSError):
    """409: the request conflicts with the resource's state (e.g. removing the last Admin)."""


class RateLimitError(OpenPaaSError):
    """429. ``retry_after`` is the server's Retry-After in seconds, if it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class WebhookVerificationError(OpenPaaSError):
    """A webhook's headers or signature did not verify; the payload must not be trusted."""


_BY_STATUS: dict[int, type[OpenPaaSError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(response: httpx.Response) -> OpenPaaSError:
    """The exception for a non-2xx response."""
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        body: dict[str, Any] = error
        message = str(error.get("message") or f"HTTP {status}")
        code = error.get("code") if isinstance(error.get("code"), str) else None
        type_ = error.get("type") if isinstance(error.get("type"), str) else None
        request_id = error.get("request_id") if isinstance(error.get("request_id"), str) else request_id
    else:  # not our error shape: a proxy's page, an empty body
        body, code, type_ = {}, None, None
        message = f"HTTP {status} {response.reason_phrase}".strip()
    cls = _BY_STATUS.get(status, APIError)
    kwargs: dict[str, Any] = {"status": status, "code": code, "type": type_, "request_id": request_id, "body": body}
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(response.headers.get("retry-after")), **kwargs)
    return cls(message, **kwargs)


def oauth_error_from_response(response: httpx.Response) -> OpenPaaSError:
    """The exception for a failed token request: RFC 6749 ``{"error", "error_description"}`` becomes an
    OAuthError (an AuthenticationError); this API's own error shape maps as any response does."""
    if response.status_code >= 500 or response.status_code == 429:
        return error_from_response(response)
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        code = payload["error"]
        description = payload.get("error_description")
        message = f"{code}: {description}" if isinstance(description, str) and description else code
        return OAuthError(message, status=response.status_code, code=code, type="oauth_error",
                          request_id=response.headers.get("x-request-id"), body=payload)
    return error_from_response(response)
