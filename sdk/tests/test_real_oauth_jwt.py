"""Real-platform flows for OAuth 2.0, JWT and Idempotency-Key. The client side of every flow is also
tested against our own token server in test_oauth_jwt.py; these check that the SDK and the real
endpoints agree on the contract:

- POST /api/v1/auth/token           {"email","password","organization","otp"?} -> {"access","refresh"}
- POST /api/v1/auth/token/refresh   {"refresh"} -> {"access","refresh"} (rotating)
- POST /oauth/token/                client_credentials (Basic), authorization_code + PKCE S256, refresh_token
- GET  /oauth/authorize/            response_type=code, client_id, redirect_uri, scope, state, code_challenge
- Idempotency-Key on POST: the same key and body answer the first response again.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from openpaas_sdk import AuthenticationError, OAuthError, OpenPaaSClient, OpenPaaSError
from servers import Platform, hidden_inputs

REDIRECT_URI = "https://app.example/callback"


# -- helpers ---------------------------------------------------------------------------------------------


def register_oauth_client(platform: Platform, *, confidential: bool, scopes: list[str]) -> dict[str, str]:
    """Register an OAuth client for the test organization through POST /api/v1/oauth-applications;
    returns the created application (``client_id``, and ``client_secret`` when confidential). A confidential
    one also has client credentials, so a Service member of the organization: only a live key may add it."""
    with OpenPaaSClient(api_key=platform.live_key if confidential else platform.test_key,
                        base_url=platform.base_url) as admin:
        grants = ["authorization-code", "client-credentials"] if confidential else ["authorization-code"]
        application = admin.oauth_applications.create(
            name="SDK tests " + secrets.token_hex(3), client_type="confidential" if confidential else "public",
            grant_types=grants, redirect_uris=[REDIRECT_URI], allowed_scopes=scopes)
    return application


def approve_as_person(platform: Platform, authorization_url: str) -> str:
    """Sign in as the organization owner at /login (password, then a backup code at /login/verify),
    approve ``authorization_url`` on the consent page, and return the redirect URL
    (``REDIRECT_URI?code=...&state=...``) without following it."""
    path = authorization_url.removeprefix(platform.base_url)
    with httpx.Client(base_url=platform.base_url, follow_redirects=False) as browser:
        page = browser.get("/login", params={"next": path})
        form = {**hidden_inputs(page.text), "email": str(platform.org["owner_email"]),
                "password": str(platform.org["password"]), "next": path}
        signed_in = browser.post("/login", data=form, headers={"Referer": f"{platform.base_url}/login"})
        assert signed_in.status_code == 302 and signed_in.headers["location"].startswith("/login/verify"), signed_in.text[:500]
        second_step = browser.get(signed_in.headers["location"])
        verified = browser.post(signed_in.headers["location"],
                                data={**hidden_inputs(second_step.text), "code": platform.backup_code()})
        assert verified.status_code == 302 and verified.headers["location"] == path, verified.text[:500]
        consent = browser.get(path)
        assert consent.status_code == 200, consent.text[:500]
        approval = browser.post(path, data={**hidden_inputs(consent.text), "allow": "Authorize"},
                                headers={"Referer": authorization_url})
        assert approval.status_code == 302, approval.text[:500]
        return approval.headers["location"]


# -- JWT ---------------------------------------------------------------------------------------------------


def owner_login(platform: Platform) -> OpenPaaSClient:
    org = platform.org
    return OpenPaaSClient.login(str(org["owner_email"]), str(org["password"]), str(org["organization"]),
                                otp=platform.backup_code(), base_url=platform.base_url)


def test_real_login_with_password_returns_a_working_jwt_client(platform: Platform) -> None:
    with owner_login(platform) as client:
        assert client.credential_kind == "jwt"
        me = client.me()
        assert me["organization"]["id"] == platform.org["organization"]
        assert me["member"]["email"] == platform.org["owner_email"]
        assert me["credential"]["kind"] != "api_key"


def test_real_login_with_a_wrong_password_is_an_authentication_error(platform: Platform) -> None:
    with pytest.raises(AuthenticationError):
        OpenPaaSClient.login(str(platform.org["owner_email"]), "not the password", str(platform.org["organization"]),
                             base_url=platform.base_url)


def test_real_login_without_the_second_factor_is_an_authentication_error(platform: Platform) -> None:
    with pytest.raises(AuthenticationError):
        OpenPaaSClient.login(str(platform.org["owner_email"]), str(platform.org["password"]),
                             str(platform.org["organization"]), base_url=platform.base_url)


def test_real_jwt_refresh_rotates_and_the_old_refresh_token_is_refused(platform: Platform) -> None:
    with owner_login(platform) as client:
        assert client.token is not None
        old_refresh = client.token.refresh_token
        client.token.renew_at = 0.0  # due now
        client.me()
        assert client.token.refresh_token and client.token.refresh_token != old_refresh
        replay = httpx.post(f"{platform.base_url}/api/v1/auth/token/refresh", json={"refresh": old_refresh})
        assert replay.status_code == 401


def test_real_jwt_with_a_garbage_token_is_refused(platform: Platform) -> None:
    with OpenPaaSClient(jwt_token="eyJhbGciOiJIUzI1NiIs.e30.bad", base_url=platform.base_url) as client:
        with pytest.raises(AuthenticationError):
            client.me()


# -- OAuth 2.0 ---------------------------------------------------------------------------------------------


def test_real_oauth_client_credentials_grant(platform: Platform) -> None:
    app = register_oauth_client(platform, confidential=True, scopes=["connectors:read"])
    config = {"client_id": app["client_id"], "client_secret": app["client_secret"], "scope": "connectors:read"}
    with OpenPaaSClient(oauth_config=config, base_url=platform.base_url) as client:
        assert client.me()["scopes"] == ["connectors:read"]
        list(client.connectors.list())


def test_real_oauth_wrong_client_secret_is_an_oauth_error(platform: Platform) -> None:
    app = register_oauth_client(platform, confidential=True, scopes=["connectors:read"])
    with OpenPaaSClient(oauth_config={"client_id": app["client_id"], "client_secret": "wrong"},
                        base_url=platform.base_url) as client:
        with pytest.raises(OAuthError) as caught:
            client.me()
    assert caught.value.code == "invalid_client"


def test_real_oauth_authorization_code_with_pkce(platform: Platform) -> None:
    app = register_oauth_client(platform, confidential=True, scopes=["connectors:read", "data:read"])
    config = {"client_id": app["client_id"], "client_secret": app["client_secret"], "redirect_uri": REDIRECT_URI}
    with OpenPaaSClient(oauth_config=config, base_url=platform.base_url) as client:
        url, state = client.authorization_url(scope=["connectors:read", "data:read"])
        redirect = dict(parse_qsl(urlsplit(approve_as_person(platform, url)).query))
        assert redirect["state"] == state
        client.fetch_token(code=redirect["code"], state=redirect["state"])
        assert set(client.me()["scopes"]) <= {"connectors:read", "data:read"}
        # the code was single use
        with pytest.raises(OAuthError):
            client.fetch_token(code=redirect["code"], state=state, code_verifier="x" * 43)


def test_real_oauth_code_with_the_wrong_verifier_is_refused(platform: Platform) -> None:
    app = register_oauth_client(platform, confidential=True, scopes=["connectors:read"])
    config = {"client_id": app["client_id"], "client_secret": app["client_secret"], "redirect_uri": REDIRECT_URI}
    with OpenPaaSClient(oauth_config=config, base_url=platform.base_url) as client:
        url, state = client.authorization_url(scope="connectors:read")
        redirect = dict(parse_qsl(urlsplit(approve_as_person(platform, url)).query))
        with pytest.raises(OAuthError) as caught:
            client.fetch_token(code=redirect["code"], state=state, code_verifier="wrong" * 10)
    assert caught.value.code == "invalid_grant"


def test_real_oauth_refresh_token_rotation(platform: Platform) -> None:
    app = register_oauth_client(platform, confidential=True, scopes=["connectors:read"])
    config = {"client_id": app["client_id"], "client_secret": app["client_secret"], "redirect_uri": REDIRECT_URI}
    with OpenPaaSClient(oauth_config=config, base_url=platform.base_url) as client:
        url, state = client.authorization_url(scope="connectors:read")
        redirect = dict(parse_qsl(urlsplit(approve_as_person(platform, url)).query))
        client.fetch_token(code=redirect["code"], state=state)
        assert client.token is not None
        first_refresh = client.token.refresh_token
        client.token.renew_at = 0.0
        client.me()
        assert client.token.refresh_token != first_refresh
    # the rotated-out refresh token no longer works
    with OpenPaaSClient(oauth_config={**config, "refresh_token": str(first_refresh)}, base_url=platform.base_url) as stale:
        with pytest.raises(OAuthError) as caught:
            stale.me()
    assert caught.value.code == "invalid_grant"


# -- Idempotency-Key ---------------------------------------------------------------------------------------


def test_real_idempotent_post_replays_the_first_response(platform: Platform) -> None:
    key = "sdk-idem-" + secrets.token_hex(8)
    with OpenPaaSClient(api_key=platform.test_key, base_url=platform.base_url) as client:
        first = client.datasets.create(name="once", idempotency_key=key)
        again = client.datasets.create(name="once", idempotency_key=key)
        assert again == first  # the same object, not a second one
        assert sum(1 for d in client.datasets.list(limit=100) if d["id"] == first["id"]) == 1
        with pytest.raises(OpenPaaSError) as caught:  # the same key with another body is refused
            client.datasets.create(name="different", idempotency_key=key)
        assert caught.value.status in (400, 409, 422)
        client.datasets.delete(first["id"])


def test_the_readme_s_client_credentials_steps_work_as_written(platform: Platform) -> None:
    """README: make the application once with a live Admin key, then a client-credentials client."""
    with OpenPaaSClient(api_key=platform.live_key, base_url=platform.base_url) as admin:
        app = admin.oauth_applications.create(
            name="Nightly sync", client_type="confidential", grant_types=["client_credentials"],
            redirect_uris=[], allowed_scopes=["connectors:read"])
    client_id, client_secret = app["client_id"], app["client_secret"]
    with OpenPaaSClient(oauth_config={"client_id": client_id, "client_secret": client_secret,
                                      "scope": "connectors:read"}, base_url=platform.base_url) as client:
        assert isinstance(list(client.connectors.list()), list)
        assert client.token is not None and client.token.access_token.startswith("oat_")
