"""OAuth metadata says what the server does, no more: the OpenID Connect discovery document and the RFC 8414
authorization server metadata name the same issuer as ID tokens and authorization responses (RFC 9207),
advertise RS256 only (the one algorithm ID tokens are signed with), list the revocation and introspection
endpoints, and name only the grants the token endpoint accepts. Application registration takes the RFC 7591
grant names as well as today's."""

import jwt as pyjwt
import pytest
from django.test import Client

from tests.support.oauth import (
    REDIRECT_URI,
    authorization_code,
    browser_for,
    client_credentials,
    code_flow,
    make_application,
    person,
    pkce_pair,
)

pytestmark = pytest.mark.django_db

OPENID = "/oauth/.well-known/openid-configuration"
RFC8414 = ("/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/oauth")
APPLICATIONS = "/api/v1/oauth-applications"
SERVED_GRANTS = ["authorization_code", "client_credentials", "refresh_token"]


def document(path):
    response = Client().get(path)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_openid_discovery_advertises_only_rs256():
    assert document(OPENID)["id_token_signing_alg_values_supported"] == ["RS256"]


def test_openid_discovery_lists_the_revocation_and_introspection_endpoints():
    data = document(OPENID)
    assert data["revocation_endpoint"] == "http://testserver/oauth/revoke_token/"
    assert data["introspection_endpoint"] == "http://testserver/oauth/introspect/"


def test_openid_discovery_names_the_grants_so_the_implicit_default_does_not_apply():
    # OpenID Connect Discovery: without grant_types_supported, ["authorization_code", "implicit"] is assumed.
    assert document(OPENID)["grant_types_supported"] == SERVED_GRANTS


@pytest.mark.parametrize("path", RFC8414)
def test_rfc8414_metadata_is_served_and_names_the_openid_issuer(path):
    data = document(path)
    openid = document(OPENID)
    assert data["issuer"] == openid["issuer"] == "http://testserver/oauth"
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert data[key] == openid[key], key
    assert data["revocation_endpoint"] == openid["revocation_endpoint"]
    assert data["introspection_endpoint"] == openid["introspection_endpoint"]
    assert data["response_types_supported"] == ["code"]
    assert data["grant_types_supported"] == SERVED_GRANTS
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert data["id_token_signing_alg_values_supported"] == ["RS256"]
    assert data["authorization_response_iss_parameter_supported"] is True
    assert "registration_endpoint" not in data, "no dynamic registration is offered"


@pytest.mark.parametrize("path", RFC8414)
def test_the_issuer_of_the_metadata_is_the_iss_of_authorization_responses_and_id_tokens(tenant, path):
    member = person(tenant, "developer")
    application, secret = make_application(tenant)
    browser = browser_for(member.user)
    _, query = authorization_code(browser, application, challenge=pkce_pair()[1])
    issuer = document(path)["issuer"]
    assert query["iss"] == issuer, "RFC 9207: a client compares iss with the metadata's issuer"
    token = code_flow(browser, application, secret, nonce="n-1")
    assert pyjwt.decode(token["id_token"], options={"verify_signature": False})["iss"] == issuer


def test_every_advertised_id_token_algorithm_is_one_the_keys_verify():
    jwks = document(document(OPENID)["jwks_uri"].replace("http://testserver", ""))
    assert {key["alg"] for key in jwks["keys"]} == set(document(OPENID)["id_token_signing_alg_values_supported"])


# Registration: the RFC 7591 grant names


def register(tenant, grant_types, **fields):
    body = {"name": "Partner portal", "client_type": "confidential", "grant_types": grant_types,
            "redirect_uris": [REDIRECT_URI], "allowed_scopes": ["connectors:read"], **fields}
    return tenant.client("admin", livemode=True).post(APPLICATIONS, body, format="json")


@pytest.mark.parametrize("grant_types,stored", [
    (["authorization_code"], ["authorization-code"]),
    (["client_credentials"], ["client-credentials"]),
    (["authorization_code", "client_credentials"], ["authorization-code", "client-credentials"]),
    (["authorization-code"], ["authorization-code"]),
    (["client-credentials"], ["client-credentials"]),
    (["authorization_code", "authorization-code"], ["authorization-code"]),
])
def test_registration_accepts_the_rfc_7591_grant_names_and_today_s(tenant, grant_types, stored):
    response = register(tenant, grant_types)
    assert response.status_code == 201, response.content
    assert response.json()["grant_types"] == stored


def test_an_application_registered_with_rfc_7591_names_really_gets_its_grants(tenant):
    created = register(tenant, ["client_credentials"], redirect_uris=[]).json()
    from accounts.models import OAuthApplication

    application = OAuthApplication.unscoped.get(pk=created["id"])
    response = client_credentials(application, created["client_secret"])
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("grant_types", [["implicit"], ["password"], ["refresh_token"], ["authorization code"],
                                         ["urn:ietf:params:oauth:grant-type:device_code"], ["AUTHORIZATION_CODE"]])
def test_registration_still_refuses_grants_it_does_not_offer(tenant, grant_types):
    response = register(tenant, grant_types)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_invalid"


def test_the_schema_documents_both_spellings(tenant):
    schema = tenant.client("admin").get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    request = schema["components"]["schemas"]["OAuthApplicationRequest"]
    enum = request["properties"]["grant_types"]["items"]
    enum = schema["components"]["schemas"][enum["$ref"].rsplit("/", 1)[-1]]["enum"] if "$ref" in enum else enum["enum"]
    assert set(enum) == {"authorization-code", "client-credentials", "authorization_code", "client_credentials"}


@pytest.mark.parametrize("path", (OPENID, *RFC8414))
def test_the_documents_name_the_client_authentication_methods_the_token_endpoint_takes(path):
    # Public clients (PKCE, no secret) authenticate with "none".
    assert sorted(document(path)["token_endpoint_auth_methods_supported"]) == [
        "client_secret_basic", "client_secret_post", "none"]
