"""JWT sessions for programs acting as a person: POST /api/v1/auth/token (and /refresh, /revoke).

Sign-in with email, password, organization and (with a confirmed TOTP device) a code; failures count
toward the django-axes lockout; tokens carry organization, member, mode, scopes and session; refresh
rotates, reuse and logout end the session; deactivation and removal end the tokens at once."""

from datetime import timedelta

import jwt as pyjwt
import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import TokenSession
from audit.models import AuditEvent
from tests.support.oauth import PASSWORD, api_error, person, totp_code, totp_device
from tests.conftest import api_client

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
REVOKE = "/api/v1/auth/token/revoke"

pytestmark = pytest.mark.django_db


def post(path, body, **headers):
    return APIClient().post(path, body, format="json", **headers)


def obtain(member, **extra):
    response = post(TOKEN, {"email": member.user.email, "password": PASSWORD, "organization": member.organization_id, **extra})
    assert response.status_code == 200, response.content
    return response.json()


def claims_of(token):
    jwt_settings = django_settings.SIMPLE_JWT
    return pyjwt.decode(token, jwt_settings["SIGNING_KEY"], algorithms=[jwt_settings["ALGORITHM"]],
                        audience=jwt_settings["AUDIENCE"], issuer=jwt_settings["ISSUER"])


def without_request_id(response):
    error = api_error(response)
    return {k: v for k, v in error.items() if k != "request_id"}


def me(token):
    return api_client(token).get("/api/v1/me")


# Obtaining tokens


def test_a_member_trades_password_for_an_access_and_a_refresh_token(tenant):
    developer = person(tenant, "developer")
    pair = obtain(developer)
    assert set(pair) == {"access", "refresh"}

    claims = claims_of(pair["access"])
    session = TokenSession.objects.get(member=developer)
    assert claims["token_type"] == "access"
    assert claims["org"] == tenant.org.id and claims["member"] == developer.id
    assert claims["livemode"] is False and claims["sid"] == session.id
    assert set(claims["scope"].split()) == developer.max_scopes()
    assert claims["aud"] == "openpaas-api" and claims["iss"] == django_settings.SIMPLE_JWT["ISSUER"]
    assert claims["exp"] > timezone.now().timestamp()
    assert claims_of(pair["refresh"])["token_type"] == "refresh"

    principal = me(pair["access"]).json()
    assert principal["member"]["id"] == developer.id and principal["role"] == "developer"
    assert principal["credential"] == {"kind": "jwt", "id": session.id}

    event = AuditEvent.unscoped.get(action="auth.token_issued")
    assert event.organization_id == tenant.org.id and event.target_id == session.id
    assert pair["access"] not in str(event.metadata) and PASSWORD not in str(event.metadata)


def test_mode_and_scopes_can_be_asked_for_but_never_beyond_the_role(tenant):
    developer = person(tenant, "developer")
    pair = obtain(developer, livemode=True, scopes=["connectors:read", "org:admin"])
    claims = claims_of(pair["access"])
    assert claims["livemode"] is True and claims["scope"] == "connectors:read"
    principal = me(pair["access"]).json()
    assert principal["livemode"] is True and principal["scopes"] == ["connectors:read"]

    unknown = post(TOKEN, {"email": developer.user.email, "password": PASSWORD, "organization": tenant.org.id,
                           "scopes": ["everything"]})
    assert unknown.status_code == 400


def test_a_read_only_jwt_is_refused_on_a_write_route(tenant):
    pair = obtain(person(tenant, "developer"), scopes=["connectors:read"])
    response = api_client(pair["access"]).post("/api/v1/connectors", {"name": "x", "type": "csv"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["required_scope"] == "connectors:write"


def test_the_email_is_case_insensitive(tenant):
    developer = person(tenant, "developer")
    response = post(TOKEN, {"email": developer.user.email.upper(), "password": PASSWORD, "organization": tenant.org.id})
    assert response.status_code == 200


def test_unknown_email_wrong_password_and_foreign_organization_look_the_same(tenant, other_tenant):
    developer = person(tenant, "developer")
    person(other_tenant, "admin")
    answers = [
        post(TOKEN, {"email": "nobody@example.com", "password": PASSWORD, "organization": tenant.org.id}),
        post(TOKEN, {"email": developer.user.email, "password": "not the password", "organization": tenant.org.id}),
        post(TOKEN, {"email": developer.user.email, "password": PASSWORD, "organization": other_tenant.org.id}),
        post(TOKEN, {"email": developer.user.email, "password": PASSWORD, "organization": "org_doesnotexist"}),
    ]
    bodies = [without_request_id(response) for response in answers]
    assert all(body == bodies[0] for body in bodies), bodies
    assert bodies[0]["type"] == "authentication_error" and bodies[0]["code"] == "invalid_credentials"
    assert not TokenSession.objects.exists()


def test_a_deactivated_person_cannot_sign_in(tenant):
    developer = person(tenant, "developer")
    developer.user.is_active = False
    developer.user.save()
    response = post(TOKEN, {"email": developer.user.email, "password": PASSWORD, "organization": tenant.org.id})
    assert without_request_id(response)["code"] == "invalid_credentials"


def test_service_members_cannot_get_a_token(tenant):
    service = tenant.member("service")
    for email in (service.name, f"{service.id}@service.invalid"):
        response = post(TOKEN, {"email": email, "password": PASSWORD, "organization": tenant.org.id})
        assert response.status_code in (400, 401)
    assert not TokenSession.objects.filter(member=service).exists()


def test_the_token_endpoints_take_post_only():
    assert APIClient().get(TOKEN).status_code == 405
    assert APIClient().get(REFRESH).status_code == 405


# Second factor


def test_a_member_with_a_device_needs_a_valid_unused_code(tenant, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code must not delay the right one in this test
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    body = {"email": developer.user.email, "password": PASSWORD, "organization": tenant.org.id}

    missing = post(TOKEN, body)
    assert without_request_id(missing)["code"] == "mfa_required"
    code = totp_code(device)
    wrong = post(TOKEN, {**body, "otp": "000000" if code != "000000" else "111111"})
    assert without_request_id(wrong)["code"] == "mfa_invalid"

    assert post(TOKEN, {**body, "otp": code}).status_code == 200
    replayed = post(TOKEN, {**body, "otp": code})
    assert without_request_id(replayed)["code"] == "mfa_invalid"
    assert TokenSession.objects.filter(member=developer).count() == 1


def test_a_wrong_password_with_a_device_says_nothing_about_the_device(tenant):
    developer = person(tenant, "developer")
    totp_device(developer.user)
    response = post(TOKEN, {"email": developer.user.email, "password": "wrong", "organization": tenant.org.id})
    assert without_request_id(response)["code"] == "invalid_credentials"


def test_an_unconfirmed_device_is_not_required(tenant):
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    device.confirmed = False
    device.save()
    assert obtain(developer)["access"]


# Lockout (django-axes)


@pytest.fixture
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    return settings


def _locked(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error"
    return error


def test_failures_lead_to_a_lockout_that_refuses_even_the_right_password(tenant, lockout, monkeypatch):
    developer = person(tenant, "developer")
    body = {"email": developer.user.email, "password": PASSWORD, "organization": tenant.org.id}
    for _ in range(2):
        assert post(TOKEN, {**body, "password": "wrong"}).status_code == 401
    _locked(post(TOKEN, {**body, "password": "wrong"}))
    _locked(post(TOKEN, body))
    # the same account in other letters is the same account
    _locked(post(TOKEN, {**body, "email": developer.user.email.upper()}))
    # a forged X-Forwarded-For is ignored: no proxy is trusted
    _locked(post(TOKEN, body, HTTP_X_FORWARDED_FOR="203.0.113.77"))
    assert not TokenSession.objects.exists()

    # after the cool-off, the right password works again
    later = timezone.now() + lockout.AXES_COOLOFF_TIME + timedelta(seconds=1)
    monkeypatch.setattr("axes.handlers.proxy.now", lambda: later)
    assert post(TOKEN, body).status_code == 200


def test_wrong_codes_count_toward_the_lockout(tenant, lockout):
    lockout.OTP_TOTP_THROTTLE_FACTOR = 0
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    body = {"email": developer.user.email, "password": PASSWORD, "organization": tenant.org.id}
    wrong = "000000" if totp_code(device) != "000000" else "111111"
    for _ in range(2):
        assert without_request_id(post(TOKEN, {**body, "otp": wrong}))["code"] == "mfa_invalid"
    _locked(post(TOKEN, {**body, "otp": wrong}))
    _locked(post(TOKEN, {**body, "otp": totp_code(device)}))


def test_browser_and_api_failures_share_one_count(tenant, lockout):
    from django.test import Client

    developer = person(tenant, "developer")
    browser = Client()
    for _ in range(2):
        assert browser.post("/login", {"email": developer.user.email, "password": "wrong"}).status_code == 200
    body = {"email": developer.user.email, "password": "wrong", "organization": tenant.org.id}
    _locked(post(TOKEN, body))
    page = browser.post("/login", {"email": developer.user.email, "password": PASSWORD})
    assert page.status_code == 429 and int(page["Retry-After"]) > 0
    assert "Too many failed sign-ins" in page.content.decode()
    assert "_auth_user_id" not in browser.session


def test_the_lockout_is_per_account_and_address(tenant, lockout):
    developer = person(tenant, "developer")
    viewer = person(tenant, "viewer")
    body = {"email": developer.user.email, "password": "wrong", "organization": tenant.org.id}
    for _ in range(3):
        post(TOKEN, body)
    _locked(post(TOKEN, {**body, "password": PASSWORD}))
    assert obtain(viewer)["access"]  # another account from the same address
    other_address = post(TOKEN, {**body, "password": PASSWORD}, REMOTE_ADDR="198.51.100.20")
    assert other_address.status_code == 200  # the same account from another address


def test_a_successful_sign_in_resets_the_count(tenant, lockout):
    developer = person(tenant, "developer")
    body = {"email": developer.user.email, "password": PASSWORD, "organization": tenant.org.id}
    for _ in range(2):
        post(TOKEN, {**body, "password": "wrong"})
    assert post(TOKEN, body).status_code == 200
    for _ in range(2):
        assert post(TOKEN, {**body, "password": "wrong"}).status_code == 401
    assert post(TOKEN, body).status_code == 200


# Signing


def test_the_signing_key_is_not_the_secret_key(tenant):
    assert django_settings.SIMPLE_JWT["SIGNING_KEY"] != django_settings.SECRET_KEY
    developer = person(tenant, "developer")
    claims = claims_of(obtain(developer)["access"])
    forged = pyjwt.encode(claims, django_settings.SECRET_KEY, algorithm="HS256")
    error = api_error(me(forged))
    assert error["type"] == "authentication_error"


# Refresh and logout


def test_refresh_rotates_and_the_old_refresh_token_then_ends_the_session(tenant):
    developer = person(tenant, "developer")
    first = obtain(developer)
    second = post(REFRESH, {"refresh": first["refresh"]})
    assert second.status_code == 200
    second = second.json()
    assert second["refresh"] != first["refresh"] and second["access"] != first["access"]
    assert claims_of(second["access"])["sid"] == claims_of(first["access"])["sid"]
    assert me(second["access"]).status_code == 200
    assert AuditEvent.unscoped.filter(action="auth.token_refreshed").count() == 1

    # the used refresh token again: refused, and the whole session ends
    reused = post(REFRESH, {"refresh": first["refresh"]})
    assert without_request_id(reused)["type"] == "authentication_error"
    api_error(me(second["access"]))
    api_error(me(first["access"]))
    api_error(post(REFRESH, {"refresh": second["refresh"]}))
    assert AuditEvent.unscoped.get(action="auth.token_revoked").metadata["reason"] == "refresh_token_reused"


def test_an_access_token_does_not_refresh(tenant):
    pair = obtain(person(tenant, "developer"))
    api_error(post(REFRESH, {"refresh": pair["access"]}))
    api_error(post(REVOKE, {"refresh": pair["access"]}))


def test_logout_ends_the_sessions_tokens(tenant):
    developer = person(tenant, "developer")
    pair = obtain(developer)
    other_session = obtain(developer)
    rotated = post(REFRESH, {"refresh": pair["refresh"]}).json()
    assert me(pair["access"]).status_code == 200

    assert post(REVOKE, {"refresh": rotated["refresh"]}).status_code == 204
    api_error(me(pair["access"]))
    api_error(me(rotated["access"]))
    api_error(post(REFRESH, {"refresh": rotated["refresh"]}))
    assert me(other_session["access"]).status_code == 200, "other sessions go on"
    event = AuditEvent.unscoped.get(action="auth.token_revoked")
    assert event.metadata["reason"] == "logout"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("credential_cache_on")
class TestChangesApplyOnTheNextRequest:
    """With the credential cache on: the change commits, and the next request with a warm token fails."""

    @staticmethod
    def warm(token):
        for _ in range(2):
            assert me(token).status_code == 200
        return token

    def test_deactivating_the_person(self, tenant):
        developer = person(tenant, "developer")
        access = self.warm(obtain(developer)["access"])
        refresh = obtain(developer)["refresh"]
        developer.user.is_active = False
        developer.user.save()
        api_error(me(access))
        api_error(post(REFRESH, {"refresh": refresh}))

    def test_removing_the_membership(self, tenant):
        developer = person(tenant, "developer")
        pair = obtain(developer)
        access = self.warm(pair["access"])
        assert tenant.client("admin", livemode=True).delete(f"/api/v1/members/{developer.id}").status_code == 204
        api_error(me(access))
        api_error(post(REFRESH, {"refresh": pair["refresh"]}))

    def test_logout(self, tenant):
        pair = obtain(person(tenant, "developer"))
        access = self.warm(pair["access"])
        assert post(REVOKE, {"refresh": pair["refresh"]}).status_code == 204
        api_error(me(access))

    def test_refresh_reuse(self, tenant):
        pair = obtain(person(tenant, "developer"))
        rotated = post(REFRESH, {"refresh": pair["refresh"]}).json()
        access = self.warm(rotated["access"])
        api_error(post(REFRESH, {"refresh": pair["refresh"]}))
        api_error(me(access))

    def test_demotion_narrows_a_warm_token(self, tenant):
        developer = person(tenant, "developer")
        access = self.warm(obtain(developer)["access"])
        tenant.client("admin", livemode=True).patch(f"/api/v1/members/{developer.id}", {"role": "viewer"}, format="json")
        assert me(access).json()["scopes"] == ["connectors:read", "data:read"]


def test_failed_token_requests_are_audited_like_browser_sign_ins(tenant):
    developer = person(tenant, "developer")
    wrong = post(TOKEN, {"email": developer.user.email, "password": "not the password", "organization": tenant.org.id})
    assert wrong.status_code == 401
    device = totp_device(developer.user)
    bad_code = post(TOKEN, {"email": developer.user.email, "password": PASSWORD, "organization": tenant.org.id,
                            "otp": "²²²²²²"})
    assert bad_code.status_code == 401 and api_error(bad_code)["code"] == "mfa_invalid"
    steps = sorted(AuditEvent.unscoped.filter(action="auth.login_failed", organization=tenant.org)
                   .values_list("metadata__step", flat=True))
    assert steps == ["password", "second_factor"]
    assert device.__class__.objects.get(pk=device.pk).last_t == -1, "no code was taken"


# Claims of the wrong type or out of range, under a valid signature: a 401, never a 500


class _Missing:
    def __repr__(self):  # the same in every pytest-xdist worker's test ids
        return "missing"


MISSING = _Missing()  # a claim left out


def resigned(token, **changes):
    """The token's claims with ``changes``, signed again with the real key (so only the claims are wrong)."""
    jwt_settings = django_settings.SIMPLE_JWT
    claims = {**claims_of(token), **changes}
    claims = {claim: value for claim, value in claims.items() if value is not MISSING}
    return pyjwt.encode(claims, jwt_settings["SIGNING_KEY"], algorithm=jwt_settings["ALGORITHM"])


BAD_NUMERIC_DATES = ["9999999999", "abc", "", 1e20, 10**30, -10**30, -1, 253402300800 * 10, float("inf"),
                     float("nan"), None, [1], {"at": 1}, True, False]
BAD_TYPED_CLAIMS = [("sid", ["x"]), ("sid", {"id": 1}), ("sid", 1), ("member", ["x"]), ("org", 1.5),
                    ("livemode", "true"), ("livemode", 1), ("scope", ["connectors:read"]), ("jti", 7),
                    ("token_type", ["access"]), ("jti", MISSING), ("jti", ""), ("jti", "j" * 256),
                    ("user_id", "abc"), ("user_id", {"a": 1}), ("user_id", [1]), ("user_id", 7),
                    ("user_id", "１２"), ("user_id", "9" * 21), ("sid", "ses\x00x"), ("jti", "ab\x00cd"),
                    ("member", "mem\ud800"), ("org", "org\x00")]
BAD_CLAIMS = ([(claim, value) for claim in ("exp", "nbf", "iat") for value in BAD_NUMERIC_DATES]
              + BAD_TYPED_CLAIMS)


@pytest.mark.parametrize("claim,value", BAD_CLAIMS, ids=[f"{c}={v!r:.40}" for c, v in BAD_CLAIMS])
def test_a_signed_access_token_with_a_malformed_claim_is_a_401(tenant, claim, value):
    response = me(resigned(tenant.jwt_token(), **{claim: value}))
    assert response.status_code == 401, response.content
    assert api_error(response)["code"] == "invalid_token"


@pytest.mark.parametrize("path", [REFRESH, REVOKE])
@pytest.mark.parametrize("claim,value", BAD_CLAIMS, ids=[f"{c}={v!r:.40}" for c, v in BAD_CLAIMS])
def test_a_signed_refresh_token_with_a_malformed_claim_is_a_401(tenant, path, claim, value):
    refresh = obtain(person(tenant, "developer"))["refresh"]
    response = post(path, {"refresh": resigned(refresh, **{claim: value})})
    assert response.status_code == 401, response.content
    assert api_error(response)["code"] == "invalid_token"


@pytest.mark.parametrize("claim", ["livemode", "org", "member"])
def test_a_signed_refresh_token_naming_another_mode_organization_or_member_than_its_session_is_a_401(
        tenant, other_tenant, claim):
    developer = person(tenant, "developer")
    refresh = obtain(developer)["refresh"]
    other = {"livemode": not claims_of(refresh)["livemode"], "org": other_tenant.org.id,
             "member": person(tenant, "viewer").id}[claim]
    response = post(REFRESH, {"refresh": resigned(refresh, **{claim: other})})
    assert response.status_code == 401 and api_error(response)["code"] == "invalid_token"
    assert post(REFRESH, {"refresh": refresh}).status_code == 200, "the session's own token still works"


def test_no_stored_row_holds_a_refresh_token(tenant):
    """The outstanding-token list and the blacklist keep jtis: a copy of the database redeems nothing."""
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    first = obtain(person(tenant, "developer"))
    second = post(REFRESH, {"refresh": first["refresh"]}).json()
    stored = list(OutstandingToken.objects.values_list("jti", "token"))
    assert {jti for jti, _ in stored} == {claims_of(first["refresh"])["jti"], claims_of(second["refresh"])["jti"]}
    assert all(token == "" for _, token in stored)
    assert post(REFRESH, {"refresh": second["refresh"]}).status_code == 200


def test_a_resigned_token_with_its_claims_unchanged_still_works(tenant):
    # The control for the two tables above: re-signing alone breaks nothing.
    assert me(resigned(tenant.jwt_token())).status_code == 200
