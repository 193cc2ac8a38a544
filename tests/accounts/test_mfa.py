"""Second factors: enrolling an authenticator app (a QR code drawn on the server and the secret as
text, confirmed by a first code), ten backup codes shown once, secrets encrypted and backup codes hashed
at rest, back-off after wrong codes, sudo for new backup codes and for turning two-factor off, and the
policy: Admins and members of an organization that requires it enrol before anything else."""

import re
from base64 import b32decode

import pytest
from django.db import connection
from django.test import Client
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from accounts.actions import mfa
from accounts.models import AuthenticatorDevice, BackupCodeDevice
from audit.models import AuditEvent
from tests.accounts.browser_helpers import signed_in, sudo, wrong_code
from tests.support.oauth import (PASSWORD, browser_for, consent, make_application, person, sign_in, totp_code,
                                          totp_device)

pytestmark = pytest.mark.django_db

ENROL = "/account/security/enrol"


def _code_for(secret_b32, offset=0):
    totp = TOTP(b32decode(secret_b32), 30, 0, 6, offset)
    return f"{totp.token():06d}"


def _shown_secret(page):
    html = page.content.decode()
    return re.search(r'<code id="totp-secret">([A-Z2-7=]+)</code>', html).group(1)


def _codes_on(page):
    return re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page.content.decode())


def _enrol(browser):
    """Enrol through the page, as a person would; returns (secret shown, backup codes shown)."""
    page = browser.get(ENROL)
    assert page.status_code == 200, page
    secret = _shown_secret(page)
    confirmed = browser.post(ENROL, {"code": _code_for(secret)})
    assert confirmed.status_code == 200, confirmed.content.decode()[:500]
    return secret, _codes_on(confirmed)


# Enrolment


def test_the_enrolment_page_shows_an_svg_qr_code_drawn_on_the_server_and_the_secret(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    page = browser.get(ENROL)
    html = page.content.decode()
    assert page.status_code == 200
    assert re.search(r'<div class="qr"[^>]*>\s*(<\?xml[^>]*>\s*)?<svg', html), "an inline SVG"
    assert "<img" not in html and "<script" not in html and "http://" not in html.split("<svg", 1)[0].split("<head>")[1]
    secret = _shown_secret(page)
    assert len(b32decode(secret)) == 20, "160 bits"
    device = AuthenticatorDevice.objects.get(user=developer.user, confirmed=False)
    assert b32decode(secret) == device.bin_key
    # the same secret until it is confirmed (a reload does not start over)
    assert _shown_secret(browser.get(ENROL)) == secret


def test_the_qr_code_holds_the_otpauth_url():
    from accounts.models import User

    device = AuthenticatorDevice(key="00" * 20, user=User(email="a@example.com"))
    url = device.config_url()
    assert url.startswith("otpauth://totp/Open%20PaaS%3Aa%40example.com?")
    assert "secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" in url and "issuer=Open+PaaS" in url
    svg = mfa.qr_svg(url)
    assert "<svg" in svg and "<path" in svg


def test_a_code_from_the_shown_secret_confirms_it_and_ten_backup_codes_are_shown_once(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    secret, codes = _enrol(browser)
    assert len(codes) == 10 and len(set(codes)) == 10
    device = AuthenticatorDevice.objects.get(user=developer.user)
    assert device.confirmed
    assert browser.session.get("otp_device_id") == device.persistent_id, "this session passed the second factor"
    assert AuditEvent.unscoped.filter(action="mfa.enrolled", organization=tenant.org).exists()
    # never again: not on the security page, not on the enrolment page (which now sends you back)
    security = browser.get("/account/security").content.decode()
    assert not any(code in security for code in codes) and secret not in security
    assert browser.get(ENROL)["Location"] == "/account/security"
    # the next sign-in needs a code
    assert sign_in(Client(), developer.user.email)["Location"] == "/login/verify"
    fresh = Client()
    sign_in(fresh, developer.user.email)
    assert fresh.post("/login/verify", {"code": codes[0]})["Location"] == "/account"


def test_a_wrong_first_code_does_not_confirm(tenant, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    page = browser.get(ENROL)
    secret = _shown_secret(page)
    right = {_code_for(secret, offset) for offset in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333") if code not in right)
    response = browser.post(ENROL, {"code": wrong})
    assert response.status_code == 400 and _shown_secret(response) == secret
    assert not AuthenticatorDevice.objects.filter(user=developer.user, confirmed=True).exists()
    assert not BackupCodeDevice.objects.filter(user=developer.user).exists()
    assert sign_in(Client(), developer.user.email)["Location"] == "/account", "still no second step"


def test_a_person_with_an_authenticator_cannot_enrol_another_without_removing_it(tenant):
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    browser = browser_for(developer.user, otp=totp_code(device))
    assert browser.get(ENROL)["Location"] == "/account/security"
    response = browser.post(ENROL, {"code": "123456"})
    assert response.status_code == 302
    assert AuthenticatorDevice.objects.filter(user=developer.user).count() == 1


# At rest


def _raw_rows(table, user_id):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE user_id = %s", [user_id])  # noqa: S608 - fixed table names
        return [" ".join(str(value) for value in row) for row in cursor.fetchall()]


def test_the_totp_secret_is_not_stored_in_plaintext(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    secret, codes = _enrol(browser)
    device = AuthenticatorDevice.objects.get(user=developer.user)
    rows = _raw_rows(AuthenticatorDevice._meta.db_table, developer.user.pk)
    assert len(rows) == 1
    raw = rows[0]
    for form in (secret, secret.lower(), device.key, device.key.upper(), b32decode(secret).decode("latin-1")):
        assert form not in raw


def test_backup_codes_are_stored_only_as_hashes(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    _, codes = _enrol(browser)
    raw = " ".join(_raw_rows(BackupCodeDevice._meta.db_table, developer.user.pk))
    for code in codes:
        for form in (code, code.replace("-", ""), code.upper(), code.replace("-", "").upper()):
            assert form not in raw
    assert len(BackupCodeDevice.objects.get(user=developer.user).code_digests) == 10


# Back-off


def test_wrong_codes_back_off(tenant, settings, clock):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1  # after n wrong codes, 2**(n-1) seconds
    settings.AXES_FAILURE_LIMIT = 50
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    browser = Client()
    sign_in(browser, developer.user.email)
    assert browser.post("/login/verify", {"code": wrong_code(device)}).status_code == 200
    # 1 second after the first wrong code, 2 after the second, 4 after the third; codes sent sooner are
    # not checked at all (the right one neither)
    held = browser.post("/login/verify", {"code": totp_code(device)})
    assert held.status_code == 429 and "Wait 1 second" in held.content.decode() and held["Retry-After"] == "1"
    assert "wrong" not in held.content.decode().replace("Too many wrong codes", "")
    clock.advance(1.1)
    assert browser.post("/login/verify", {"code": wrong_code(device)}).status_code == 200
    clock.advance(2.1)
    assert browser.post("/login/verify", {"code": wrong_code(device)}).status_code == 200
    device.refresh_from_db()
    assert device.throttling_failure_count == 3
    clock.advance(3)  # 4 seconds are needed after the third
    throttled = browser.post("/login/verify", {"code": totp_code(device)})
    assert throttled.status_code == 429 and not signed_in(browser)
    assert "wait 1 second" in throttled.content.decode().lower()
    clock.advance(1.1)
    assert browser.post("/login/verify", {"code": totp_code(device)})["Location"] == "/account"
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


# Every other place a code is checked says so too, and for how long, instead of calling the right code
# wrong: the JWT endpoint, sudo and enrolment. A code held back is not checked, so it is no failure.


def test_the_jwt_endpoint_says_a_code_is_held_back_and_for_how_long(tenant, settings, clock):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    client = APIClient()

    def token(otp):
        return client.post("/api/v1/auth/token", {"email": developer.user.email, "password": PASSWORD,
                                                  "organization": tenant.org.id, "otp": otp}, format="json")

    assert token(wrong_code(device)).json()["error"]["code"] == "mfa_invalid"
    held = token(totp_code(device))
    assert held.status_code == 429 and held["Retry-After"] == "1", held.content
    error = held.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "mfa_backing_off")
    assert error["message"] == "Too many wrong codes. Wait 1 second and try again."
    assert AuditEvent.unscoped.filter(action="auth.login_failed").count() == 1, "the held-back code is no failure"
    clock.advance(1.1)
    assert token(totp_code(device)).status_code == 200


def test_sudo_says_a_code_is_held_back_and_for_how_long(tenant, settings, clock):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    developer = person(tenant, "developer")
    browser, device = _enrolled_browser(developer)
    assert browser.post("/account/sudo", {"secret": wrong_code(device)}).status_code == 400
    held = browser.post("/account/sudo", {"secret": totp_code(device, 1)})  # the sign-in spent this step's
    page = held.content.decode()
    assert held.status_code == 429 and held["Retry-After"] == "1"
    assert "Too many wrong codes. Wait 1 second and try again." in page and "neither" not in page
    assert AuditEvent.unscoped.filter(action="auth.login_failed").count() == 1
    clock.advance(1.1)
    assert browser.post("/account/sudo", {"secret": totp_code(device, 1)}).status_code == 302


def test_sudo_with_backup_codes_held_back_says_so(tenant, settings, clock):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    developer = person(tenant, "developer")
    browser, _ = _enrolled_browser(developer)
    codes = mfa.replace_backup_codes(developer.user)
    assert browser.post("/account/sudo", {"secret": "aaaa-bbbb-cccc"}).status_code == 400
    # a backup code's shape could also be a password's, so it is tried as that: wrong, but the page says why
    held = browser.post("/account/sudo", {"secret": codes[0]})
    assert held.status_code == 400 and "Too many wrong codes. Wait 1 second" in held.content.decode()
    clock.advance(1.1)
    assert browser.post("/account/sudo", {"secret": codes[0]}).status_code == 302


def test_enrolment_says_a_code_is_held_back_and_for_how_long(tenant, settings, clock):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    secret = _shown_secret(browser.get(ENROL))
    right = {_code_for(secret, offset) for offset in (-1, 0, 1)}
    assert browser.post(ENROL, {"code": next(c for c in ("000000", "111111", "222222") if c not in right)}).status_code == 400
    held = browser.post(ENROL, {"code": _code_for(secret)})
    page = held.content.decode()
    assert held.status_code == 429 and held["Retry-After"] == "1"
    assert "Too many wrong codes. Wait 1 second and try again." in page and "not right" not in page
    assert _shown_secret(held) == secret
    clock.advance(1.1)
    assert browser.post(ENROL, {"code": _code_for(secret)}).status_code == 200
    assert AuthenticatorDevice.objects.get(user=developer.user).confirmed


def test_the_back_off_factor_is_the_setting():
    from django.conf import settings

    assert settings.OTP_TOTP_THROTTLE_FACTOR >= 1
    assert AuthenticatorDevice().get_throttle_factor() == settings.OTP_TOTP_THROTTLE_FACTOR


def test_a_backup_code_does_not_count_as_a_wrong_authenticator_code(tenant):
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    codes = mfa.replace_backup_codes(developer.user)
    browser = Client()
    sign_in(browser, developer.user.email)
    assert browser.post("/login/verify", {"code": codes[0]})["Location"] == "/account"
    device.refresh_from_db()
    assert device.throttling_failure_count == 0
    # and a wrong authenticator code does not hold up the backup codes
    again = Client()
    sign_in(again, developer.user.email)
    again.post("/login/verify", {"code": wrong_code(device)})
    assert BackupCodeDevice.objects.get(user=developer.user).throttling_failure_count == 0
    assert again.post("/login/verify", {"code": codes[1]})["Location"] == "/account"


# Backup codes and turning two-factor off, behind sudo


def _enrolled_browser(member):
    device = totp_device(member.user)
    mfa.replace_backup_codes(member.user)
    return browser_for(member.user, otp=totp_code(device)), device


def test_new_backup_codes_need_sudo_and_replace_the_old_ones(tenant, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the old code tried first would hold up the new one
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    old_codes = mfa.replace_backup_codes(developer.user)
    browser = browser_for(developer.user, otp=totp_code(device))
    refused = browser.post("/account/security/backup-codes", HTTP_REFERER="http://testserver/account/security")
    assert refused.status_code == 302 and refused["Location"].startswith("/account/sudo?next=")
    sudo(browser)
    page = browser.post("/account/security/backup-codes")
    new_codes = _codes_on(page)
    assert page.status_code == 200 and len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert AuditEvent.unscoped.filter(action="mfa.backup_codes_regenerated", organization=tenant.org).exists()

    for code, works in ((old_codes[0], False), (new_codes[0], True)):
        attempt = Client()
        sign_in(attempt, developer.user.email)
        assert (attempt.post("/login/verify", {"code": code}).status_code == 302) is works


def test_sudo_takes_the_password_or_a_current_code_once(tenant, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    developer = person(tenant, "developer")
    browser, device = _enrolled_browser(developer)
    code = totp_code(device, 1)
    assert browser.post("/account/sudo", {"secret": code})["Location"] == "/account/security"
    session = browser.session
    del session["openpaas_sudo_at"]
    session.save()
    assert browser.post("/account/sudo", {"secret": code}).status_code == 400, "a code works once"
    assert browser.post("/account/sudo", {"secret": "not my password at all"}).status_code == 400
    assert browser.post("/account/sudo", {"secret": PASSWORD}).status_code == 302


def test_sudo_expires_after_ten_minutes(tenant, clock):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    assert browser.get("/account/security/password").status_code == 200
    clock.advance(9 * 60)
    assert browser.get("/account/security/password").status_code == 200
    clock.advance(61)
    assert browser.get("/account/security/password")["Location"].startswith("/account/sudo")


def test_confirming_sudo_with_codes_does_not_lock_the_account(tenant, settings):
    # a code typed into sudo is not a wrong password
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    developer = person(tenant, "developer")
    browser, device = _enrolled_browser(developer)
    codes = mfa.replace_backup_codes(developer.user)
    for code in codes[: settings.AXES_FAILURE_LIMIT + 1]:
        session = browser.session
        session.pop("openpaas_sudo_at", None)
        session.save()
        assert browser.post("/account/sudo", {"secret": code}).status_code == 302
    assert sign_in(Client(), developer.user.email)["Location"] == "/login/verify"


def test_sudo_failures_count_toward_the_lockout(tenant, settings):
    settings.AXES_FAILURE_LIMIT = 3
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    for _ in range(3):
        browser.post("/account/sudo", {"secret": "not my password at all"})
    assert browser.post("/account/sudo", {"secret": PASSWORD}).status_code in (400, 429)
    assert sign_in(Client(), developer.user.email).status_code == 429


def test_turning_two_factor_off_needs_sudo(tenant):
    developer = person(tenant, "developer")
    browser, _ = _enrolled_browser(developer)
    refused = browser.post("/account/security/second-factors/remove")
    assert refused["Location"].startswith("/account/sudo")
    assert AuthenticatorDevice.objects.filter(user=developer.user).exists()
    sudo(browser)
    assert browser.post("/account/security/second-factors/remove")["Location"] == "/account/security"
    assert not AuthenticatorDevice.objects.filter(user=developer.user).exists()
    assert not BackupCodeDevice.objects.filter(user=developer.user).exists()
    assert AuditEvent.unscoped.filter(action="mfa.disabled", organization=tenant.org).count() == 1
    assert sign_in(Client(), developer.user.email)["Location"] == "/account"
    # turning off again what is already off changes nothing, and says nothing in the log
    assert browser.post("/account/security/second-factors/remove")["Location"] == "/account/security"
    assert AuditEvent.unscoped.filter(action="mfa.disabled", organization=tenant.org).count() == 1


def test_admins_cannot_turn_two_factor_off(tenant):
    admin = person(tenant, "admin")
    browser, _ = _enrolled_browser(admin)
    assert "Turn off" not in browser.get("/account/security").content.decode()
    sudo(browser)
    assert browser.post("/account/security/second-factors/remove").status_code == 409
    assert AuthenticatorDevice.objects.filter(user=admin.user).exists()


def test_members_of_an_organization_that_requires_it_cannot_turn_it_off(tenant):
    tenant.org.require_mfa = True
    tenant.org.save()
    viewer = person(tenant, "viewer")
    browser, _ = _enrolled_browser(viewer)
    sudo(browser)
    assert browser.post("/account/security/second-factors/remove").status_code == 409
    assert AuthenticatorDevice.objects.filter(user=viewer.user).exists()


# Policy: enrol before anything else


@pytest.fixture(params=["admin", "require_mfa"])
def must_enrol(request, tenant):
    if request.param == "admin":
        return person(tenant, "admin")
    tenant.org.require_mfa = True
    tenant.org.save()
    return person(tenant, "viewer")


def test_a_person_who_must_enrol_is_sent_to_enrolment_after_the_password(tenant, must_enrol):
    browser = Client()
    response = sign_in(browser, must_enrol.user.email)
    assert response.status_code == 302
    page = browser.get(response["Location"], follow=True)
    assert page.redirect_chain[-1][0] == ENROL if page.redirect_chain else response["Location"] == ENROL
    assert page.status_code == 200 and "requires it" in page.content.decode()


def test_a_person_who_must_enrol_can_open_nothing_else(tenant, must_enrol):
    browser = browser_for(must_enrol.user)
    application, _ = make_application(tenant)
    for path in ("/account", "/account/security", "/account/sudo", "/account/security/password", "/admin/",
                 "/oauth/authorize/?response_type=code&client_id=" + application.client_id):
        response = browser.get(path)
        assert response.status_code == 302 and response["Location"] == ENROL, path
    for path in ("/account/security/keys", "/account/security/backup-codes", "/account/security/sessions/end",
                 "/account/sudo", "/account", "/admin/login/"):
        response = browser.post(path, {"secret": PASSWORD, "name": "k", "scopes": ["connectors:read"], "all": "others"})
        assert response.status_code == 302 and response["Location"] == ENROL, path
    assert browser.get(ENROL).status_code == 200
    assert browser.post("/logout").status_code == 200


def test_after_enrolling_everything_opens(tenant, must_enrol):
    browser = browser_for(must_enrol.user)
    _enrol(browser)
    assert browser.get("/account").status_code == 200
    assert browser.get("/account/security").status_code == 200


def test_the_jwt_endpoint_refuses_a_person_who_must_enrol(tenant, must_enrol):
    response = APIClient().post("/api/v1/auth/token", {"email": must_enrol.user.email, "password": PASSWORD,
                                                       "organization": tenant.org.id}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "mfa_enrollment_required"
    wrong = APIClient().post("/api/v1/auth/token", {"email": must_enrol.user.email, "password": "not the password",
                                                    "organization": tenant.org.id}, format="json")
    assert wrong.json()["error"]["code"] == "invalid_credentials", "nothing said before the password is right"
    device = totp_device(must_enrol.user)
    done = APIClient().post("/api/v1/auth/token", {"email": must_enrol.user.email, "password": PASSWORD,
                                                   "organization": tenant.org.id, "otp": totp_code(device)}, format="json")
    assert done.status_code == 200


def test_an_admin_with_a_device_gives_the_code_and_then_reaches_consent(tenant):
    admin = person(tenant, "admin")
    device = totp_device(admin.user)
    browser = browser_for(admin.user, otp=totp_code(device))
    application, _ = make_application(tenant)
    page, _ = consent(browser, application, allow=False, challenge="x" * 43)
    assert page.status_code == 200
