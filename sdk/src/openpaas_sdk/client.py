"""OpenPaaSClient: credentials, the request pipeline (retries, idempotency keys, token renewal) and the
resources hung off it."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json as _json
import os
import platform
import secrets
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from openpaas_sdk import resources
from openpaas_sdk.auth import (
    APIKeyCredential,
    Credential,
    JWTCredential,
    OAuthConfig,
    OAuthCredential,
    Token,
)
from openpaas_sdk.errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    OpenPaaSError,
    PinningError,
    RateLimitError,
    error_from_response,
    oauth_error_from_response,
)
from openpaas_sdk.pinning import parse_pins, ssl_context

__version__ = "0.1.0"

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"
# Backoff: full jitter, sleep ~ U(0, min(MAX_DELAY, INITIAL_DELAY * 2**attempt)).
INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
# A Retry-After longer than this is not waited for: the error is raised at once.
MAX_RETRY_AFTER = 60.0
# Methods retried without an Idempotency-Key (repeating them changes nothing more).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Methods that get an Idempotency-Key, generated unless one is given, the same on every retry.
KEYED_METHODS = frozenset({"POST", "PATCH"})

_sleep: Callable[[float], None] = time.sleep  # tests replace this
_random = secrets.SystemRandom()


def backoff_delay(attempt: int) -> float:
    """The wait before retry number ``attempt + 1``: exponential backoff with full jitter."""
    return _random.uniform(0.0, min(MAX_DELAY, INITIAL_DELAY * (2 ** attempt)))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _normalize_base_url(base_url: str) -> str:
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base_url must be an http(s) URL like https://api.example.com, not {base_url!r}.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("base_url takes no query, fragment or user info.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(f"Refusing to send credentials over plain http to {parts.hostname}; use https "
                                 "(plain http is allowed to loopback addresses only).")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):  # tolerate a base_url that already names the API root
        path = path[: -len(API_PREFIX)]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_default(value: Any) -> Any:
    """Request bodies may hold datetimes and dates (sent as ISO 8601)."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise TypeError(f"Cannot send a {type(value).__name__} as JSON.")


def _tls_verification_failed(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _api_key_unless_other(api_key: str | None, *, oauth_config: Any, jwt_token: str | None,
                          jwt_refresh_token: str | None) -> str | None:
    """Check that at most one credential is given; with none, the API key from ``OPENPAAS_API_KEY``.
    Returns the API key to use, or None when another credential is given."""
    given = [name for name, value in (("api_key", api_key), ("oauth_config", oauth_config), ("jwt_token", jwt_token))
             if value is not None]
    if len(given) > 1:
        raise ConfigurationError(f"Pass exactly one credential, not {' and '.join(given)}.")
    if jwt_refresh_token is not None and jwt_token is None:
        raise ConfigurationError("jwt_refresh_token goes with jwt_token.")
    if given:
        return api_key
    from_environment = os.environ.get("OPENPAAS_API_KEY") or None
    if from_environment is None:
        raise ConfigurationError("No credentials: pass api_key=..., oauth_config=... or jwt_token=..., "
                                 "or set the OPENPAAS_API_KEY environment variable.")
    return from_environment


def _check_limits(*, timeout: float, max_retries: int) -> None:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError("max_retries must be an integer >= 0.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigurationError("timeout must be a number of seconds > 0.")


class OpenPaaSClient:
    """A client of the Open PaaS API.

    Exactly one credential: ``api_key`` (``sk_live_...``/``sk_test_...``), ``oauth_config`` (see
    ``OAuthConfig``) or ``jwt_token`` (with ``jwt_refresh_token`` to renew it). With none, the
    ``OPENPAAS_API_KEY`` environment variable is used. ``base_url`` defaults to ``OPENPAAS_BASE_URL``,
    else ``http://127.0.0.1:8000``.

    ``pinned_public_keys``: ``["sha256/<base64>", ...]``; a TLS server whose leaf public key is not listed
    is refused (PinningError) on every new connection. ``ca_bundle``: a PEM file of CAs to trust instead
    of certifi's (certificates are always verified).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        oauth_config: OAuthConfig | Mapping[str, Any] | None = None,
        jwt_token: str | None = None,
        jwt_refresh_token: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        pinned_public_keys: Iterable[str] | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        api_key = _api_key_unless_other(api_key, oauth_config=oauth_config, jwt_token=jwt_token,
                                        jwt_refresh_token=jwt_refresh_token)
        _check_limits(timeout=timeout, max_retries=max_retries)
        self.base_url = _normalize_base_url(base_url or os.environ.get("OPENPAAS_BASE_URL") or DEFAULT_BASE_URL)
        self.max_retries = max_retries
        self.timeout = float(timeout)
        pins = self._pins(pinned_public_keys)
        self._credential: Credential = self._make_credential(api_key, oauth_config, jwt_token, jwt_refresh_token)
        self._http = self._make_http_client(ssl_context(pins, ca_bundle))
        self._add_resources()

    def _pins(self, pinned_public_keys: Iterable[str] | None) -> frozenset[bytes] | None:
        """The parsed pins, or None; pinning is for TLS, so it needs an https base_url."""
        if pinned_public_keys is None:
            return None
        pins = parse_pins(pinned_public_keys)
        if not self.base_url.startswith("https://"):
            raise ConfigurationError("pinned_public_keys need an https base_url.")
        return pins

    def _make_credential(self, api_key: str | None, oauth_config: OAuthConfig | Mapping[str, Any] | None,
                         jwt_token: str | None, jwt_refresh_token: str | None) -> Credential:
        """The one credential given (at most one is, checked by _api_key_unless_other)."""
        if oauth_config is not None:
            return OAuthCredential(oauth_config, self.base_url)
        if jwt_token is not None:
            return JWTCredential(jwt_token, jwt_refresh_token, f"{self.base_url}{API_PREFIX}/auth/token/refresh")
        assert api_key is not None
        return APIKeyCredential(api_key)

    def _make_http_client(self, context: ssl.SSLContext | None) -> httpx.Client:
        """The one HTTP client every request goes through: verified TLS (pinned when asked), no redirects."""
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            verify=context if context is not None else True,
            follow_redirects=False,  # a redirect never carries the credential anywhere
            headers={
                "Accept": "application/json",
                "User-Agent": f"openpaas-python/{__version__} httpx/{httpx.__version__} "
                              f"python/{platform.python_version()}",
            },
        )

    def _add_resources(self) -> None:
        self.connectors = resources.Connectors(self)
        self.workflows = resources.Workflows(self)
        self.datasets = resources.Datasets(self)
        self.webhook_endpoints = resources.WebhookEndpoints(self)
        self.api_keys = resources.APIKeys(self)
        self.members = resources.Members(self)
        self.invitations = resources.Invitations(self)
        self.audit_events = resources.AuditEvents(self)
        self.oauth_applications = resources.OAuthApplications(self)

    # -- construction helpers ------------------------------------------------------------------------------

    @classmethod
    def login(cls, email: str, password: str, organization: str, otp: str | None = None, *,
              livemode: bool | None = None, scopes: Sequence[str] | None = None,
              base_url: str | None = None, **options: Any) -> OpenPaaSClient:
        """Sign in with a person's password (and one-time code) and return a client holding the JWT pair
        from ``POST /api/v1/auth/token``; it renews itself with the refresh token. ``livemode`` and
        ``scopes`` (narrower than the person's role) are sent only when given. Other keyword arguments
        are the constructor's (``timeout``, ``pinned_public_keys``, ...)."""
        for name in ("api_key", "oauth_config", "jwt_token", "jwt_refresh_token"):
            if name in options:
                raise ConfigurationError(f"login() makes its own credential; do not pass {name}.")
        body: dict[str, Any] = {"email": email, "password": password, "organization": organization}
        if otp is not None:
            body["otp"] = otp
        if livemode is not None:
            body["livemode"] = livemode
        if scopes is not None:
            body["scopes"] = list(scopes)
        # A placeholder credential only so the client can be built; replaced before any API request.
        client = cls(jwt_token="login.pending.placeholder", base_url=base_url, **options)
        try:
            payload = client._post_token(f"{client.base_url}{API_PREFIX}/auth/token", json_body=body)
            access, refresh = payload.get("access"), payload.get("refresh")
            if not isinstance(access, str) or not access:
                raise APIError("The login endpoint answered without an access token.", status=200)
            client._credential = JWTCredential(access, refresh if isinstance(refresh, str) else None,
                                               f"{client.base_url}{API_PREFIX}/auth/token/refresh")
        except BaseException:
            client.close()
            raise
        return client

    # -- OAuth authorization-code flow ---------------------------------------------------------------------

    def _oauth(self) -> OAuthCredential:
        if not isinstance(self._credential, OAuthCredential):
            raise ConfigurationError("This client was not made with oauth_config.")
        return self._credential

    def authorization_url(self, scope: str | Sequence[str] | None = None) -> tuple[str, str]:
        """``(url, state)``: send the person to ``url``; keep ``state`` to check the redirect (PKCE S256)."""
        return self._oauth().authorization_url(scope)

    def fetch_token(self, *, code: str, state: str, code_verifier: str | None = None) -> Token:
        """Finish the authorization: check ``state`` against the one this client issued, then exchange
        ``code`` with its PKCE verifier. An app that finishes in another process passes the
        ``code_verifier`` it saved (``oauth_code_verifier(state)``) and checks the state itself."""
        return self._oauth().fetch_token(self, code, state, code_verifier)

    def oauth_code_verifier(self, state: str) -> str | None:
        return self._oauth().code_verifier(state)

    @property
    def token(self) -> Token | None:
        """The current OAuth/JWT token (save ``token.refresh_token`` to resume later); None for API keys."""
        return self._credential.token

    @property
    def credential_kind(self) -> str:
        return self._credential.kind

    # -- requests ------------------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """The caller as the API sees them: organization, member, role, mode, scopes, credential."""
        result: dict[str, Any] = self.request("GET", "/me")
        return result

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, idempotency_key: str | None = None) -> Any:
        """One API call; ``path`` is relative to ``/api/v1`` (``"/connectors"``). Returns the parsed JSON
        body (None for 204). POST and PATCH carry an Idempotency-Key (``idempotency_key`` or a new uuid4),
        the same on every retry."""
        method = method.upper()
        headers: dict[str, str] = {}
        if idempotency_key is not None or method in KEYED_METHODS:
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        query = {name: _query_value(value) for name, value in (params or {}).items() if value is not None}
        url = f"{self.base_url}{API_PREFIX}/{path.lstrip('/')}"
        content = None
        if json is not None:
            content = _json.dumps(json, default=_json_default, allow_nan=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        response = self._send(method, url, params=query, content=content, headers=headers, authenticate=True,
                              retry=method in IDEMPOTENT_METHODS or "Idempotency-Key" in headers,
                              to_error=error_from_response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise APIError("The server answered with a body that is not JSON.", status=response.status_code,
                           request_id=response.headers.get("x-request-id")) from None

    def _post_token(self, url: str, *, form: Mapping[str, str] | None = None, json_body: Mapping[str, Any] | None = None,
                    basic_auth: tuple[str, str] | None = None, retry: bool = False) -> dict[str, Any]:
        """A token endpoint call (OAuth, JWT login and refresh): no bearer, errors per RFC 6749."""
        headers: dict[str, str] = {}
        if basic_auth is not None:
            # RFC 6749 2.3.1: id and secret form-urlencoded, then Basic.
            user, password = (urllib.parse.quote_plus(part) for part in basic_auth)
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        response = self._send("POST", url, data=dict(form) if form is not None else None, json_body=json_body,
                              headers=headers, authenticate=False, retry=retry, to_error=oauth_error_from_response)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise APIError("The token endpoint answered with a body that is not a JSON object.",
                           status=response.status_code, request_id=response.headers.get("x-request-id"))
        return payload

    def _send(self, method: str, url: str, *, headers: dict[str, str], authenticate: bool, retry: bool,
              to_error: Callable[[httpx.Response], OpenPaaSError], params: Mapping[str, str] | None = None,
              json_body: Any = None, data: Mapping[str, str] | None = None,
              content: bytes | None = None) -> httpx.Response:
        attempt = 0
        renewed = False
        while True:
            request_headers = dict(headers)
            bearer = None
            if authenticate:
                bearer = self._credential.bearer(self)
                request_headers["Authorization"] = f"Bearer {bearer}"
            try:
                response = self._http.request(method, url, params=params, json=json_body, data=data,
                                              content=content, headers=request_headers)
            except PinningError:
                raise  # a wrong key is not a passing fault
            except httpx.TransportError as exc:
                failure = APIConnectionError(f"Could not reach {self.base_url}: {type(exc).__name__}: {exc}".rstrip(": "))
                if retry and attempt < self.max_retries and not _tls_verification_failed(exc) \
                        and not isinstance(exc, httpx.UnsupportedProtocol):
                    _sleep(backoff_delay(attempt))
                    attempt += 1
                    continue
                raise failure from exc
            if response.is_success:
                return response
            if response.status_code == 401 and bearer is not None and not renewed \
                    and self._credential.renew_after_unauthorized(self, bearer):
                renewed = True  # once per call; does not count as a retry
                continue
            error = to_error(response)
            if retry and attempt < self.max_retries and (response.status_code == 429 or response.status_code >= 500):
                retry_after = error.retry_after if isinstance(error, RateLimitError) else None
                delay = backoff_delay(attempt) if retry_after is None else retry_after
                if delay <= MAX_RETRY_AFTER:
                    _sleep(delay)
                    attempt += 1
                    continue
            raise error

    # -- lifecycle -----------------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenPaaSClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        credential = self._credential
        shown = credential.redacted() if isinstance(credential, APIKeyCredential) else credential.kind
        return f"<OpenPaaSClient {self.base_url} credential={shown}>"
