"""OAuth 2.0 and JWT client behaviour against our own token server (tests/token_server.py), written to
the contract the platform is implementing. The same flows against the real platform wait in
test_real_oauth_jwt.py.pending."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import pytest

from openpaas_sdk import AuthenticationError, OAuthError, OpenPaaSClient
from token_server import CLIENT_ID, CLIENT_SECRET, PERSON, TokenServer, fake_jwt, token_server

MACHINE = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def person_config(fake: TokenServer, **extra: str) -> dict[str, str]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": "https://app.example/callback", **extra}


def sign_in(client: OpenPaaSClient, fake: TokenServer, scope: list[str] | None = None) -> None:
    """authorization_url -> the person approves -> the redirect's code and state -> fetch_token."""
    url, state = client.authorization_url(scope=scope)
    params = dict(parse_qsl(urlsplit(url).query))
    code = fake.approve(params)
    client.fetch_token(code=code, state=state)


# -- client credentials ----------------------------------------------------------------------------------


def test_client_credentials_grant_with_basic_auth() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config={**MACHINE, "scope": ["connectors:read", "data:read"]}, base_url=fake.url) as client:
            first = client.me()
            second = client.me()
    assert fake.paths() == ["/oauth/token/", "/api/v1/me", "/api/v1/me"]  # one token, reused
    token_request = fake.requests[0]
    assert token_request.form() == {"grant_type": "client_credentials", "scope": "connectors:read data:read"}
    user, _, password = base64.b64decode(token_request.headers["authorization"].removeprefix("Basic ")).decode().partition(":")
    assert (unquote_plus(user), unquote_plus(password)) == (CLIENT_ID, CLIENT_SECRET)
    assert first["token"] == second["token"]
    assert fake.requests[1].headers["authorization"] == f"Bearer {first['token']}"


def test_wrong_client_secret_is_an_oauth_error() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config={"client_id": CLIENT_ID, "client_secret": "wrong"}, base_url=fake.url) as client:
            with pytest.raises(OAuthError) as caught:
                client.me()
    error = caught.value
    assert isinstance(error, AuthenticationError)
    assert error.status == 401 and error.code == "invalid_client"
    assert "Client authentication failed" in str(error)
    assert fake.paths() == ["/oauth/token/"]  # no API request without a token


def test_client_credentials_token_renews_before_expiry() -> None:
    with token_server(expires_in=3600) as fake:
        with OpenPaaSClient(oauth_config=MACHINE, base_url=fake.url) as client:
            client.me()
            token = client.token
            assert token is not None and token.expires_at is not None and token.renew_at is not None
            assert token.expires_at - token.renew_at == pytest.approx(30)  # shortly before expiry
            token.renew_at = time.time() - 1  # as if an hour went by
            client.me()
    assert fake.paths() == ["/oauth/token/", "/api/v1/me", "/oauth/token/", "/api/v1/me"]
    assert fake.requests[1].headers["authorization"] != fake.requests[3].headers["authorization"]


def test_a_short_lived_token_renews_within_its_lifetime() -> None:
    with token_server(expires_in=10) as fake:
        with OpenPaaSClient(oauth_config=MACHINE, base_url=fake.url) as client:
            client.me()
            token = client.token
            assert token is not None and token.expires_at and token.renew_at
            assert token.expires_at - token.renew_at == pytest.approx(1)  # a tenth of 10 s, not 30 s


def test_a_401_renews_the_token_once_and_retries() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config=MACHINE, base_url=fake.url) as client:
            client.me()
            fake.revoke_access_tokens()  # the server forgot the token early
            assert client.me()["object"] == "principal"
    assert fake.paths() == ["/oauth/token/", "/api/v1/me", "/api/v1/me", "/oauth/token/", "/api/v1/me"]


def test_a_401_after_renewal_is_raised_not_looped() -> None:
    with token_server(refuse_api=True) as fake:
        with OpenPaaSClient(oauth_config=MACHINE, base_url=fake.url) as client:
            with pytest.raises(AuthenticationError) as caught:
                client.me()
    assert caught.value.status == 401 and caught.value.code == "invalid_token"
    assert fake.paths() == ["/oauth/token/", "/api/v1/me", "/oauth/token/", "/api/v1/me"]


# -- authorization code with PKCE ------------------------------------------------------------------------


def test_authorization_url_carries_pkce_and_state() -> None:
    with token_server() as fake:
        client = OpenPaaSClient(oauth_config=person_config(fake), base_url=fake.url)
        url, state = client.authorization_url(scope=["connectors:read", "data:read"])
        other_url, other_state = client.authorization_url()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{fake.url}/oauth/authorize/"
    params = dict(parse_qsl(parts.query))
    assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "https://app.example/callback"
    assert params["scope"] == "connectors:read data:read"
    assert params["state"] == state and len(state) >= 32
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43 and "=" not in params["code_challenge"]
    verifier = client.oauth_code_verifier(state)
    assert verifier is not None and 43 <= len(verifier) <= 128
    assert params["code_challenge"] == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert other_state != state and dict(parse_qsl(urlsplit(other_url).query))["code_challenge"] != params["code_challenge"]
    assert "client_secret" not in url and CLIENT_SECRET not in url


def test_authorization_code_flow_end_to_end() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config=person_config(fake), base_url=fake.url) as client:
            with pytest.raises(AuthenticationError, match="authorization_url"):
                client.me()  # no token before the person signs in
            sign_in(client, fake)
            assert client.me()["object"] == "principal"
            token = client.token
            assert token is not None and token.refresh_token and token.refresh_token.startswith("rt_")
            assert "rt_" not in repr(token) and token.access_token not in repr(token)
    exchange = fake.requests[0]
    form = exchange.form()
    assert form["grant_type"] == "authorization_code" and form["redirect_uri"] == "https://app.example/callback"
    assert "code_verifier" in form and "client_secret" not in form
    assert exchange.headers["authorization"].startswith("Basic ")


def test_a_state_that_this_client_did_not_issue_is_refused() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config=person_config(fake), base_url=fake.url) as client:
            url, state = client.authorization_url()
            code = fake.approve(dict(parse_qsl(urlsplit(url).query)))
            with pytest.raises(OAuthError) as caught:
                client.fetch_token(code=code, state="forged-" + state)
            assert caught.value.code == "invalid_state"
            client.fetch_token(code=code, state=state)
            with pytest.raises(OAuthError):  # a state is good for one redirect
                client.fetch_token(code=code, state=state)
    assert fake.paths() == ["/oauth/token/"]  # the forged and the replayed redirect sent nothing


def test_the_code_is_exchanged_with_the_verifier_of_its_own_state() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config=person_config(fake), base_url=fake.url) as client:
            url_a, state_a = client.authorization_url()
            url_b, state_b = client.authorization_url()
            code_a = fake.approve(dict(parse_qsl(urlsplit(url_a).query)))
            # A code from flow A presented with flow B's state: the server's PKCE check refuses it.
            with pytest.raises(OAuthError) as caught:
                client.fetch_token(code=code_a, state=state_b)
    assert caught.value.code == "invalid_grant" and "PKCE" in str(caught.value)


def test_a_public_client_identifies_itself_in_the_body() -> None:
    with token_server() as fake:
        config = {"client_id": "public_app", "redirect_uri": "https://app.example/callback"}
        with OpenPaaSClient(oauth_config=config, base_url=fake.url) as client:
            sign_in(client, fake)
            client.me()
    exchange = fake.requests[0]
    assert "authorization" not in exchange.headers and exchange.form()["client_id"] == "public_app"


def test_refresh_rotates_and_keeps_the_new_refresh_token() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config=person_config(fake), base_url=fake.url) as client:
            sign_in(client, fake)
            refresh_tokens = []
            for _ in range(3):
                token = client.token
                assert token is not None and token.refresh_token
                refresh_tokens.append(token.refresh_token)
                token.renew_at = 0.0  # due
                client.me()
    assert len(set(refresh_tokens)) == 3  # each refresh used the newest (the server refuses older ones)
    refreshes = [r.form() for r in fake.requests if r.path == "/oauth/token/" and r.form()["grant_type"] == "refresh_token"]
    assert [f["refresh_token"] for f in refreshes] == refresh_tokens


def test_a_refused_refresh_is_an_authentication_error() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config=person_config(fake), base_url=fake.url) as client:
            sign_in(client, fake)
            fake.refresh_tokens.clear()  # revoked at the server
            fake.revoke_access_tokens()
            with pytest.raises(OAuthError) as caught:
                client.me()
    assert caught.value.code == "invalid_grant" and isinstance(caught.value, AuthenticationError)


def test_resume_from_a_saved_refresh_token() -> None:
    with token_server() as fake:
        with OpenPaaSClient(oauth_config=person_config(fake), base_url=fake.url) as first:
            sign_in(first, fake)
            saved = first.token.refresh_token if first.token else None
        assert saved
        with OpenPaaSClient(oauth_config=person_config(fake, refresh_token=saved), base_url=fake.url) as later:
            assert later.me()["object"] == "principal"
    assert fake.requests[-2].form() == {"grant_type": "refresh_token", "refresh_token": saved}


# -- JWT ---------------------------------------------------------------------------------------------------


def test_login_returns_a_jwt_client() -> None:
    with token_server() as fake:
        with OpenPaaSClient.login(PERSON["email"], PERSON["password"], PERSON["organization"], otp="123456",
                                  base_url=fake.url) as client:
            assert client.credential_kind == "jwt"
            me = client.me()
    login = fake.requests[0]
    assert login.path == "/api/v1/auth/token" and login.json() == {**PERSON, "otp": "123456"}
    assert "authorization" not in login.headers
    assert fake.requests[1].headers["authorization"] == f"Bearer {me['token']}"


def test_login_sends_only_what_was_given() -> None:
    with token_server() as fake:
        with OpenPaaSClient.login(PERSON["email"], PERSON["password"], PERSON["organization"], base_url=fake.url):
            pass
        with OpenPaaSClient.login(PERSON["email"], PERSON["password"], PERSON["organization"], base_url=fake.url,
                                  livemode=True, scopes=["data:read"]):
            pass
    assert fake.requests[0].json() == PERSON  # no otp, livemode or scopes keys: the server refuses unknown ones
    assert fake.requests[1].json() == {**PERSON, "livemode": True, "scopes": ["data:read"]}


def test_a_wrong_password_is_an_authentication_error() -> None:
    with token_server() as fake:
        with pytest.raises(AuthenticationError) as caught:
            OpenPaaSClient.login(PERSON["email"], "wrong", PERSON["organization"], base_url=fake.url)
    assert caught.value.status == 401 and caught.value.code == "invalid_credentials"


def test_jwt_refreshes_on_401_and_keeps_the_rotated_refresh_token() -> None:
    with token_server() as fake:
        with OpenPaaSClient.login(PERSON["email"], PERSON["password"], PERSON["organization"], base_url=fake.url) as client:
            for _ in range(2):
                fake.revoke_access_tokens()
                assert client.me()["object"] == "principal"
    refreshes = [r for r in fake.requests if r.path == "/api/v1/auth/token/refresh"]
    assert len(refreshes) == 2
    first_pair = fake.requests[0]
    assert refreshes[0].json()["refresh"] != refreshes[1].json()["refresh"]  # rotated, and the new one kept
    assert first_pair.path == "/api/v1/auth/token"


def test_jwt_refreshes_before_its_exp() -> None:
    with token_server() as fake:
        fake.refresh_tokens.add("jrt_given")
        expired = fake_jwt(time.time() - 5)
        with OpenPaaSClient(jwt_token=expired, jwt_refresh_token="jrt_given", base_url=fake.url) as client:
            client.me()
    assert fake.paths() == ["/api/v1/auth/token/refresh", "/api/v1/me"]
    assert fake.requests[0].json() == {"refresh": "jrt_given"}


def test_jwt_without_refresh_token_raises_on_401_once() -> None:
    with token_server() as fake:
        with OpenPaaSClient(jwt_token=fake_jwt(time.time() + 60), base_url=fake.url) as client:
            with pytest.raises(AuthenticationError) as caught:
                client.me()
    assert caught.value.status == 401 and fake.paths() == ["/api/v1/me"]


def test_jwt_refresh_refused_is_raised_not_looped() -> None:
    with token_server() as fake:
        with OpenPaaSClient(jwt_token=fake_jwt(time.time() + 60), jwt_refresh_token="jrt_unknown",
                            base_url=fake.url) as client:
            with pytest.raises(AuthenticationError) as caught:
                client.me()
    assert caught.value.code == "token_not_valid"
    assert fake.paths() == ["/api/v1/me", "/api/v1/auth/token/refresh"]


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one() -> None:
    with token_server(rotate_refresh=False) as fake:
        with OpenPaaSClient(oauth_config=person_config(fake), base_url=fake.url) as client:
            sign_in(client, fake)
            assert client.token is not None
            original = client.token.refresh_token
            for _ in range(2):
                assert client.token is not None
                client.token.renew_at = 0.0
                client.me()
            assert client.token is not None and client.token.refresh_token == original
