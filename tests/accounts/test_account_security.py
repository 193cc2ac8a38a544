"""The account pages: the organization picker (the choice is held in the session), and the person's own
API keys on the security page: created behind sudo in the chosen organization, the secret shown once,
rolled and revoked, all audited. Pages with secrets are never cached (ASVS 14.3.2)."""

import re

import pytest
from django.test import Client

from accounts.models import APIKey, Member
from audit.models import AuditEvent
from tests.accounts.browser_helpers import sudo
from tests.support.oauth import browser_for, person
from tests.conftest import api_client

pytestmark = pytest.mark.django_db

SECRET = re.compile(r'<code id="new-secret">([^<]+)</code>')


def _create_key(browser, name="laptop", scopes=("connectors:read",), livemode=False):
    data = {"name": name, "scopes": list(scopes)}
    if livemode:
        data["livemode"] = "on"
    return browser.post("/account/security/keys", data, HTTP_REFERER="http://testserver/account/security")


def _secret(response):
    assert response.status_code == 200, response.content.decode()[:500]
    return SECRET.search(response.content.decode()).group(1)


def test_the_account_pages_need_a_signed_in_person():
    for path in ("/account", "/account/security", "/account/sudo", "/account/security/enrol",
                 "/account/security/password"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login?next="), path


def test_creating_a_key_needs_sudo(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    refused = _create_key(browser)
    assert refused.status_code == 302 and refused["Location"] == "/account/sudo?next=http%3A%2F%2Ftestserver%2Faccount%2Fsecurity"
    assert not APIKey.unscoped.filter(member=developer).exists()
    sudo(browser)
    assert _secret(_create_key(browser)).startswith("sk_")
    assert APIKey.unscoped.filter(member=developer).count() == 1


def test_the_secret_is_shown_once_and_works(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    created = _create_key(browser, scopes=("connectors:read", "data:read"))
    secret = _secret(created)
    assert "no-store" in created["Cache-Control"]
    key = APIKey.unscoped.get(member=developer)
    assert key.organization_id == tenant.org.id and not key.livemode and key.scopes == ["connectors:read", "data:read"]
    assert secret not in str(APIKey.unscoped.filter(pk=key.pk).values().get()), "only a digest is stored"
    page = browser.get("/account/security").content.decode()
    assert secret not in page and key.masked in page
    assert api_client(secret).get("/api/v1/connectors").status_code == 200
    event = AuditEvent.unscoped.get(action="api_key.created", target_id=key.id)
    assert event.organization_id == tenant.org.id


def test_a_key_gets_no_scope_beyond_the_role(tenant):
    viewer = person(tenant, "viewer")
    browser = browser_for(viewer.user)
    sudo(browser)
    response = _create_key(browser, scopes=("connectors:write",))
    assert response.status_code == 400
    assert not APIKey.unscoped.filter(member=viewer).exists()


def test_rolling_needs_sudo_shows_the_new_secret_once_and_is_audited(tenant, clock):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    old_secret = _secret(_create_key(browser))
    old = APIKey.unscoped.get(member=developer)
    clock.advance(11 * 60)  # sudo has lapsed
    browser.get("/account")
    refused = browser.post(f"/account/security/keys/{old.id}/roll")
    assert refused["Location"].startswith("/account/sudo")
    sudo(browser)
    rolled = browser.post(f"/account/security/keys/{old.id}/roll")
    new_secret = _secret(rolled)
    assert new_secret != old_secret and old.masked in rolled.content.decode()
    old.refresh_from_db()
    assert old.rolled_to_id and old.expires_at is not None
    assert AuditEvent.unscoped.filter(action="api_key.rolled", target_id=old.id).exists()
    assert api_client(new_secret).get("/api/v1/connectors").status_code == 200
    # a key is rolled once
    again = browser.post(f"/account/security/keys/{old.id}/roll")
    assert again.status_code == 409


def test_revoking_works_at_once_and_is_audited(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    secret = _secret(_create_key(browser))
    key = APIKey.unscoped.get(member=developer)
    assert browser.post(f"/account/security/keys/{key.id}/revoke")["Location"] == "/account/security"
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_client(secret).get("/api/v1/connectors").status_code == 401
    assert AuditEvent.unscoped.filter(action="api_key.revoked", target_id=key.id).exists()
    assert "revoked" in browser.get("/account/security").content.decode()


def test_revoking_a_rolled_key_on_the_account_page_ends_the_key_it_replaced(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    old_secret = _secret(_create_key(browser))
    old = APIKey.unscoped.get(member=developer)
    new_secret = _secret(browser.post(f"/account/security/keys/{old.id}/roll"))
    new = APIKey.unscoped.get(member=developer, rolled_to__isnull=True)
    assert api_client(old_secret).get("/api/v1/connectors").status_code == 200  # in its grace period
    browser.post(f"/account/security/keys/{new.id}/revoke")
    assert api_client(new_secret).get("/api/v1/connectors").status_code == 401
    assert api_client(old_secret).get("/api/v1/connectors").status_code == 401
    assert set(AuditEvent.unscoped.filter(action="api_key.revoked").values_list("target_id", flat=True)) == {old.id, new.id}


def test_another_members_key_cannot_be_rolled_or_revoked(tenant, other_tenant):
    developer = person(tenant, "developer")
    tenant.key("viewer")  # a colleague's
    other_tenant.key("developer")  # someone's in another organization
    browser = browser_for(developer.user)
    sudo(browser)
    others = list(APIKey.unscoped.exclude(member=developer))
    assert len(others) == 2
    for key in others:
        for verb in ("roll", "revoke"):
            assert browser.post(f"/account/security/keys/{key.id}/{verb}").status_code == 404
        key.refresh_from_db()
        assert key.revoked_at is None and key.rolled_to_id is None
    assert browser.post("/account/security/keys/key_nope/unknown").status_code == 404


# The organization picker


@pytest.fixture
def two_organizations(tenant, other_tenant):
    developer = person(tenant, "developer")
    Member.unscoped.create(organization=other_tenant.org, user=developer.user, role="admin")
    return developer.user


def test_a_member_of_two_organizations_picks_one_and_keys_go_there(tenant, other_tenant, two_organizations, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    from tests.support.oauth import totp_code, totp_device

    from accounts.actions import mfa

    device = totp_device(two_organizations)  # an Admin in the second organization needs a second factor
    backup = mfa.replace_backup_codes(two_organizations)
    browser = browser_for(two_organizations, otp=totp_code(device))
    page = browser.get("/account").content.decode()
    assert "Acme" in page and "Globex" in page and "(working in)" in page
    sudo(browser, totp_code(device, 1))

    _secret(_create_key(browser, name="first"))
    assert APIKey.unscoped.get(name="first").organization_id == tenant.org.id, "the first membership by name"

    assert browser.post("/account", {"organization": other_tenant.org.id})["Location"] == "/account"
    assert browser.session["openpaas_organization"] == other_tenant.org.id
    assert "Your API keys in Globex" in browser.get("/account/security").content.decode()
    _secret(_create_key(browser, name="second", scopes=("org:admin",)))
    second = APIKey.unscoped.get(name="second")
    assert second.organization_id == other_tenant.org.id and second.member.role == "admin"

    # the choice belongs to this session, not to the account
    other_browser = browser_for(two_organizations, otp=backup[0])
    assert "Your API keys in Acme" in other_browser.get("/account/security").content.decode()


def test_choosing_an_organization_you_are_not_in_is_a_404(tenant, other_tenant, make_tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    for choice in (other_tenant.org.id, "org_doesnotexist", "", "' OR 1=1 --"):
        assert browser.post("/account", {"organization": choice}).status_code == 404
    assert "openpaas_organization" not in browser.session


def test_leaving_the_chosen_organization_falls_back_to_another(tenant, other_tenant, two_organizations, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    from tests.support.oauth import totp_code, totp_device

    device = totp_device(two_organizations)
    browser = browser_for(two_organizations, otp=totp_code(device))
    browser.post("/account", {"organization": other_tenant.org.id})
    Member.unscoped.filter(organization=other_tenant.org, user=two_organizations).delete()
    assert "Your API keys in Acme" in browser.get("/account/security").content.decode()


def test_account_pages_are_not_cached(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    for path in ("/account", "/account/security", "/account/security/enrol"):
        assert "no-store" in browser.get(path)["Cache-Control"], path
    assert "no-store" in Client().get("/login")["Cache-Control"]
