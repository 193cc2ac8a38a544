"""OAuth 2.0 at its edges: applications without redirect URIs or with the longest names, grants the server
does not support, NUL characters where PostgreSQL cannot store them, silent (prompt=none) authorization,
userinfo with a client's own token, and tokens outliving what issued them (an application narrowed, a
member removed and added again).

Run on SQLite and on PostgreSQL: PostgreSQL refuses NUL characters in text, which SQLite stores silently."""

import base64
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, RefreshToken, set_token_value

from accounts.models import Member, OAuthApplication
from accounts.auth.oauth import new_access_token
from tests.support.oauth import (
    REDIRECT_URI,
    api_error,
    authorization_code,
    authorize_url,
    basic_auth,
    browser_for,
    client_credentials,
    code_flow,
    exchange,
    introspect,
    make_application,
    person,
    pkce_pair,
    query_of,
    refresh,
    token_request,
)
from tests.conftest import api_client

pytestmark = pytest.mark.django_db

APPLICATIONS = "/api/v1/oauth-applications"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def me(token):
    return api_client(token).get("/api/v1/me")


def service_application(tenant, **kwargs):
    return make_application(tenant, grant_types=["client-credentials"], redirect_uris=[],
                            allowed_scopes=["connectors:read", "data:read"], **kwargs)


def user_less_token(application, scope):
    """An access token as client credentials issue them, stored directly (as older tokens may be)."""
    raw = new_access_token()
    token = AccessToken(user=None, application=application, scope=scope, expires=timezone.now() + timedelta(hours=1))
    set_token_value(token, raw)
    token.save()
    return raw


# 1, 2: creating applications


def test_a_client_credentials_application_needs_no_redirect_uris(tenant):
    response = tenant.client("admin", livemode=True).post(APPLICATIONS, {
        "name": "Nightly sync", "client_type": "confidential", "grant_types": ["client-credentials"],
        "allowed_scopes": ["connectors:read"]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["redirect_uris"] == []
    assert OAuthApplication.unscoped.get(pk=response.json()["id"]).redirect_uris == ""


def test_the_longest_application_name_fits_its_service_member(tenant):
    name = "N" * 200
    response = tenant.client("admin", livemode=True).post(APPLICATIONS, {
        "name": name, "client_type": "confidential", "grant_types": ["client-credentials"],
        "allowed_scopes": ["connectors:read"]}, format="json")
    assert response.status_code == 201, response.content
    service = OAuthApplication.unscoped.get(pk=response.json()["id"]).service_member
    assert len(service.name) <= Member._meta.get_field("name").max_length
    assert service.name.startswith("NNN") and service.name.endswith(" (OAuth)")


# 3: grants outside the supported set


@pytest.mark.parametrize("data", [
    {"grant_type": DEVICE_CODE},
    {"grant_type": DEVICE_CODE, "device_code": "anything"},
    {"grant_type": "password", "username": "someone@example.com", "password": "x"},
    {"grant_type": "implicit"},
    {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x"},
    {"grant_type": "made-up"},
], ids=["device code without a code", "device code", "password", "implicit", "jwt bearer", "made up"])
def test_a_grant_the_server_does_not_support_is_unsupported_grant_type(tenant, data):
    application, secret = make_application(tenant)
    response = token_request(data, application, secret)
    assert response.status_code == 400, response.content
    assert response.json() == {"error": "unsupported_grant_type"}
    assert response["Cache-Control"] == "no-store"
    assert not AccessToken.objects.exists()


def test_a_device_code_grant_hidden_behind_a_supported_one_is_still_refused(tenant):
    application, secret = service_application(tenant)
    response = Client().post("/oauth/token/", f"grant_type=client_credentials&grant_type={DEVICE_CODE}",
                             content_type="application/x-www-form-urlencoded",
                             HTTP_AUTHORIZATION=basic_auth(application.client_id, secret))
    assert response.status_code == 400 and response.json() == {"error": "unsupported_grant_type"}


def test_the_supported_grants_still_work(tenant):
    application, secret = service_application(tenant)
    assert client_credentials(application, secret).status_code == 200
    assert token_request({}, application, secret).status_code == 400  # no grant_type: oauthlib's own answer


# 4: NUL characters

NUL_ID = "client\x00id"


def oauth_invalid_request(response):
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["error"] == "invalid_request" and body["error_description"]
    assert "\x00" not in response.content.decode()
    return body


@pytest.mark.parametrize("path", ["/oauth/token/", "/oauth/revoke_token/", "/oauth/introspect/"])
def test_a_nul_in_the_client_id_of_the_form_is_invalid_request(tenant, path):
    oauth_invalid_request(Client().post(path, {"grant_type": "client_credentials", "client_id": NUL_ID,
                                               "client_secret": "x", "token": "oat_x"}))


@pytest.mark.parametrize("path", ["/oauth/token/", "/oauth/revoke_token/", "/oauth/introspect/"])
@pytest.mark.parametrize("credentials", [f"{NUL_ID}:secret", "client%00id:secret", "client:se\x00cret"],
                         ids=["raw", "percent-encoded", "in the secret"])
def test_a_nul_in_http_basic_credentials_is_invalid_request(tenant, path, credentials):
    header = "Basic " + base64.b64encode(credentials.encode()).decode()
    oauth_invalid_request(Client().post(path, {"grant_type": "client_credentials", "token": "oat_x"},
                                        HTTP_AUTHORIZATION=header))


def test_a_nul_in_the_code_is_invalid_request(tenant):
    application, secret = make_application(tenant)
    verifier, _ = pkce_pair()
    oauth_invalid_request(token_request({"grant_type": "authorization_code", "code": "co\x00de",
                                         "code_verifier": verifier, "redirect_uri": REDIRECT_URI},
                                        application, secret))


def test_a_nul_in_the_authorize_query_string_is_invalid_request(tenant):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    browser = browser_for(developer.user)
    url = authorize_url(application, challenge=pkce_pair()[1]).replace(application.client_id, application.client_id + "%00")
    oauth_invalid_request(browser.get(url))
    assert not Grant.objects.exists()


def test_a_nul_in_an_api_query_string_is_a_400_naming_the_parameter(tenant):
    response = tenant.client("admin").get("/api/v1/connectors?limit=10&status=a%00b")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parameter_invalid" and list(error["details"]) == ["status"]
    assert error["request_id"] == response["X-Request-ID"]


def test_a_nul_in_a_page_form_is_a_400_page(tenant):
    response = Client().post("/login", {"email": "someone\x00@example.com", "password": "x"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


# 5: prompt=none


def test_prompt_none_for_a_signed_in_member_asks_for_consent(tenant):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    answer = browser_for(developer.user).get(
        authorize_url(application, scope="openid connectors:read", challenge=pkce_pair()[1], state="st", prompt="none"))
    assert answer.status_code == 302, answer.content[:500]
    assert answer["Location"].startswith(REDIRECT_URI + "?")
    query = query_of(answer["Location"])
    assert query["error"] == "consent_required" and query["state"] == "st"
    assert query["iss"] == "http://testserver/oauth"
    assert not Grant.objects.exists()


def test_prompt_none_without_a_session_is_login_required(tenant):
    application, _ = make_application(tenant)
    answer = Client().get(authorize_url(application, scope="openid connectors:read", challenge=pkce_pair()[1],
                                        state="st", prompt="none"))
    assert answer.status_code == 302
    assert answer["Location"].startswith(REDIRECT_URI + "?")
    assert query_of(answer["Location"])["error"] == "login_required"


# 6: userinfo and client credentials


def test_client_credentials_never_get_openid(tenant):
    application, secret = make_application(tenant, grant_types=["authorization-code", "client-credentials"],
                                           allowed_scopes=["connectors:read"])
    asked = client_credentials(application, secret, scope="openid connectors:read")
    assert asked.status_code == 400 and asked.json()["error"] == "invalid_scope"
    default = client_credentials(application, secret).json()
    assert default["scope"] == "connectors:read"


def test_userinfo_refuses_a_client_credentials_token(tenant):
    application, _ = make_application(tenant, grant_types=["authorization-code", "client-credentials"],
                                      allowed_scopes=["connectors:read"])
    token = user_less_token(application, "openid connectors:read")
    response = Client().get("/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "sub" not in response.content.decode()


# 7: the application's allowed scopes and grants bound every token


def test_narrowing_an_applications_scopes_narrows_its_tokens_at_once(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant, allowed_scopes=["connectors:read", "connectors:write"])
    token = code_flow(browser_for(developer.user), application, secret, scope="openid connectors:read connectors:write")
    writer = api_client(token["access_token"])
    assert writer.post("/api/v1/connectors", {}, format="json").status_code == 400  # allowed in, refused for its body

    admin = tenant.client("admin")
    assert admin.patch(f"{APPLICATIONS}/{application.id}", {"allowed_scopes": ["connectors:read"]},
                       format="json").status_code == 200
    assert me(token["access_token"]).json()["scopes"] == ["connectors:read"]
    refused = writer.post("/api/v1/connectors", {}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["required_scope"] == "connectors:write"
    assert introspect(application, secret, token["access_token"]).json()["scope"] == "openid connectors:read"

    refreshed = refresh(application, secret, token["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    assert set(refreshed.json()["scope"].split()) == {"openid", "connectors:read"}
    assert set(AccessToken.objects.get(application=application).scope.split()) == {"openid", "connectors:read"}

    # and asking for the scope it lost is refused
    again = token_request({"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"],
                           "scope": "connectors:write"}, application, secret)
    assert again.status_code == 400 and again.json()["error"] == "invalid_scope"


def test_a_refresh_with_nothing_left_within_the_application_is_refused(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant, allowed_scopes=["connectors:read", "data:write"])
    token = code_flow(browser_for(developer.user), application, secret, scope="data:write")
    tenant.client("admin").patch(f"{APPLICATIONS}/{application.id}", {"allowed_scopes": ["connectors:read"]},
                                 format="json")
    assert refresh(application, secret, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_person_token_ends_when_the_application_stops_allowing_authorization_code(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant, livemode=True, grant_types=["authorization-code", "client-credentials"],
                                           allowed_scopes=["connectors:read"])
    token = code_flow(browser_for(developer.user), application, secret)
    assert me(token["access_token"]).status_code == 200
    assert tenant.client("admin", livemode=True).patch(f"{APPLICATIONS}/{application.id}", {"grant_types": ["client-credentials"]},
                                        format="json").status_code == 200
    api_error(me(token["access_token"]))
    assert introspect(application, secret, token["access_token"]).json() == {"active": False}
    assert refresh(application, secret, token["refresh_token"]).json()["error"] == "invalid_grant"
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token['access_token']}"}
    assert Client().get("/oauth/userinfo/", **bearer).status_code == 401


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("credential_cache_on")
def test_a_cached_token_is_narrowed_on_the_next_request(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant, livemode=True, allowed_scopes=["connectors:read", "data:read"])
    token = code_flow(browser_for(developer.user), application, secret, scope="connectors:read data:read")
    for _ in range(2):  # loaded, then verified against the generation: served from memory from now on
        assert me(token["access_token"]).json()["scopes"] == ["connectors:read", "data:read"]
    admin = tenant.client("admin", livemode=True)  # client credentials add a Service member: live mode
    admin.patch(f"{APPLICATIONS}/{application.id}", {"allowed_scopes": ["data:read"]}, format="json")
    assert me(token["access_token"]).json()["scopes"] == ["data:read"]
    admin.patch(f"{APPLICATIONS}/{application.id}",
                                 {"grant_types": ["client-credentials"], "allowed_scopes": ["data:read"]}, format="json")
    api_error(me(token["access_token"]))


# 8: a removed member's tokens end for good


def readd(member):
    return Member.unscoped.create(organization=member.organization, user=member.user, role=member.role)


@pytest.mark.parametrize("removal", ["api", "delete"])
def test_a_removed_members_tokens_stay_dead_when_they_come_back(tenant, removal):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    browser = browser_for(developer.user)
    token = code_flow(browser, application, secret)
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser, application, challenge=challenge)  # consented, not yet redeemed
    viewers_token = code_flow(browser_for(person(tenant, "viewer").user), application, secret)

    if removal == "api":
        assert tenant.client("admin", livemode=True).delete(f"/api/v1/members/{developer.id}").status_code == 204
    else:  # the admin console and access reviews delete the row themselves
        Member.unscoped.get(pk=developer.pk).delete()
    assert not AccessToken.objects.filter(user=developer.user).exists()
    assert not Grant.objects.filter(user=developer.user).exists()
    assert not RefreshToken.objects.filter(user=developer.user, revoked__isnull=True).exists()

    readd(developer)
    api_error(me(token["access_token"]))
    assert introspect(application, secret, token["access_token"]).json() == {"active": False}
    assert refresh(application, secret, token["refresh_token"]).json()["error"] == "invalid_grant"
    assert exchange(application, secret, code, verifier).json()["error"] == "invalid_grant"
    # the other member's tokens are untouched
    assert me(viewers_token["access_token"]).status_code == 200


def test_a_service_members_tokens_stay_dead_when_client_credentials_come_back(tenant):
    application, secret = service_application(tenant, livemode=True)
    token = client_credentials(application, secret).json()["access_token"]
    assert me(token).status_code == 200
    admin = tenant.client("admin", livemode=True)
    admin.patch(f"{APPLICATIONS}/{application.id}", {"grant_types": ["authorization-code"],
                                                     "redirect_uris": [REDIRECT_URI]}, format="json")
    api_error(me(token))
    admin.patch(f"{APPLICATIONS}/{application.id}", {"grant_types": ["client-credentials"]}, format="json")
    assert OAuthApplication.unscoped.get(pk=application.pk).service_member is not None
    api_error(me(token))
    assert introspect(application, secret, token).json() == {"active": False}
    assert me(client_credentials(application, secret).json()["access_token"]).status_code == 200


def test_deleting_a_person_or_an_application_holding_tokens_still_works(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    code_flow(browser_for(developer.user), application, secret)
    developer.user.delete()  # the membership goes in the same cascade as the tokens
    assert not AccessToken.objects.exists() and not Member.unscoped.filter(pk=developer.pk).exists()

    service, service_secret = service_application(tenant, livemode=True)
    client_credentials(service, service_secret)
    assert tenant.client("admin", livemode=True).delete(f"{APPLICATIONS}/{service.id}").status_code == 204
    assert not AccessToken.objects.exists()


# 9: introspection agrees with the API


def test_introspection_says_inactive_for_a_deactivated_person(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret)
    assert introspect(application, secret, token["access_token"]).json()["active"] is True
    developer.user.is_active = False
    developer.user.save()
    assert introspect(application, secret, token["access_token"]).json() == {"active": False}


def test_introspection_says_inactive_when_the_service_member_is_gone(tenant):
    application, secret = service_application(tenant)
    token = client_credentials(application, secret).json()["access_token"]
    assert introspect(application, secret, token).json()["active"] is True
    # gone behind the services' back (no signal): the API refuses the token, and so does introspection
    OAuthApplication.unscoped.filter(pk=application.pk).update(service_member=None)
    api_error(me(token))
    assert introspect(application, secret, token).json() == {"active": False}


def test_introspection_says_inactive_for_an_expired_token(tenant, monkeypatch):
    application, secret = service_application(tenant)
    token = client_credentials(application, secret).json()["access_token"]
    later = timezone.now() + timedelta(seconds=3601)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert introspect(application, secret, token).json() == {"active": False}


# 10: introspection without client authentication


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"nobody:x").decode()}],
                         ids=["none", "unknown client"])
def test_introspection_without_a_client_is_401_invalid_client(tenant, headers):
    application, secret = service_application(tenant)
    token = client_credentials(application, secret).json()["access_token"]
    response = Client().post("/oauth/introspect/", {"token": token}, **headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    bearer = Client().post("/oauth/introspect/", {"token": token}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.status_code == 401 and bearer.json()["error"] == "invalid_client"
