"""Checklist 16.3.1 / 16.3.2: every sign-in and every failed one, at every door (the browser's two steps,
the console's sign-in, the JWT endpoint, sudo), is exactly one audit event in each organization of the
person, naming the person's membership there as the actor and the client address a trusted proxy
vouches for. A refusal that checks nothing (a lockout, an unknown email) writes nothing."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Member, Organization
from audit.models import AuditEvent
from tests.accounts.browser_helpers import wrong_code
from tests.support.oauth import PASSWORD, person, totp_code, totp_device

pytestmark = pytest.mark.django_db

PROXY, CLIENT = "10.0.0.2", "198.51.100.40"
WRONG = "not the password at all"


@pytest.fixture
def someone(tenant, other_tenant, settings):
    """A person in two organizations (a Developer of Acme, a Viewer of Globex), behind a trusted proxy."""
    settings.OPENPAAS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    member = person(tenant, "developer")
    member.elsewhere = Member.unscoped.create(organization=other_tenant.org, user=member.user, role="viewer")
    return member


def browser():
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"203.0.113.9, {CLIENT}")


def api():
    return APIClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT)


def jwt(member, organization=None, password=PASSWORD, **body):
    return api().post("/api/v1/auth/token", {"email": member.user.email, "password": password,
                                             "organization": organization or member.organization_id, **body},
                      format="json")


def half_way(member, next_url=""):
    """A browser past the password step of a person with an authenticator."""
    client = browser()
    response = client.post(f"/login{next_url}", {"email": member.user.email, "password": PASSWORD})
    assert response["Location"] == "/login/verify", response
    return client


def signed_in(member):
    client = browser()
    assert client.post("/login", {"email": member.user.email, "password": PASSWORD}).status_code == 302
    return client


# Each attempt: (what it does, the event each of the person's organizations gets). Setup happens first
# (its events are not counted); then exactly the attempt is measured.
def _login_wrong_password(m):
    return lambda: browser().post("/login", {"email": m.user.email, "password": WRONG})


def _login(m):
    return lambda: browser().post("/login", {"email": m.user.email, "password": PASSWORD})


def _code_step(m, code):
    device = totp_device(m.user)
    client = half_way(m)
    return lambda: client.post("/login/verify", {"code": code(device)})


def _console(m):
    device = totp_device(m.user)
    client = browser()
    sign_in_page = client.get("/admin/")["Location"]
    assert sign_in_page == client.get("/admin/login/")["Location"] == "/login?next=/admin/"
    assert client.post(sign_in_page, {"email": m.user.email, "password": PASSWORD})["Location"] == "/login/verify"
    return lambda: client.post("/login/verify", {"code": totp_code(device)})


def _jwt_wrong_code(m):
    device = totp_device(m.user)
    return lambda: jwt(m, otp=wrong_code(device))


def _sudo(m, secret):
    client = signed_in(m)
    return lambda: client.post("/account/sudo", {"secret": secret, "next": "/account"})


ATTEMPTS = {
    "browser: wrong password": (_login_wrong_password, "auth.login_failed", {"step": "password"}),
    "browser: signed in": (_login, "auth.login", {"second_factor": None}),
    "browser: wrong code": (lambda m: _code_step(m, wrong_code), "auth.login_failed", {"step": "second_factor"}),
    "browser: signed in with a code": (lambda m: _code_step(m, totp_code), "auth.login",
                                       {"second_factor": "AuthenticatorDevice"}),
    "console: signed in with a code": (_console, "auth.login", {"second_factor": "AuthenticatorDevice"}),
    "jwt: wrong password": (lambda m: lambda: jwt(m, password=WRONG), "auth.login_failed", {"step": "password"}),
    "jwt: wrong code": (_jwt_wrong_code, "auth.login_failed", {"step": "second_factor"}),
    "jwt: not a member of the organization named": (
        lambda m: lambda: jwt(m, organization=Organization.objects.create(name="Initech").id), "auth.login_failed",
        {"step": "organization"}),
    "sudo: wrong password": (lambda m: _sudo(m, WRONG), "auth.login_failed", {"step": "sudo"}),
    "sudo: confirmed": (lambda m: _sudo(m, PASSWORD), "auth.sudo", {}),
}


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_one_event_per_attempt_in_each_organization_of_the_person_with_actor_and_address(someone, attempt):
    prepare, action, metadata = ATTEMPTS[attempt]
    run = prepare(someone)
    before = set(AuditEvent.unscoped.values_list("id", flat=True))
    response = run()
    assert response.status_code < 500
    new = AuditEvent.unscoped.exclude(id__in=before)
    assert sorted((e.action, e.organization_id, e.actor_type, e.actor_id, e.ip_address, e.metadata) for e in new) == sorted(
        (action, member.organization_id, "member", member.id, CLIENT, metadata)
        for member in (someone, someone.elsewhere)), attempt


def test_a_jwt_sign_in_is_one_event_in_the_organization_of_its_session(someone):
    before = set(AuditEvent.unscoped.values_list("id", flat=True))
    assert jwt(someone).status_code == 200
    [event] = AuditEvent.unscoped.exclude(id__in=before)
    assert (event.action, event.organization_id, event.actor_type, event.actor_id, event.ip_address) == (
        "auth.token_issued", someone.organization_id, "member", someone.id, CLIENT)
    assert event.credential_kind == "jwt" and event.credential_id == event.target_id


def test_the_failure_that_locks_the_account_also_says_so_once_per_organization(someone, settings):
    settings.AXES_FAILURE_LIMIT = 2
    browser().post("/login", {"email": someone.user.email, "password": WRONG})
    before = set(AuditEvent.unscoped.values_list("id", flat=True))
    assert browser().post("/login", {"email": someone.user.email, "password": WRONG}).status_code == 429
    new = AuditEvent.unscoped.exclude(id__in=before)
    assert sorted((e.action, e.organization_id, e.actor_id, e.ip_address) for e in new) == sorted(
        (action, member.organization_id, member.id, CLIENT)
        for action in ("auth.login_failed", "auth.locked_out") for member in (someone, someone.elsewhere))


def test_refusals_that_check_nothing_write_nothing(someone, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert [browser().post("/login", {"email": someone.user.email, "password": WRONG}).status_code
            for _ in range(2)] == [200, 429]
    before = AuditEvent.unscoped.count()
    locked = [browser().post("/login", {"email": someone.user.email, "password": PASSWORD}),
              jwt(someone, password=WRONG), jwt(someone)]
    assert [r.status_code for r in locked] == [429, 429, 429]
    assert browser().post("/login", {"email": "nobody@example.com", "password": WRONG}).status_code == 200
    assert AuditEvent.unscoped.count() == before


def test_the_address_is_the_peer_when_the_peer_is_no_trusted_proxy(someone):
    Client(REMOTE_ADDR="192.0.2.5", HTTP_X_FORWARDED_FOR=CLIENT).post(
        "/login", {"email": someone.user.email, "password": WRONG})
    assert set(AuditEvent.unscoped.filter(action="auth.login_failed").values_list("ip_address", flat=True)) == {
        "192.0.2.5"}
