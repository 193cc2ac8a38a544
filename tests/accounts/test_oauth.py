"""OAuth 2.0 and OpenID Connect: the applications API, the client credentials grant, the authorization
code flow with PKCE through the real sign-in and consent pages, refresh rotation, revocation and
introspection, OIDC discovery and ID tokens, lifetimes and the cleanup of expired tokens.

Every test drives the server the way a client and a browser do (Django's test client, a real
database); only time is moved, where a test needs it."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jwt as pyjwt
import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone
from jwcrypto import jwk as jwcrypto_jwk, jwt as jwcrypto_jwt
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken, set_token_value

from accounts.models import Member, OAuthApplication
from accounts.auth.oauth import new_access_token
from audit.models import AuditEvent
from tests.support.oauth import (
    PASSWORD,
    REDIRECT_URI,
    api_error,
    authorization_code,
    authorize_url,
    browser_for,
    client_credentials,
    code_flow,
    consent,
    exchange,
    form_fields,
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

ROOT = Path(__file__).resolve().parents[2]
APPLICATIONS = "/api/v1/oauth-applications"

pytestmark = pytest.mark.django_db


def new_application(admin, **fields):
    body = {"name": "Partner portal", "client_type": "confidential", "grant_types": ["authorization-code"],
            "redirect_uris": [REDIRECT_URI], "allowed_scopes": ["connectors:read"], **fields}
    return admin.post(APPLICATIONS, body, format="json")


def me(token):
    return api_client(token).get("/api/v1/me")


# The applications API


def test_a_confidential_client_gets_its_secret_once_and_only_a_hash_is_stored(tenant):
    admin = tenant.client("admin")
    response = new_application(admin)
    assert response.status_code == 201
    created = response.json()
    secret = created["client_secret"]
    assert created["object"] == "oauth_application" and len(secret) >= 43

    # never again: not in the list, not in the detail
    assert "client_secret" not in admin.get(f"{APPLICATIONS}/{created['id']}").json()
    assert secret not in admin.get(APPLICATIONS).content.decode()

    row = OAuthApplication.unscoped.filter(pk=created["id"]).values().get()
    assert not any(secret in str(value) for value in row.values()), "the secret is stored in the clear"
    identify_hasher(row["client_secret"])  # a Django password hash
    assert check_password(secret, row["client_secret"])


def test_a_public_client_gets_no_secret_and_cannot_use_client_credentials(tenant):
    admin = tenant.client("admin")
    response = new_application(admin, client_type="public")
    assert response.status_code == 201
    assert response.json()["client_secret"] is None

    refused = new_application(admin, client_type="public", grant_types=["client-credentials"])
    assert refused.status_code == 400
    assert "grant_types" in refused.json()["error"]["details"]


@pytest.mark.parametrize("uri", [
    "http://app.example.com/callback",  # http: only in DEBUG
    "https://app.example.com/callback#fragment",
    "javascript:alert(1)",
    "ftp://app.example.com/callback",
])
def test_redirect_uris_must_be_exact_https_urls(tenant, uri):
    response = new_application(tenant.client("admin"), redirect_uris=[uri])
    assert response.status_code == 400
    assert "redirect_uris" in response.json()["error"]["details"]


def test_http_redirect_uris_are_allowed_in_debug_only(tenant, settings):
    settings.DEBUG = True
    response = new_application(tenant.client("admin"), redirect_uris=["http://localhost:8000/callback"])
    assert response.status_code == 201
    assert response.json()["redirect_uris"] == ["http://localhost:8000/callback"]


def test_redirect_uris_are_stored_exactly_as_registered(tenant):
    uris = ["https://app.example.com/callback", "https://app.example.com/other?x=1"]
    created = new_application(tenant.client("admin"), redirect_uris=uris).json()
    assert sorted(created["redirect_uris"]) == sorted(uris)
    assert sorted(OAuthApplication.unscoped.get(pk=created["id"]).redirect_uris.split()) == sorted(uris)


def test_allowed_scopes_cannot_exceed_the_callers(tenant):
    narrow_admin = tenant.client("admin", scopes=["org:admin", "connectors:read"])
    response = new_application(narrow_admin, allowed_scopes=["connectors:read", "data:write"])
    assert response.status_code == 400
    assert "data:write" in response.json()["error"]["details"]["allowed_scopes"][0]

    created = new_application(narrow_admin).json()
    patched = narrow_admin.patch(f"{APPLICATIONS}/{created['id']}", {"allowed_scopes": ["audit:read"]}, format="json")
    assert patched.status_code == 400
    assert OAuthApplication.unscoped.get(pk=created["id"]).allowed_scopes == ["connectors:read"]


def test_only_an_admin_manages_applications(tenant):
    assert new_application(tenant.client("developer")).status_code == 403
    assert new_application(tenant.client("admin", scopes=["connectors:read"])).status_code == 403


def test_a_client_credentials_application_has_a_service_member_kept_in_sync(tenant):
    admin = tenant.client("admin", livemode=True)  # its Service member is organization-wide
    created = new_application(admin, grant_types=["client-credentials"], redirect_uris=[],
                              allowed_scopes=["connectors:read", "data:read"]).json()
    application = OAuthApplication.unscoped.get(pk=created["id"])
    service = application.service_member
    assert service.role == "service" and service.user_id is None and service.organization_id == tenant.org.id
    assert service.granted_scopes == ["connectors:read", "data:read"]

    assert admin.patch(f"{APPLICATIONS}/{created['id']}", {"allowed_scopes": ["data:read"]}, format="json").status_code == 200
    service.refresh_from_db()
    assert service.granted_scopes == ["data:read"]

    # no more client credentials: no more Service member
    patched = admin.patch(f"{APPLICATIONS}/{created['id']}",
                          {"grant_types": ["authorization-code"], "redirect_uris": [REDIRECT_URI]}, format="json")
    assert patched.status_code == 200
    assert not Member.unscoped.filter(pk=service.pk).exists()
    assert OAuthApplication.unscoped.get(pk=created["id"]).service_member is None

    # back again, and removed with the application
    admin.patch(f"{APPLICATIONS}/{created['id']}", {"grant_types": ["client-credentials"]}, format="json")
    service = OAuthApplication.unscoped.get(pk=created["id"]).service_member
    assert service is not None and service.granted_scopes == ["data:read"]
    assert admin.delete(f"{APPLICATIONS}/{created['id']}").status_code == 204
    assert not Member.unscoped.filter(pk=service.pk).exists()


def test_a_client_credentials_application_cannot_hold_admin_scopes(tenant):
    response = new_application(tenant.client("admin", livemode=True), grant_types=["client-credentials"], redirect_uris=[],
                               allowed_scopes=["connectors:read", "org:admin"])
    assert response.status_code == 400


def test_application_changes_are_audited(tenant):
    admin = tenant.client("admin")
    created = new_application(admin).json()
    admin.patch(f"{APPLICATIONS}/{created['id']}", {"name": "Renamed"}, format="json")
    admin.delete(f"{APPLICATIONS}/{created['id']}")
    events = AuditEvent.unscoped.filter(target_id=created["id"]).order_by("created_at")
    assert [e.action for e in events] == ["oauth_application.created", "oauth_application.updated",
                                          "oauth_application.deleted"]
    admin_member = tenant.member("admin")
    assert all(e.actor_id == admin_member.id and e.organization_id == tenant.org.id for e in events)
    assert all(created["client_secret"] not in json.dumps(e.metadata) for e in events)


# Client credentials


@pytest.mark.parametrize("livemode", [False, True])
def test_client_credentials_give_a_token_acting_as_the_service_member(tenant, livemode):
    # Made in the console, as a test-mode one must be (a test-mode credential may not add a Service member).
    application, secret = make_application(tenant, livemode=livemode, grant_types=["client-credentials"],
                                           redirect_uris=[], allowed_scopes=["connectors:read", "data:read"])

    response = client_credentials(application, secret)
    assert response.status_code == 200, response.content
    token = response.json()
    assert token["access_token"].startswith("oat_") and token["token_type"] == "Bearer"
    assert "refresh_token" not in token
    assert set(token["scope"].split()) == {"connectors:read", "data:read"}

    principal = me(token["access_token"]).json()
    assert principal["organization"]["id"] == tenant.org.id
    assert principal["member"]["id"] == application.service_member_id
    assert principal["role"] == "service" and principal["livemode"] is livemode
    assert principal["scopes"] == ["connectors:read", "data:read"]
    assert principal["credential"] == {"kind": "oauth", "id": application.id}

    # it acts in its mode only
    listed = api_client(token["access_token"]).get("/api/v1/connectors")
    assert listed.status_code == 200

    event = AuditEvent.unscoped.filter(action="oauth.token_issued", target_id=application.id).get()
    assert event.livemode is livemode and event.metadata["user"] is None
    assert token["access_token"] not in json.dumps(event.metadata)


def test_client_credentials_need_the_right_secret_and_stay_within_the_allowed_scopes(tenant):
    application, secret = make_application(tenant, grant_types=["client-credentials"], redirect_uris=[],
                                           allowed_scopes=["connectors:read"])
    assert client_credentials(application, "not-the-secret").status_code == 401
    assert client_credentials(application, secret, scope="connectors:write").json()["error"] == "invalid_scope"
    assert AccessToken.objects.count() == 0


# Authorization code with PKCE, through the pages


def test_sign_in_then_consent_then_exchange(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    browser = browser_for(developer.user)

    verifier, challenge = pkce_pair()
    page, answer = consent(browser, application, scope="openid connectors:read data:write", challenge=challenge,
                           state="s-123")
    html = page.content.decode()
    assert "Partner portal" in html and tenant.org.name in html and "test mode" in html
    for words in ("Sign you in with your Open PaaS account", "View connector configurations", "Modify data and workflows"):
        assert words in html

    assert answer.status_code == 302
    location = answer["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["state"] == "s-123" and query["code"]
    discovery = Client().get("/oauth/.well-known/openid-configuration").json()
    assert query["iss"] == discovery["issuer"], "RFC 9207: the response names this issuer"

    response = exchange(application, secret, query["code"], verifier)
    assert response.status_code == 200, response.content
    token = response.json()
    assert token["access_token"].startswith("oat_") and token["refresh_token"].startswith("ort_")
    assert set(token["scope"].split()) == {"openid", "connectors:read", "data:write"}

    principal = me(token["access_token"]).json()
    assert principal["member"]["id"] == developer.id and principal["role"] == "developer"
    assert principal["organization"]["id"] == tenant.org.id and principal["livemode"] is False
    assert principal["scopes"] == ["connectors:read", "data:read", "data:write"]

    event = AuditEvent.unscoped.filter(action="oauth.token_issued", target_id=application.id).get()
    assert event.metadata["user"] == developer.user_id


def test_a_public_client_uses_pkce_without_a_secret(tenant):
    viewer = person(tenant, "viewer")
    application, secret = make_application(tenant, client_type="public")
    assert secret is None
    token = code_flow(browser_for(viewer.user), application, None, scope="connectors:read")
    assert me(token["access_token"]).json()["scopes"] == ["connectors:read"]


def test_the_exchange_needs_the_matching_code_verifier(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
    wrong = exchange(application, secret, code, pkce_pair()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = token_request({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
                            application, secret)
    assert missing.status_code == 400
    assert AccessToken.objects.count() == 0


def test_a_confidential_client_must_authenticate_to_exchange(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
    assert exchange(application, "wrong-secret", code, verifier).status_code == 401
    assert exchange(application, None, code, verifier).status_code == 401


def test_the_consent_page_needs_a_signed_in_member(tenant):
    application, _ = make_application(tenant)
    response = Client().get(authorize_url(application, challenge=pkce_pair()[1]))
    assert response.status_code == 302 and response["Location"].startswith("/login?next=")


def test_a_member_with_a_second_factor_must_give_a_valid_code(tenant, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the wrong code below must not delay the right one
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    application, secret = make_application(tenant)

    password_only = Client()
    response = sign_in(password_only, developer.user.email)
    assert response.status_code == 302 and response["Location"].startswith("/login/verify")
    assert "_auth_user_id" not in password_only.session, "no session on the password alone"
    wrong = password_only.post("/login/verify", {"code": "000000" if totp_code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and "wrong or was already used" in wrong.content.decode()
    refused = password_only.get(authorize_url(application, challenge=pkce_pair()[1]))
    assert refused.status_code == 302 and refused["Location"].startswith("/login")

    browser = browser_for(developer.user, otp=totp_code(device))
    token = code_flow(browser, application, secret)
    assert me(token["access_token"]).json()["member"]["id"] == developer.id

    # the same code does not sign in twice
    replay = sign_in(Client(), developer.user.email, otp=totp_code(device))
    assert replay.status_code == 200 and "wrong or was already used" in replay.content.decode()


def test_signing_in_rotates_the_session_id(tenant):
    from django.contrib.sessions.models import Session

    developer = person(tenant, "developer")
    browser = Client()
    session = browser.session  # an anonymous session, as a visitor has before signing in
    session["seen"] = True
    session.save()
    before = session.session_key
    assert browser.cookies["sessionid"].value == before
    assert sign_in(browser, developer.user.email).status_code == 302
    assert browser.cookies["sessionid"].value != before
    assert not Session.objects.filter(session_key=before).exists()


@pytest.mark.parametrize("role,requested,expected", [
    ("developer", "openid connectors:read org:admin audit:read", {"openid", "connectors:read"}),
    ("viewer", "connectors:read connectors:write data:write", {"connectors:read"}),
])
def test_the_consent_page_offers_only_what_the_role_allows(tenant, role, requested, expected):
    member = person(tenant, role)
    application, secret = make_application(tenant)
    browser = browser_for(member.user)
    page, answer = consent(browser, application, scope=requested, challenge=pkce_pair()[1])
    html = page.content.decode()
    assert "Manage members" not in html and "Read the organization" not in html
    assert set(form_fields(html)["scope"].split()) == expected


@pytest.mark.parametrize("role,tampered,expected", [
    ("developer", "openid connectors:read org:admin audit:read", {"openid", "connectors:read"}),
    ("viewer", "connectors:read connectors:write org:admin", {"connectors:read"}),
])
def test_a_tampered_consent_form_never_grants_beyond_the_role(tenant, role, tampered, expected):
    member = person(tenant, role)
    application, secret = make_application(tenant)
    verifier, challenge = pkce_pair()
    _, answer = consent(browser_for(member.user), application, challenge=challenge, tamper={"scope": tampered})
    token = exchange(application, secret, query_of(answer["Location"])["code"], verifier).json()
    assert set(token["scope"].split()) == expected
    assert "org:admin" not in me(token["access_token"]).json()["scopes"]


def test_a_tampered_consent_form_asking_only_for_what_the_role_lacks_gets_nothing(tenant):
    # An empty grant must not fall back to the application's default scopes (everything it may ask for).
    viewer = person(tenant, "viewer")
    application, _ = make_application(tenant)
    browser = browser_for(viewer.user)
    page = browser.get(authorize_url(application, challenge=pkce_pair()[1]))
    fields = {**form_fields(page.content.decode()), "scope": "org:admin", "allow": "Authorize"}
    answer = browser.post("/oauth/authorize/", fields)
    assert answer.status_code == 302
    assert query_of(answer["Location"])["error"] == "invalid_scope"
    assert not Grant.objects.exists()


def test_asking_only_for_what_the_role_lacks_is_refused_before_consent(tenant):
    viewer = person(tenant, "viewer")
    application, _ = make_application(tenant)
    answer = browser_for(viewer.user).get(authorize_url(application, scope="org:admin", challenge=pkce_pair()[1]))
    assert answer.status_code == 302 and query_of(answer["Location"])["error"] == "invalid_scope"


def test_a_person_outside_the_applications_organization_is_refused(tenant, other_tenant):
    outsider = person(other_tenant, "developer")
    application, _ = make_application(tenant)
    browser = browser_for(outsider.user)
    page = browser.get(authorize_url(application, challenge=pkce_pair()[1]))
    assert page.status_code == 403 and "not a member" in page.content.decode()

    # nor by posting the form directly
    insider = browser_for(person(tenant, "viewer").user)
    fields = form_fields(insider.get(authorize_url(application, challenge=pkce_pair()[1])).content.decode())
    fields["allow"] = "Authorize"
    fields.pop("csrfmiddlewaretoken")
    answer = browser.post("/oauth/authorize/", fields)
    assert answer.status_code == 403
    assert not Grant.objects.exists()


def test_a_removed_member_can_no_longer_use_or_refresh_their_token(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret)
    assert me(token["access_token"]).status_code == 200
    assert tenant.client("admin", livemode=True).delete(f"/api/v1/members/{developer.id}").status_code == 204
    api_error(me(token["access_token"]))
    assert refresh(application, secret, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_deactivated_person_can_no_longer_use_refresh_or_redeem(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    browser = browser_for(developer.user)
    token = code_flow(browser, application, secret)
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser, application, challenge=challenge)  # consented, not yet redeemed
    developer.user.is_active = False
    developer.user.save()
    api_error(me(token["access_token"]))
    assert refresh(application, secret, token["refresh_token"]).json()["error"] == "invalid_grant"
    assert exchange(application, secret, code, verifier).json()["error"] == "invalid_grant"
    assert AccessToken.objects.filter(user=developer.user).count() == 1


def test_denying_consent_redirects_with_access_denied(tenant):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    _, answer = consent(browser_for(developer.user), application, allow=False, challenge=pkce_pair()[1], state="st")
    query = query_of(answer["Location"])
    assert query["error"] == "access_denied" and query["state"] == "st"
    assert query["iss"] == "http://testserver/oauth", "RFC 9207: error responses name the issuer too"
    assert not Grant.objects.exists()


# Refresh tokens


def test_refresh_tokens_rotate_and_reuse_revokes_the_family(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    first = code_flow(browser_for(developer.user), application, secret)

    second = refresh(application, secret, first["refresh_token"])
    assert second.status_code == 200
    second = second.json()
    assert second["refresh_token"].startswith("ort_") and second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    api_error(me(first["access_token"]))  # rotation retires the old access token
    assert me(second["access_token"]).status_code == 200

    third = refresh(application, secret, second["refresh_token"]).json()
    assert me(third["access_token"]).status_code == 200

    # the first refresh token again: refused, and every token of the grant is revoked
    reused = refresh(application, secret, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    api_error(me(third["access_token"]))
    assert refresh(application, secret, third["refresh_token"]).status_code == 400
    assert not AccessToken.objects.filter(application=application).exists()


def test_a_refresh_token_works_only_for_its_own_application(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    other, other_secret = make_application(tenant, name="Other")
    token = code_flow(browser_for(developer.user), application, secret)
    assert refresh(other, other_secret, token["refresh_token"]).status_code == 400


# Revocation (RFC 7009) and introspection (RFC 7662)


def test_a_revoked_access_token_is_refused_and_inactive(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret)
    assert introspect(application, secret, token["access_token"]).json()["active"] is True
    assert me(token["access_token"]).status_code == 200

    assert revoke(application, secret, token["access_token"], "access_token").status_code == 200
    error = api_error(me(token["access_token"]))
    assert error["type"] == "authentication_error"
    assert introspect(application, secret, token["access_token"]).json() == {"active": False}
    # its refresh token went with it
    assert refresh(application, secret, token["refresh_token"]).status_code == 400


def test_revoking_the_refresh_token_ends_its_access_token(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret)
    assert revoke(application, secret, token["refresh_token"], "refresh_token").status_code == 200
    api_error(me(token["access_token"]))
    assert introspect(application, secret, token["access_token"]).json() == {"active": False}


def test_an_application_cannot_revoke_another_applications_token(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    other, other_secret = make_application(tenant, name="Other")
    token = code_flow(browser_for(developer.user), application, secret)
    assert revoke(other, other_secret, token["access_token"]).status_code == 200  # RFC 7009: no disclosure
    assert me(token["access_token"]).status_code == 200


def test_introspection_answers_a_client_about_its_own_tokens_only(tenant, other_tenant):
    application, secret = make_application(tenant, grant_types=["client-credentials"], redirect_uris=[],
                                           allowed_scopes=["connectors:read"])
    token = client_credentials(application, secret).json()["access_token"]

    own = introspect(application, secret, token).json()
    assert own["active"] is True and own["scope"] == "connectors:read" and own["client_id"] == application.client_id

    same_org, same_org_secret = make_application(tenant, name="Same organization", grant_types=["client-credentials"],
                                                 redirect_uris=[], allowed_scopes=["connectors:read"])
    other_org, other_org_secret = make_application(other_tenant, name="Other organization",
                                                   grant_types=["client-credentials"], redirect_uris=[],
                                                   allowed_scopes=["connectors:read"])
    assert introspect(same_org, same_org_secret, token).json() == {"active": False}
    assert introspect(other_org, other_org_secret, token).json() == {"active": False}
    assert introspect(application, secret, "oat_" + "x" * 40).json() == {"active": False}


def test_introspection_needs_client_authentication_and_post(tenant):
    application, secret = make_application(tenant, grant_types=["client-credentials"], redirect_uris=[],
                                           allowed_scopes=["connectors:read"])
    token = client_credentials(application, secret).json()["access_token"]
    assert Client().post("/oauth/introspect/", {"token": token}).status_code in (401, 403)
    assert introspect(application, "wrong", token).status_code in (401, 403)
    assert Client().get("/oauth/introspect/", {"token": token}).status_code in (401, 403, 405)
    # the token itself is not a credential for introspection
    assert Client().post("/oauth/introspect/", {"token": token}, HTTP_AUTHORIZATION=f"Bearer {token}").status_code in (401, 403)


# Grants that are refused


def test_implicit_and_password_grants_are_refused_even_when_registered(tenant):
    member = person(tenant, "developer")
    application, secret = make_application(tenant)
    # registered for them behind the API's back: the RFC 9700 gates still refuse them
    OAuthApplication.unscoped.filter(pk=application.pk).update(
        grant_types=["authorization-code", "implicit", "password"])
    application.refresh_from_db()

    answer = browser_for(member.user).get(authorize_url(application, response_type="token", challenge=pkce_pair()[1]))
    assert answer.status_code == 302
    location = answer["Location"]
    assert location.startswith(REDIRECT_URI + "?") and "#" not in location and "access_token" not in location
    assert query_of(location)["error"] == "unauthorized_client"

    password = token_request({"grant_type": "password", "username": member.user.email, "password": PASSWORD},
                             application, secret)
    assert password.status_code == 400 and password.json() == {"error": "unsupported_grant_type"}
    assert not AccessToken.objects.exists()


# OpenID Connect


def test_discovery_and_jwks_serve_rs256_keys(tenant):
    discovery = Client().get("/oauth/.well-known/openid-configuration")
    assert discovery.status_code == 200
    document = discovery.json()
    assert document["issuer"] == "http://testserver/oauth"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert {"openid", "connectors:read", "org:admin"} <= set(document["scopes_supported"])
    assert document["jwks_uri"] == "http://testserver/oauth/.well-known/jwks.json"

    jwks = Client().get("/oauth/.well-known/jwks.json").json()
    assert jwks["keys"] and all(key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" for key in jwks["keys"])
    assert all("d" not in key and "p" not in key for key in jwks["keys"]), "no private key material"


def _id_token(tenant, role="developer"):
    member = person(tenant, role)
    application, secret = make_application(tenant)
    token = code_flow(browser_for(member.user), application, secret, scope="openid connectors:read", nonce="n-42")
    return member, application, token


def test_the_id_token_verifies_against_the_jwks_with_pyjwt(tenant):
    member, application, token = _id_token(tenant)
    issuer = Client().get("/oauth/.well-known/openid-configuration").json()["issuer"]
    keys = pyjwt.PyJWKSet.from_dict(Client().get("/oauth/.well-known/jwks.json").json())
    kid = pyjwt.get_unverified_header(token["id_token"])["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims = pyjwt.decode(token["id_token"], key.key, algorithms=["RS256"], audience=application.client_id, issuer=issuer)
    assert claims["sub"] == str(member.user_id)
    assert claims["nonce"] == "n-42"
    assert claims["email"] == member.user.email and claims["org"] == tenant.org.id
    with pytest.raises(pyjwt.InvalidAudienceError):
        pyjwt.decode(token["id_token"], key.key, algorithms=["RS256"], audience="someone-else", issuer=issuer)


def test_the_id_token_verifies_against_the_jwks_with_jwcrypto(tenant):
    member, application, token = _id_token(tenant)
    keyset = jwcrypto_jwk.JWKSet.from_json(Client().get("/oauth/.well-known/jwks.json").content.decode())
    verified = jwcrypto_jwt.JWT(jwt=token["id_token"], key=keyset, algs=["RS256"],
                                check_claims={"aud": application.client_id, "iss": "http://testserver/oauth"})
    claims = json.loads(verified.claims)
    assert claims["sub"] == str(member.user_id)


def test_no_id_token_without_openid(tenant):
    member = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(member.user), application, secret, scope="connectors:read")
    assert "id_token" not in token


# Lifetimes and cleanup


@pytest.fixture
def fresh_token_endpoint():
    """django-oauth-toolkit builds its server once per view class, with the lifetimes of that moment."""
    token_view = resolve("/oauth/token/").func.view_class
    token_view.__dict__.get("_oauthlib_core") and delattr(token_view, "_oauthlib_core")
    yield
    token_view.__dict__.get("_oauthlib_core") and delattr(token_view, "_oauthlib_core")


def test_the_access_token_lifetime_comes_from_the_settings(tenant, settings, fresh_token_endpoint, monkeypatch):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ACCESS_TOKEN_EXPIRE_SECONDS": 120}
    application, secret = make_application(tenant, grant_types=["client-credentials"], redirect_uris=[],
                                           allowed_scopes=["connectors:read"])
    before = timezone.now()
    token = client_credentials(application, secret).json()
    assert token["expires_in"] == 120
    stored = AccessToken.objects.get(application=application)
    assert before + timedelta(seconds=119) <= stored.expires <= timezone.now() + timedelta(seconds=121)

    assert me(token["access_token"]).status_code == 200
    later = timezone.now() + timedelta(seconds=121)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    error = api_error(me(token["access_token"]))
    assert error["code"] == "invalid_token"


def test_the_lifetimes_are_read_from_the_environment():
    env = {**os.environ, "OPENPAAS_OAUTH_ACCESS_TOKEN_SECONDS": "321", "OPENPAAS_OAUTH_REFRESH_TOKEN_SECONDS": "654",
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DEBUG", None)
    script = ("import django; django.setup(); from django.conf import settings; "
              "p = settings.OAUTH2_PROVIDER; print(p['ACCESS_TOKEN_EXPIRE_SECONDS'], p['REFRESH_TOKEN_EXPIRE_SECONDS'])")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["321", "654"]


def _expired_tokens(application, n, *, ago=timedelta(hours=1)):
    for _ in range(n):
        token = AccessToken(application=application, scope="connectors:read", expires=timezone.now() - ago)
        set_token_value(token, new_access_token())
        token.save()


def test_cleartokens_deletes_expired_tokens_in_batches(tenant, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 2}
    application, secret = make_application(tenant, grant_types=["client-credentials"], redirect_uris=[],
                                           allowed_scopes=["connectors:read"])
    _expired_tokens(application, 5)
    live = client_credentials(application, secret).json()["access_token"]
    Grant.objects.create(application=application, user=person(tenant, "viewer").user, code="expired-code",
                         expires=timezone.now() - timedelta(minutes=5), redirect_uri=REDIRECT_URI, scope="openid")

    with CaptureQueriesContext(connection) as queries:
        call_command("cleartokens")
    table = AccessToken._meta.db_table
    batches = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith("DELETE") and f'"{table}"' in q["sql"] and " IN (" in q["sql"]]
    assert len(batches) == 3, batches  # 2 + 2 + 1
    assert AccessToken.objects.count() == 1
    assert me(live).status_code == 200
    assert not Grant.objects.exists()


def test_cleartokens_keeps_expired_tokens_whose_refresh_token_still_lives(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret)
    AccessToken.objects.update(expires=timezone.now() - timedelta(minutes=1))
    call_command("cleartokens")
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert refresh(application, secret, token["refresh_token"]).status_code == 200


def test_an_expired_token_is_refused(tenant, monkeypatch):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret)
    later = timezone.now() + timedelta(seconds=3601)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    api_error(me(token["access_token"]))
    assert IDToken.objects.count() == 1


def test_userinfo_answers_for_a_person_only_while_they_may_act(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret, scope="openid connectors:read")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token['access_token']}"}
    info = Client().get("/oauth/userinfo/", **bearer)
    assert info.status_code == 200
    assert info.json()["sub"] == str(developer.user_id) and info.json()["org"] == tenant.org.id
    developer.user.is_active = False
    developer.user.save()
    refused = Client().get("/oauth/userinfo/", **bearer)
    assert refused.status_code in (401, 403) and "email" not in refused.content.decode()


def test_the_client_cannot_skip_the_consent_page(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    browser = browser_for(developer.user)
    code_flow(browser, application, secret)  # authorized once: a live token exists
    again = browser.get(authorize_url(application, challenge=pkce_pair()[1], approval_prompt="auto"))
    assert again.status_code == 200 and "Authorize Partner portal?" in again.content.decode()
