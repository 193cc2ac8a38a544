"""A small token server of our own playing the OAuth 2.0 and JWT contract the platform is getting:

- ``POST /oauth/token/``: client_credentials (HTTP Basic), authorization_code with PKCE S256 (codes are
  single use), refresh_token with rotation (an old refresh token is ``invalid_grant``); RFC 6749 errors.
- ``POST /api/v1/auth/token`` (email, password, organization, otp) and ``/api/v1/auth/token/refresh``
  (``{"refresh"}`` -> ``{"access", "refresh"}``, rotating).
- ``GET /api/v1/me``: 200 for a live access token, else the platform's 401 body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from servers import LocalServer, Recorded, Reply, local_server

CLIENT_ID = "app_sdk:test"  # a colon and a space below: Basic auth must form-encode them
CLIENT_SECRET = "s3cret with+special/chars%"
PERSON = {"email": "ada@example.com", "password": "correct horse battery staple", "organization": "org_1"}


def fake_jwt(exp: float) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'exp': int(exp), 'nonce': secrets.token_hex(4)})}.c2ln"


def oauth_error(status: int, error: str, description: str) -> Reply:
    return status, {"Cache-Control": "no-store"}, {"error": error, "error_description": description}


def api_401() -> Reply:
    return 401, {}, {"error": {"type": "authentication_error", "code": "invalid_token",
                               "message": "Invalid or expired token.", "request_id": "req_fake"}}


@dataclass
class TokenServer:
    expires_in: int = 3600
    jwt_lifetime: float = 300
    rotate_refresh: bool = True
    refuse_api: bool = False  # every API request 401, whatever the token
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> challenge, redirect_uri, client_id
    server: LocalServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def requests(self) -> list[Recorded]:
        assert self.server is not None
        return self.server.requests

    def paths(self) -> list[str]:
        return [r.path.split("?")[0] for r in self.requests]

    def approve(self, params: dict[str, str]) -> str:
        """What the authorize page does when the person agrees: a code bound to the PKCE challenge."""
        assert params["code_challenge_method"] == "S256" and params["response_type"] == "code"
        code = "code_" + secrets.token_urlsafe(8)
        self.codes[code] = {"challenge": params["code_challenge"], "redirect_uri": params["redirect_uri"],
                            "client_id": params["client_id"]}
        return code

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    # -- handlers --------------------------------------------------------------------------------------

    def _issue(self, with_refresh: bool, scope: str | None = None) -> Reply:
        access = "at_" + secrets.token_urlsafe(16)
        self.access_tokens.add(access)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in}
        if with_refresh:
            refresh = "rt_" + secrets.token_urlsafe(16)
            self.refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        if scope:
            body["scope"] = scope
        return 200, {"Cache-Control": "no-store"}, body

    def _client(self, request: Recorded, form: dict[str, str]) -> str | None:
        """The authenticated client id (confidential: Basic; public: client_id in the body)."""
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            client_id, secret = unquote_plus(user), unquote_plus(password)
            return client_id if (client_id, secret) == (CLIENT_ID, CLIENT_SECRET) else None
        return form.get("client_id") if form.get("client_id") == "public_app" else None

    def token_endpoint(self, request: Recorded) -> Reply:
        if request.headers.get("content-type") != "application/x-www-form-urlencoded":
            return oauth_error(400, "invalid_request", "Form-encoded bodies only.")
        form = request.form()
        client_id = self._client(request, form)
        if client_id is None:
            return oauth_error(401, "invalid_client", "Client authentication failed.")
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return self._issue(with_refresh=False, scope=form.get("scope"))
        if grant == "authorization_code":
            issued = self.codes.pop(form.get("code", ""), None)  # single use
            if issued is None or issued["client_id"] != client_id or issued["redirect_uri"] != form.get("redirect_uri"):
                return oauth_error(400, "invalid_grant", "Unknown or used code, or another redirect_uri.")
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != issued["challenge"]:
                return oauth_error(400, "invalid_grant", "PKCE verification failed.")
            return self._issue(with_refresh=True)
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh not in self.refresh_tokens:
                return oauth_error(400, "invalid_grant", "The refresh token is invalid or was rotated.")
            if self.rotate_refresh:
                self.refresh_tokens.discard(refresh)
            return self._issue(with_refresh=self.rotate_refresh)
        return oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}.")

    def _jwt_pair(self) -> Reply:
        access = fake_jwt(time.time() + self.jwt_lifetime)
        refresh = "jrt_" + secrets.token_urlsafe(16)
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return 200, {}, {"access": access, "refresh": refresh}

    def login(self, request: Recorded) -> Reply:
        body = request.json()
        if {k: body.get(k) for k in PERSON} != PERSON or body.get("otp", "123456") != "123456" \
                or set(body) - {*PERSON, "otp", "livemode", "scopes"}:
            return 401, {}, {"error": {"type": "authentication_error", "code": "invalid_credentials",
                                       "message": "Invalid email, password or code.", "request_id": "req_fake"}}
        return self._jwt_pair()

    def jwt_refresh(self, request: Recorded) -> Reply:
        refresh = request.json().get("refresh")
        if refresh not in self.refresh_tokens:
            return 401, {}, {"error": {"type": "authentication_error", "code": "token_not_valid",
                                       "message": "Token is invalid or expired.", "request_id": "req_fake"}}
        self.refresh_tokens.discard(refresh)
        return self._jwt_pair()

    def handle(self, request: Recorded) -> Reply:
        path = request.path.split("?")[0]
        if request.method == "POST" and path == "/oauth/token/":
            return self.token_endpoint(request)
        if request.method == "POST" and path == "/api/v1/auth/token":
            return self.login(request)
        if request.method == "POST" and path == "/api/v1/auth/token/refresh":
            return self.jwt_refresh(request)
        if path == "/api/v1/me":
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            valid = token in self.access_tokens and not self.refuse_api
            return (200, {}, {"object": "principal", "token": token}) if valid else api_401()
        return 404, {}, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                   "message": "No such resource.", "request_id": "req_fake"}}


@contextmanager
def token_server(**options: Any) -> Iterator[TokenServer]:
    fake = TokenServer(**options)
    with local_server(fake.handle) as server:
        fake.server = server
        yield fake
