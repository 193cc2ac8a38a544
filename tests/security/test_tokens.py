"""The token rows of the security checklist (../shared/SECURITY-CHECKLIST.md, "Sessions and tokens",
7.4.1, 7.4.2, 6.3.3), one test or table per row. Every refusal on the API is a 401 with the API's JSON
error body (type authentication_error).

    9.1.1  verify token signatures              9.1.2  allow only the configured algorithm
    9.1.3  never take keys from the token       9.2.1  enforce exp and nbf
    9.2.2  enforce token type                   9.2.3  check the audience (and the issuer)
    10.4.1 match redirect URIs exactly          10.4.2 use authorization codes once
    10.4.4 refuse implicit and password grants  10.4.5 rotate refresh tokens and detect reuse
    10.4.6 require PKCE S256                    10.3.2 enforce token scopes
    7.4.1  end credentials at logout            7.4.2  end everything of a disabled person
    6.3.3  enforce MFA                          14.2.1 keep secrets out of URLs
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.test import Client
from jwcrypto import jwk as jwcrypto_jwk
from oauth2_provider.models import AccessToken, Grant
from rest_framework.test import APIClient

from tests.support.oauth import (
    PASSWORD,
    REDIRECT_URI,
    authorization_code,
    authorize_url,
    browser_for,
    client_credentials,
    code_flow,
    consent,
    exchange,
    introspect,
    make_application,
    person,
    pkce_pair,
    query_of,
    refresh,
    revoke,
    sign_in,
    token_request,
    totp_code,
    totp_device,
)
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def refused(response):
    """A 401 with the API's error body."""
    assert response.status_code == 401, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["type"] == "authentication_error"
    assert {"code", "message", "request_id"} <= set(error)
    assert response["WWW-Authenticate"].startswith("Bearer")
    return error


def me(token):
    return api_client(token).get("/api/v1/me")


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header, claims):
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def jwt_pair(member, **extra):
    response = APIClient().post("/api/v1/auth/token", {"email": member.user.email, "password": PASSWORD,
                                                       "organization": member.organization_id, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def claims_of(token):
    return pyjwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def access(tenant):
    """A developer's valid JWT access token, and its claims."""
    token = jwt_pair(person(tenant, "developer"))["access"]
    assert me(token).status_code == 200
    return token, claims_of(token)


JWT_KEY = django_settings.SIMPLE_JWT["SIGNING_KEY"]


def oidc_public_pem():
    private = serialization.load_pem_private_key(django_settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"].encode(), None)
    return private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def attacker_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# 9.1.1 verify token signatures


@pytest.mark.parametrize("segment", [1, 2])
@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
def test_one_tampered_byte_is_refused(access, segment, where):
    token, _ = access
    parts = token.split(".")
    position = int(len(parts[segment]) * where)
    char = parts[segment][position]
    parts[segment] = parts[segment][:position] + ("A" if char != "A" else "B") + parts[segment][position + 1:]
    refused(me(".".join(parts)))


def test_claims_changed_without_the_key_are_refused(access, tenant):
    token, claims = access
    header, _, signature = token.split(".")
    promoted = {**claims, "scope": "org:admin audit:read", "member": tenant.member("admin").id}
    refused(me(f"{header}.{b64(json.dumps(promoted).encode())}.{signature}"))


# 9.1.2 allow only the configured algorithm


def _algorithm_confusion_tokens(claims):
    none_header = {"alg": "none", "typ": "JWT"}
    rs_to_hs = unsigned({"alg": "HS256", "typ": "JWT"}, claims)
    rs_to_hs_signature = hmac.new(oidc_public_pem(), rs_to_hs.encode(), hashlib.sha256).digest()
    return {
        "alg none, no signature": unsigned(none_header, claims) + ".",
        "alg None": unsigned({"alg": "None", "typ": "JWT"}, claims) + ".",
        "alg none, signature kept": unsigned(none_header, claims) + "." + b64(b"x" * 32),
        "RS256 -> HS256 with the OIDC public key as secret": f"{rs_to_hs}.{b64(rs_to_hs_signature)}",
        "HS512 with the right key": pyjwt.encode(claims, JWT_KEY, algorithm="HS512"),
        "HS384 with the right key": pyjwt.encode(claims, JWT_KEY, algorithm="HS384"),
        "RS256 with the server's OIDC key": pyjwt.encode(
            claims, django_settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"], algorithm="RS256"),
    }


@pytest.mark.parametrize("case", list(_algorithm_confusion_tokens({"sub": "x"})))
def test_only_the_configured_algorithm_is_accepted(access, case):
    _, claims = access
    refused(me(_algorithm_confusion_tokens(claims)[case]))


# 9.1.3 never take keys from the token


def test_a_token_carrying_its_own_key_is_refused(access):
    _, claims = access
    attacker = attacker_rsa_key()
    attacker_pem = attacker.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
    public_jwk = json.loads(jwcrypto_jwk.JWK.from_pem(attacker_pem).export_public())
    attacker_secret = "attacker-chosen-secret-with-enough-length-0123456789"
    oct_jwk = {"kty": "oct", "k": b64(attacker_secret.encode())}
    tokens = [
        pyjwt.encode(claims, attacker_pem, algorithm="RS256", headers={"jwk": public_jwk}),
        pyjwt.encode(claims, attacker_pem, algorithm="RS256", headers={"jku": "https://attacker.example/jwks.json"}),
        pyjwt.encode(claims, attacker_pem, algorithm="RS256", headers={"x5u": "https://attacker.example/cert.pem"}),
        pyjwt.encode(claims, attacker_secret, algorithm="HS256", headers={"jwk": oct_jwk}),
        pyjwt.encode(claims, attacker_secret, algorithm="HS256", headers={"jku": "https://attacker.example/jwks.json",
                                                                          "kid": "attacker"}),
    ]
    for token in tokens:
        refused(me(token))


# 9.2.1 enforce exp and nbf (signed with the real key: only the times are wrong)


@pytest.mark.parametrize("change", [
    {"exp": -60},               # expired a minute ago
    {"exp": -1},                # just expired (no leeway)
    {"nbf": +3600},             # not valid for an hour
    {"exp": None},              # no expiry at all
])
def test_expired_and_not_yet_valid_tokens_are_refused(access, change):
    _, claims = access
    now = int(time.time())
    forged = dict(claims)
    for claim, offset in change.items():
        if offset is None:
            forged.pop(claim)
        else:
            forged[claim] = now + offset
    refused(me(pyjwt.encode(forged, JWT_KEY, algorithm="HS256")))


def test_a_token_stops_at_its_expiry(access, monkeypatch):
    token, claims = access
    later = dt.datetime.fromtimestamp(claims["exp"] + 1, tz=dt.timezone.utc)

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return later

    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", Later)  # PyJWT's clock
    refused(me(token))


# 9.2.3 check the audience and the issuer; 9.2.2 enforce the token type


@pytest.mark.parametrize("change", [
    {"aud": "another-api"},
    {"aud": ["another-api"]},
    {"aud": None},
    {"iss": "https://attacker.example"},
    {"iss": None},
    {"token_type": "refresh"},
    {"token_type": None},
])
def test_wrong_audience_issuer_or_type_is_refused(access, change):
    _, claims = access
    forged = dict(claims)
    for claim, value in change.items():
        if value is None:
            forged.pop(claim)
        else:
            forged[claim] = value
    refused(me(pyjwt.encode(forged, JWT_KEY, algorithm="HS256")))


def test_a_correctly_forged_token_would_pass(access):
    """The control for the tables above: the same claims, signed the way the server signs, work."""
    _, claims = access
    assert me(pyjwt.encode(claims, JWT_KEY, algorithm="HS256")).status_code == 200


def test_a_refresh_token_is_not_a_bearer_credential(tenant):
    pair = jwt_pair(person(tenant, "developer"))
    refused(me(pair["refresh"]))


def test_an_oauth_refresh_token_is_not_a_bearer_credential(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret)
    refused(me(token["refresh_token"]))


def test_an_oidc_id_token_is_not_a_bearer_credential(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret, scope="openid connectors:read")
    assert token["id_token"].count(".") == 2
    refused(me(token["id_token"]))


# 10.4.1 match redirect URIs exactly: refused on an error page, never a redirect to the given URI


@pytest.mark.parametrize("redirect_uri", [
    REDIRECT_URI + "x",                            # extra suffix
    REDIRECT_URI + "/evil",                        # extra path
    REDIRECT_URI + "?next=https://attacker.example",  # extra query
    REDIRECT_URI + "#",                            # empty fragment
    "http://app.example.com/callback",             # http instead of https
    "https://app.example.com:8443/callback",       # another port
    "https://app.example.com.attacker.example/callback",
    "https://attacker.example@app.example.com/callback",
    "https://APP.example.com/Callback",            # path case differs
    "https://attacker.example/callback",
])
def test_a_redirect_uri_that_is_not_exactly_registered_is_refused_without_redirecting(tenant, redirect_uri):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    response = browser_for(developer.user).get(authorize_url(application, challenge=pkce_pair()[1], redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert not response.has_header("Location")
    assert "cannot be authorized" in response.content.decode()
    assert not Grant.objects.exists()


def test_the_token_exchange_needs_the_same_redirect_uri(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant, redirect_uris=[REDIRECT_URI, "https://app.example.com/other"])
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
    response = exchange(application, secret, code, verifier, redirect_uri="https://app.example.com/other")
    assert response.status_code == 400
    assert not AccessToken.objects.exists()


def test_a_tampered_redirect_uri_in_the_consent_form_is_refused(tenant):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    _, answer = consent(browser_for(developer.user), application, challenge=pkce_pair()[1],
                        tamper={"redirect_uri": "https://attacker.example/callback"})
    assert answer.status_code == 400 and not answer.has_header("Location")
    assert not Grant.objects.exists()


# 10.4.2 use authorization codes once


def test_a_second_exchange_is_refused_and_revokes_the_first_exchanges_tokens(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, scope="openid connectors:read",
                                 challenge=challenge)
    first = exchange(application, secret, code, verifier)
    assert first.status_code == 200
    first = first.json()
    assert me(first["access_token"]).status_code == 200

    second = exchange(application, secret, code, verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    refused(me(first["access_token"]))
    assert refresh(application, secret, first["refresh_token"]).status_code == 400
    assert introspect(application, secret, first["access_token"]).json() == {"active": False}


def test_a_replayed_code_also_revokes_tokens_already_refreshed(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
    first = exchange(application, secret, code, verifier).json()
    rotated = refresh(application, secret, first["refresh_token"]).json()
    assert exchange(application, secret, code, verifier).status_code == 400
    refused(me(rotated["access_token"]))
    assert refresh(application, secret, rotated["refresh_token"]).status_code == 400


def test_a_redeemed_code_cannot_be_presented_in_its_stored_form(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
    exchange(application, secret, code, verifier)
    stored = Grant.objects.get(application=application).code
    assert stored != code
    assert exchange(application, secret, stored, verifier).status_code == 400


def test_another_applications_code_is_refused(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    other, other_secret = make_application(tenant, name="Other")
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
    assert exchange(other, other_secret, code, verifier).status_code == 400
    assert exchange(application, secret, code, verifier).status_code == 200  # the rightful client still can


# 10.4.4 refuse implicit and password grants


def test_implicit_and_password_grants_are_refused(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    implicit = browser_for(developer.user).get(authorize_url(application, response_type="token", challenge=pkce_pair()[1]))
    assert implicit.status_code in (302, 400)
    assert "access_token" not in implicit.get("Location", "")
    password = token_request({"grant_type": "password", "username": developer.user.email, "password": PASSWORD},
                             application, secret)
    assert password.status_code == 400 and "access_token" not in password.json()
    assert not AccessToken.objects.exists()


# 10.4.5 rotate refresh tokens and detect reuse


def test_refresh_reuse_is_refused_and_revokes_the_family(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    first = code_flow(browser_for(developer.user), application, secret)
    rotated = refresh(application, secret, first["refresh_token"]).json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert refresh(application, secret, first["refresh_token"]).status_code == 400
    refused(me(rotated["access_token"]))
    assert refresh(application, secret, rotated["refresh_token"]).status_code == 400


def test_jwt_refresh_reuse_is_refused_and_ends_the_session(tenant):
    pair = jwt_pair(person(tenant, "developer"))
    rotated = APIClient().post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json").json()
    refused(APIClient().post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json"))
    refused(me(rotated["access"]))


# 10.4.6 require PKCE S256


@pytest.mark.parametrize("challenge,method", [
    (None, None),          # no PKCE at all
    ("x" * 43, "plain"),   # plain
    ("x" * 43, None),      # a challenge without a method means plain
    ("x" * 43, "S512"),    # unknown
])
def test_pkce_s256_is_required(tenant, challenge, method):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    response = browser_for(developer.user).get(authorize_url(application, challenge=challenge, method=method, state="st"))
    assert response.status_code == 302, "refused before the consent page"
    assert response["Location"].startswith(REDIRECT_URI + "?")
    query = query_of(response["Location"])
    assert query["error"] == "invalid_request" and query["state"] == "st" and "code" not in query
    assert not Grant.objects.exists()


def test_pkce_plain_smuggled_into_the_consent_form_is_refused(tenant):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    _, answer = consent(browser_for(developer.user), application, challenge=pkce_pair()[1],
                        tamper={"code_challenge": "y" * 43, "code_challenge_method": "plain"})
    assert "code" not in query_of(answer["Location"])
    assert not Grant.objects.exists()


def test_a_code_needs_its_verifier(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant, client_type="public")
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
    assert token_request({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
                         application).status_code == 400
    assert exchange(application, None, code, pkce_pair()[0]).status_code == 400
    assert not AccessToken.objects.exists()


# Revoked tokens: inactive at introspection, 401 on the API


def test_revoked_oauth_tokens_are_inactive_and_refused(tenant):
    application, secret = make_application(tenant, grant_types=["client-credentials"], redirect_uris=[],
                                           allowed_scopes=["connectors:read"])
    token = client_credentials(application, secret).json()["access_token"]
    assert me(token).status_code == 200
    assert revoke(application, secret, token).status_code == 200
    refused(me(token))
    assert introspect(application, secret, token).json() == {"active": False}


# 10.3.2 enforce token scopes: a read-only token on a write route


@pytest.mark.parametrize("kind", ["api_key", "oauth", "jwt"])
def test_a_read_only_token_on_a_write_route_is_403_naming_the_scope(tenant, kind):
    client = tenant.client("developer", scopes=["connectors:read"], kind=kind)
    assert client.get("/api/v1/connectors").status_code == 200
    response = client.post("/api/v1/connectors", {"name": "x", "type": "csv"}, format="json")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "permission_error" and error["required_scope"] == "connectors:write"
    assert "connectors:write" in error["message"]


def test_a_read_only_oauth_grant_on_a_write_route_is_403(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret, scope="connectors:read")
    response = api_client(token["access_token"]).post("/api/v1/connectors", {"name": "x", "type": "csv"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["required_scope"] == "connectors:write"


# 14.2.1 keep secrets out of URLs


def test_tokens_in_the_query_string_are_refused(tenant):
    application, secret = make_application(tenant, grant_types=["client-credentials"], redirect_uris=[],
                                           allowed_scopes=["connectors:read"])
    oauth_token = client_credentials(application, secret).json()["access_token"]
    jwt_token = jwt_pair(person(tenant, "developer"))["access"]
    for token in (oauth_token, jwt_token):
        refused(APIClient().get("/api/v1/me", {"access_token": token}))
        refused(api_client(token).get("/api/v1/me", {"access_token": token}))


# Malformed bearer values


@pytest.mark.parametrize("value", [
    "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer oat_", "Bearer oat_unknown", "Bearer a.b.c", "Bearer ..",
    "Bearer eyJhbGciOiJIUzI1NiJ9.e30.", "Bearer sk_test_nope", "Token abc",
])
def test_malformed_credentials_are_401_with_the_error_body(value):
    refused(APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=value))


# 6.3.3 enforce MFA: the password alone gives no session and no token to a member with a device


def test_password_alone_gives_no_session_or_token_to_a_member_with_a_device(tenant):
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    browser = Client()
    page = sign_in(browser, developer.user.email)
    assert page.status_code == 302 and page["Location"].startswith("/login/verify")
    assert "_auth_user_id" not in browser.session
    assert browser.get("/account").status_code == 302
    response = APIClient().post("/api/v1/auth/token", {"email": developer.user.email, "password": PASSWORD,
                                                       "organization": tenant.org.id}, format="json")
    assert response.status_code == 401 and response.json()["error"]["code"] == "mfa_required"
    assert browser_for(developer.user, otp=totp_code(device)).get("/account").status_code == 200


# 7.4.1 end credentials at logout; 7.4.2 end everything of a disabled person (with the credential cache on)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("credential_cache_on")
class TestEndOfCredentials:
    @staticmethod
    def warm(token):
        for _ in range(2):
            assert me(token).status_code == 200
        return token

    def credentials_of(self, tenant, member):
        application, secret = make_application(tenant)
        oauth = code_flow(browser_for(member.user), application, secret)
        return {
            "api key": self.warm(tenant.key(member.role)),
            "jwt": self.warm(jwt_pair(member)["access"]),
            "oauth": self.warm(oauth["access_token"]),
        }, (application, secret, oauth)

    def test_a_disabled_person_loses_every_credential(self, tenant):
        developer = person(tenant, "developer")
        credentials, (application, secret, oauth) = self.credentials_of(tenant, developer)
        developer.user.is_active = False
        developer.user.save()
        for kind, token in credentials.items():
            refused(me(token))
        assert refresh(application, secret, oauth["refresh_token"]).status_code == 400
        assert Client().post("/login", {"email": developer.user.email, "password": PASSWORD}).status_code != 302

    def test_a_removed_member_loses_every_credential(self, tenant):
        developer = person(tenant, "developer")
        credentials, _ = self.credentials_of(tenant, developer)
        assert tenant.client("admin", livemode=True).delete(f"/api/v1/members/{developer.id}").status_code == 204
        for kind, token in credentials.items():
            refused(me(token))

    def test_logout_ends_the_browser_session_and_the_jwt_session(self, tenant):
        developer = person(tenant, "developer")
        browser = browser_for(developer.user)
        old_cookie = browser.cookies["sessionid"].value
        assert browser.get("/account").status_code == 200
        assert browser.post("/logout").status_code == 200
        stale = Client()
        stale.cookies["sessionid"] = old_cookie
        assert stale.get("/account").status_code == 302

        pair = jwt_pair(developer)
        self.warm(pair["access"])
        assert APIClient().post("/api/v1/auth/token/revoke", {"refresh": pair["refresh"]}, format="json").status_code == 204
        refused(me(pair["access"]))
        refused(APIClient().post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json"))

    def test_revoking_an_oauth_token_ends_it_on_the_next_request(self, tenant):
        developer = person(tenant, "developer")
        application, secret = make_application(tenant)
        token = code_flow(browser_for(developer.user), application, secret)
        self.warm(token["access_token"])
        revoke(application, secret, token["access_token"])
        refused(me(token["access_token"]))

    def test_a_replayed_code_ends_warm_tokens(self, tenant):
        developer = person(tenant, "developer")
        application, secret = make_application(tenant)
        verifier, challenge = pkce_pair()
        code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
        first = exchange(application, secret, code, verifier).json()
        self.warm(first["access_token"])
        assert exchange(application, secret, code, verifier).status_code == 400
        refused(me(first["access_token"]))
