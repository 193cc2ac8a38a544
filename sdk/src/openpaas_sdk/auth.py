"""Credentials: an API key, OAuth 2.0 tokens, or a JWT. Each gives the bearer for the next request and,
for the renewable ones, renews itself shortly before expiry or after a 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict

from openpaas_sdk.errors import AuthenticationError, ConfigurationError, OAuthError

# Renew this long before expiry (or a tenth of the token's lifetime, if that is shorter).
RENEW_LEEWAY_SECONDS = 30.0
# Authorization requests started and not yet finished, kept per client.
MAX_PENDING_AUTHORIZATIONS = 100


class OAuthConfig(TypedDict, total=False):
    """``oauth_config``: ``client_id`` is required.

    - ``client_secret`` and no ``redirect_uri``: the client-credentials grant (machine to machine).
    - ``redirect_uri``: the authorization-code grant with PKCE, for people (``client_secret`` optional:
      without it the client is public).
    - ``grant_type``: "client_credentials" or "authorization_code", to say it outright.
    - ``scope``: the scopes to ask for (list or space-separated string).
    - ``refresh_token``: resume from a refresh token saved earlier (see ``OpenPaaSClient.token``).
    - ``token_url`` / ``authorize_url``: override ``{base_url}/oauth/token/`` and ``/oauth/authorize/``.
    """

    client_id: str
    client_secret: str
    redirect_uri: str
    grant_type: Literal["client_credentials", "authorization_code"]
    scope: str | Sequence[str]
    refresh_token: str
    token_url: str
    authorize_url: str


@dataclass
class Token:
    """An access token and what renews it. Secrets stay out of ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # epoch seconds; None when the server did not say
    scope: str | None = None
    renew_at: float | None = field(default=None, repr=False)

    def needs_renewal(self, now: float | None = None) -> bool:
        return self.renew_at is not None and (time.time() if now is None else now) >= self.renew_at


def _renew_at(expires_at: float | None, now: float) -> float | None:
    if expires_at is None:
        return None
    lifetime = max(0.0, expires_at - now)
    return expires_at - min(RENEW_LEEWAY_SECONDS, lifetime / 10)


class TokenTransport(Protocol):
    """What a renewable credential needs from the client: a POST to a token endpoint."""

    def _post_token(self, url: str, *, form: Mapping[str, str] | None = None, json_body: Mapping[str, Any] | None = None,
                    basic_auth: tuple[str, str] | None = None, retry: bool = False) -> dict[str, Any]: ...


class Credential(Protocol):
    kind: str

    def bearer(self, transport: TokenTransport) -> str:
        """The token for the next request, renewed first if it is about to expire."""

    def renew_after_unauthorized(self, transport: TokenTransport, used: str) -> bool:
        """After a 401 for ``used``: True when a different token is now available to try once more."""

    @property
    def token(self) -> Token | None: ...


class APIKeyCredential:
    kind = "api_key"

    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key or any(c.isspace() for c in key) or not key.isascii():
            raise ConfigurationError("api_key must be a non-empty ASCII string without spaces (sk_live_... or sk_test_...).")
        self._key = key

    def bearer(self, transport: TokenTransport) -> str:
        return self._key

    def renew_after_unauthorized(self, transport: TokenTransport, used: str) -> bool:
        return False

    @property
    def token(self) -> Token | None:
        return None

    def redacted(self) -> str:
        prefix = self._key[:8] if self._key.startswith("sk_") else ""
        return f"{prefix}...{self._key[-4:]}"


# -- OAuth 2.0 --------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]
    return verifier, _b64url(hashlib.sha256(verifier.encode()).digest())


def _scope_string(scope: str | Sequence[str] | None) -> str | None:
    if scope is None:
        return None
    if isinstance(scope, str):
        return scope.strip() or None
    return " ".join(scope) or None


def token_from_response(payload: Mapping[str, Any], previous: Token | None = None, *, now: float | None = None) -> Token:
    """An RFC 6749 5.1 token response as a Token; a refresh that returns no new refresh token keeps the
    previous one."""
    now = time.time() if now is None else now
    access = payload.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthenticationError("The token endpoint answered without an access_token.")
    token_type = payload.get("token_type")
    if isinstance(token_type, str) and token_type.lower() != "bearer":
        raise AuthenticationError(f"Unsupported token_type {token_type!r}; this client sends bearer tokens.")
    expires_in = payload.get("expires_in")
    expires_at = now + float(expires_in) if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) else None
    refresh = payload.get("refresh_token")
    scope = payload.get("scope")
    return Token(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else (previous.refresh_token if previous else None),
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) else (previous.scope if previous else None),
        renew_at=_renew_at(expires_at, now),
    )


class OAuthCredential:
    kind = "oauth"

    def __init__(self, config: Mapping[str, Any], base_url: str) -> None:
        if not isinstance(config, Mapping):
            raise ConfigurationError("oauth_config must be a dict with at least client_id.")
        unknown = sorted(set(config) - set(OAuthConfig.__annotations__))
        if unknown:
            raise ConfigurationError(f"Unknown oauth_config keys: {', '.join(unknown)}.")
        client_id = config.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("oauth_config needs a client_id.")
        self.client_id = client_id
        self._client_secret: str | None = config.get("client_secret") or None
        self.redirect_uri: str | None = config.get("redirect_uri") or None
        self.scope = _scope_string(config.get("scope"))
        grant = config.get("grant_type") or ("authorization_code" if self.redirect_uri else "client_credentials")
        if grant not in ("client_credentials", "authorization_code"):
            raise ConfigurationError("oauth_config grant_type is 'client_credentials' or 'authorization_code'.")
        if grant == "client_credentials" and not self._client_secret:
            raise ConfigurationError("The client-credentials grant needs a client_secret in oauth_config "
                                     "(or give a redirect_uri to sign people in).")
        if grant == "authorization_code" and not self.redirect_uri:
            raise ConfigurationError("The authorization-code grant needs a redirect_uri in oauth_config.")
        self.grant_type: str = grant
        self.token_url: str = config.get("token_url") or f"{base_url}/oauth/token/"
        self.authorize_url: str = config.get("authorize_url") or f"{base_url}/oauth/authorize/"
        self._token: Token | None = None
        refresh_token = config.get("refresh_token")
        if refresh_token:
            self._token = Token(access_token="", refresh_token=refresh_token, renew_at=0.0)
        self._pending: dict[str, str] = {}  # state -> code_verifier
        self._lock = threading.RLock()

    @property
    def token(self) -> Token | None:
        return self._token

    # -- token endpoint -----------------------------------------------------------------------------------

    def _request_token(self, transport: TokenTransport, form: dict[str, str], *, retry: bool = False) -> Token:
        basic = None
        if self._client_secret:
            basic = (self.client_id, self._client_secret)  # RFC 6749 2.3.1: HTTP Basic
        else:
            form["client_id"] = self.client_id  # a public client identifies itself in the body
        payload = transport._post_token(self.token_url, form=form, basic_auth=basic, retry=retry)
        token = token_from_response(payload, self._token if form.get("grant_type") == "refresh_token" else None)
        self._token = token
        return token

    def _client_credentials(self, transport: TokenTransport) -> Token:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        # Safe to repeat: no grant is used up by a lost answer.
        return self._request_token(transport, form, retry=True)

    def _refresh(self, transport: TokenTransport) -> Token:
        assert self._token is not None and self._token.refresh_token
        return self._request_token(transport, {"grant_type": "refresh_token", "refresh_token": self._token.refresh_token})

    def _renew(self, transport: TokenTransport) -> bool:
        if self._token is not None and self._token.refresh_token:
            self._refresh(transport)
            return True
        if self.grant_type == "client_credentials":
            self._client_credentials(transport)
            return True
        return False

    def bearer(self, transport: TokenTransport) -> str:
        with self._lock:
            if self._token is None:
                if self.grant_type != "client_credentials":
                    raise AuthenticationError(
                        "No OAuth token yet: send the person to client.authorization_url(), then call "
                        "client.fetch_token(code=..., state=...) with what the redirect brings back.")
                self._client_credentials(transport)
            elif self._token.needs_renewal():
                self._renew(transport)
            assert self._token is not None
            return self._token.access_token

    def renew_after_unauthorized(self, transport: TokenTransport, used: str) -> bool:
        with self._lock:
            if self._token is not None and self._token.access_token != used:
                return True  # another thread renewed meanwhile
            return self._renew(transport)

    # -- authorization code with PKCE --------------------------------------------------------------------

    def authorization_url(self, scope: str | Sequence[str] | None = None) -> tuple[str, str]:
        if self.grant_type != "authorization_code":
            raise ConfigurationError("authorization_url() is for the authorization-code grant: give oauth_config a redirect_uri.")
        assert self.redirect_uri is not None
        state = secrets.token_urlsafe(32)
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        scopes = _scope_string(scope) or self.scope
        if scopes:
            params["scope"] = scopes
        with self._lock:
            while len(self._pending) >= MAX_PENDING_AUTHORIZATIONS:
                self._pending.pop(next(iter(self._pending)))
            self._pending[state] = verifier
        separator = "&" if urllib.parse.urlsplit(self.authorize_url).query else "?"
        return self.authorize_url + separator + urllib.parse.urlencode(params, quote_via=urllib.parse.quote), state

    def code_verifier(self, state: str) -> str | None:
        """The PKCE verifier of a pending authorization, for apps that finish it in another process."""
        with self._lock:
            return self._pending.get(state)

    def fetch_token(self, transport: TokenTransport, code: str, state: str, code_verifier: str | None) -> Token:
        if self.grant_type != "authorization_code":
            raise ConfigurationError("fetch_token() is for the authorization-code grant: give oauth_config a redirect_uri.")
        if not code:
            raise OAuthError("The redirect brought no authorization code.", code="invalid_request")
        with self._lock:
            if code_verifier is None:
                match = next((s for s in list(self._pending) if hmac.compare_digest(s.encode(), state.encode())), None)
                if match is None:
                    raise OAuthError("The state does not match any authorization this client started; refusing the "
                                     "code (a forged or replayed redirect).", code="invalid_state")
                code_verifier = self._pending.pop(match)
            assert self.redirect_uri is not None
            form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                    "code_verifier": code_verifier}
            # Not retried: a code is good for one exchange.
            return self._request_token(transport, form)


# -- JWT ---------------------------------------------------------------------------------------------------


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it (the server verifies; this only times renewal)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class JWTCredential:
    kind = "jwt"

    def __init__(self, access: str, refresh: str | None, refresh_url: str) -> None:
        if not isinstance(access, str) or not access or any(c.isspace() for c in access) or not access.isascii():
            raise ConfigurationError("jwt_token must be a non-empty ASCII string without spaces.")
        self.refresh_url = refresh_url
        self._token = self._as_token(access, refresh)
        self._lock = threading.RLock()

    @staticmethod
    def _as_token(access: str, refresh: str | None) -> Token:
        expires_at = jwt_expiry(access)
        return Token(access_token=access, refresh_token=refresh, expires_at=expires_at,
                     renew_at=_renew_at(expires_at, time.time()) if refresh else None)

    @property
    def token(self) -> Token | None:
        return self._token

    def _refresh(self, transport: TokenTransport) -> None:
        assert self._token.refresh_token
        payload = transport._post_token(self.refresh_url, json_body={"refresh": self._token.refresh_token})
        access = payload.get("access")
        if not isinstance(access, str) or not access:
            raise AuthenticationError("The JWT refresh endpoint answered without an access token.")
        refresh = payload.get("refresh")
        self._token = self._as_token(access, refresh if isinstance(refresh, str) and refresh else self._token.refresh_token)

    def bearer(self, transport: TokenTransport) -> str:
        with self._lock:
            if self._token.refresh_token and self._token.needs_renewal():
                self._refresh(transport)
            return self._token.access_token

    def renew_after_unauthorized(self, transport: TokenTransport, used: str) -> bool:
        with self._lock:
            if self._token.access_token != used:
                return True
            if not self._token.refresh_token:
                return False
            self._refresh(transport)
            return True
