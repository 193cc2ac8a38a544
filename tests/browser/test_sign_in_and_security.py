"""In a real browser: signing in with a second factor, enrolling an authenticator from the secret on
the page, and an API key whose secret is shown once."""

import re

import pytest
from django_otp.oath import TOTP

from accounts.models import APIKey, AuthenticatorDevice
from tests.support.oauth import PASSWORD, person, totp_code, totp_device

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, email, password=PASSWORD):
    page.goto("/login")
    page.fill("#id_email", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def code_for(secret_base32):
    from base64 import b32decode

    totp = TOTP(b32decode(secret_base32), 30, 0, 6, 0)
    return f"{totp.token():06d}"


def test_sign_in_with_a_code_and_a_wrong_code_refused(page, tenant, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    sign_in(page, developer.user.email)
    page.wait_for_url(re.compile(r"/login/verify"))
    right = totp_code(device)
    page.fill("#id_code", "000000" if right != "000000" else "111111")
    page.click("button[type=submit]")
    assert "wrong or was already used" in page.inner_text("[role=alert]")
    page.fill("#id_code", right)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/account$"))
    assert developer.user.email in page.inner_text("h1")


def test_wrong_password_says_nothing_more_than_an_unknown_email(page, tenant):
    developer = person(tenant, "developer")
    sign_in(page, developer.user.email, "not the right password")
    wrong_password = page.inner_text("[role=alert]")
    sign_in(page, "nobody@example.com", "not the right password")
    assert page.inner_text("[role=alert]") == wrong_password


def test_an_admin_enrols_an_authenticator_from_the_secret_on_the_page(page, tenant):
    admin = person(tenant, "admin")
    sign_in(page, admin.user.email)
    page.wait_for_url(re.compile(r"/account/security/enrol"))  # an Admin must have a second factor first
    assert page.locator(".qr svg").count() == 1
    secret = page.inner_text("#totp-secret")
    page.fill("#id_code", code_for(secret))
    page.click("form:has(#id_code) button[type=submit]")
    codes = page.locator("#backup-codes li").all_inner_texts()
    assert len(codes) == 10
    assert AuthenticatorDevice.objects.get(user=admin.user).confirmed
    page.goto("/account/security")
    assert "Authenticator app: on" in page.inner_text("body")


def test_an_api_key_is_shown_once(page, tenant):
    developer = person(tenant, "developer")
    sign_in(page, developer.user.email)
    page.goto("/account/security")
    page.fill("#id_key_name", "laptop")
    page.check("input[name=scopes][value='connectors:read']")
    page.click("form:has(#id_key_name) button[type=submit]")
    page.wait_for_url(re.compile(r"/account/sudo"))  # creating a key needs the password again
    page.fill("#id_secret", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/account/security"))
    page.fill("#id_key_name", "laptop")
    page.check("input[name=scopes][value='connectors:read']")
    page.click("form:has(#id_key_name) button[type=submit]")
    secret = page.inner_text("#new-secret")
    assert secret.startswith("sk_test_")
    assert APIKey.unscoped.get(member=developer).last4 == secret[-4:]
    page.goto("/account/security")
    assert secret not in page.content()
    assert secret[:16] in page.inner_text("#api-keys")
