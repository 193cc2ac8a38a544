"""Brute force (django-axes): an account is locked after AXES_FAILURE_LIMIT (5) failures from one address
and after AXES_ACCOUNT_FAILURE_LIMIT (20) from all addresses together, until the cool-off (15 minutes);
even the right password (and code) is refused meanwhile, with 429, Retry-After and a page that says when
to try again. Each entry point counts: the sign-in page, its second step, and the JWT endpoint. The
client address comes from X-Forwarded-For only when the peer is a trusted proxy (ASVS 6.3.1, 4.1.3)."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import UserSession
from audit.models import AuditEvent
from tests.accounts.browser_helpers import signed_in, wrong_code
from tests.support.oauth import PASSWORD, person, sign_in, totp_code, totp_device

pytestmark = pytest.mark.django_db

COOL_OFF = 15 * 60


@pytest.fixture(autouse=True)
def _defaults(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the back-off is tested in test_mfa.py; here every code is checked
    assert settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_ACCOUNT_FAILURE_LIMIT == 20
    assert settings.AXES_COOLOFF_TIME == timedelta(seconds=COOL_OFF)
    assert settings.AXES_HANDLER == "accounts.auth.attempts.LockoutHandler"


def address(n):
    return f"198.51.100.{n}"


def later(monkeypatch, seconds):
    """Move django-axes' clock (the attempt times it records and compares) forward."""
    moved = timezone.now() + timedelta(seconds=seconds)
    monkeypatch.setattr("axes.handlers.proxy.now", lambda: moved)


def assert_locked_page(response, near=COOL_OFF):
    assert response.status_code == 429, (response.status_code, response.content[:300])
    wait = int(response["Retry-After"])
    assert near - 30 <= wait <= near, wait
    html = response.content.decode()
    assert f"Try again in {-(-wait // 60)} minutes" in html, html


def assert_locked_json(response, near=COOL_OFF):
    assert response.status_code == 429, (response.status_code, response.content[:300])
    wait = int(response["Retry-After"])
    assert near - 30 <= wait <= near, wait
    assert response.json()["error"]["type"] == "rate_limit_error"


class SignInPage:
    """POST /login: email and password."""

    name = "login"

    def __init__(self, member):
        self.member = member

    def fail(self, ip, **headers):
        return Client(REMOTE_ADDR=ip, **headers).post("/login", {"email": self.member.user.email, "password": "not the password"})

    def succeed(self, ip, **headers):
        """The right credentials: the response (302 when let in)."""
        return Client(REMOTE_ADDR=ip, **headers).post("/login", {"email": self.member.user.email, "password": PASSWORD})

    def let_in(self, response):
        return response.status_code == 302

    assert_locked = staticmethod(assert_locked_page)


class VerifyStep:
    """POST /login/verify: the second step, after the right password (which does not count)."""

    name = "login/verify"

    def __init__(self, member):
        self.member = member
        self.device = totp_device(member.user)
        self.browsers = {}

    def _at_second_step(self, ip, **headers):
        key = (ip, tuple(sorted(headers.items())))
        if key not in self.browsers:
            browser = Client(REMOTE_ADDR=ip, **headers)
            response = browser.post("/login", {"email": self.member.user.email, "password": PASSWORD})
            assert response.status_code == 302 and response["Location"] == "/login/verify", response
            self.browsers[key] = browser
        return self.browsers[key]

    def prepare(self, ip, **headers):
        """Reach the second step now (before a lockout would refuse the first one)."""
        self._at_second_step(ip, **headers)

    def fail(self, ip, **headers):
        return self._at_second_step(ip, **headers).post("/login/verify", {"code": wrong_code(self.device)})

    def succeed(self, ip, **headers):
        browser = self._at_second_step(ip, **headers)
        self.last = browser
        return browser.post("/login/verify", {"code": self._unused_code()})

    def _unused_code(self):
        """A valid code of a time step not used yet (a code works once: 6.5.1)."""
        self.device.refresh_from_db()
        now_t = int(time.time()) // self.device.step
        offset = next(o for o in (-1, 0, 1) if now_t + o > self.device.last_t)
        return totp_code(self.device, offset)

    def let_in(self, response):
        return response.status_code == 302 and response["Location"] == "/account" and signed_in(self.last)

    assert_locked = staticmethod(assert_locked_page)


class TokenEndpoint:
    """POST /api/v1/auth/token."""

    name = "api/v1/auth/token"

    def __init__(self, member):
        self.member = member

    def _post(self, ip, password, **headers):
        return APIClient().post("/api/v1/auth/token", {"email": self.member.user.email, "password": password,
                                                      "organization": self.member.organization_id},
                                format="json", REMOTE_ADDR=ip, **headers)

    def fail(self, ip, **headers):
        response = self._post(ip, "not the password", **headers)
        assert response.status_code in (401, 429)
        return response

    def succeed(self, ip, **headers):
        return self._post(ip, PASSWORD, **headers)

    def let_in(self, response):
        return response.status_code == 200 and "access" in response.json()

    assert_locked = staticmethod(assert_locked_json)


ENTRY_POINTS = [SignInPage, VerifyStep, TokenEndpoint]


@pytest.fixture(params=ENTRY_POINTS, ids=lambda kind: kind.name)
def entry(request, tenant):
    return request.param(person(tenant, "developer"))


def prepare(entry, *ips, **headers):
    for ip in ips:
        if hasattr(entry, "prepare"):
            entry.prepare(ip, **headers)


# Five from one address


def test_five_failures_from_one_address_lock_the_account_there_even_with_the_right_password(entry, monkeypatch):
    prepare(entry, address(1), address(2))
    for n in range(4):
        assert entry.fail(address(1)).status_code != 429, n
    entry.assert_locked(entry.fail(address(1)))  # the fifth is answered as locked
    entry.assert_locked(entry.succeed(address(1)))
    assert entry.let_in(entry.succeed(address(2))), "the same account from another address"
    later(monkeypatch, 10 * 60)
    entry.assert_locked(entry.succeed(address(1)), near=5 * 60)  # says how long is left
    later(monkeypatch, COOL_OFF + 1)
    assert entry.let_in(entry.succeed(address(1))), "after the cool-off"


def test_the_lock_is_per_account(tenant, entry):
    other = person(tenant, "viewer")
    for _ in range(5):
        entry.fail(address(1))
    assert SignInPage(other).let_in(SignInPage(other).succeed(address(1)))


def test_a_refused_attempt_does_not_extend_the_lock(entry, monkeypatch):
    for _ in range(5):
        entry.fail(address(1))
    later(monkeypatch, 10 * 60)
    for _ in range(3):
        entry.assert_locked(entry.fail(address(1)), near=5 * 60)
    later(monkeypatch, COOL_OFF + 1)
    assert entry.let_in(entry.succeed(address(1)))


# Twenty from anywhere


def test_twenty_failures_from_many_addresses_lock_the_account_everywhere(entry, monkeypatch):
    prepare(entry, *[address(n) for n in range(1, 8)])
    for n in range(1, 6):  # four from each of five addresses: none reaches five
        for _ in range(4):
            response = entry.fail(address(n))
        assert response.status_code != 429 or n == 5
    entry.assert_locked(response)  # the twentieth
    for n in (6, 7):  # addresses that never failed
        entry.assert_locked(entry.succeed(address(n)))
    later(monkeypatch, COOL_OFF + 1)
    assert entry.let_in(entry.succeed(address(6)))


def test_nineteen_failures_from_many_addresses_do_not_lock(entry):
    prepare(entry, *[address(n) for n in range(1, 8)])
    for n in range(1, 5):
        for _ in range(4):
            entry.fail(address(n))
    for _ in range(3):
        entry.fail(address(5))
    assert entry.let_in(entry.succeed(address(7)))


def test_both_limits_are_configurable(tenant, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 4
    page = SignInPage(person(tenant, "developer"))
    page.fail(address(1)), page.fail(address(1))
    page.assert_locked(page.fail(address(1)))
    assert page.let_in(page.succeed(address(2)))  # a success from address 2 resets only address 2
    page.fail(address(3))
    page.assert_locked(page.succeed(address(4)))  # 3 + 1 from all addresses


def test_browser_and_api_failures_add_up(tenant):
    developer = person(tenant, "developer")
    page, api = SignInPage(developer), TokenEndpoint(developer)
    for _ in range(2):
        page.fail(address(1))
    for _ in range(2):
        api.fail(address(1))
    api.assert_locked(api.fail(address(1)))
    page.assert_locked(page.succeed(address(1)))


def test_a_locked_unknown_email_looks_like_a_locked_account(tenant):
    developer = person(tenant, "developer")
    local, domain = developer.user.email.split("@")
    nobody = "z" * len(local) + "@" + domain
    for email in (developer.user.email, nobody):
        for _ in range(5):
            last = Client(REMOTE_ADDR=address(1)).post("/login", {"email": email, "password": "not the password"})
        assert last.status_code == 429
    known = Client(REMOTE_ADDR=address(1)).post("/login", {"email": developer.user.email, "password": PASSWORD})
    unknown = Client(REMOTE_ADDR=address(1)).post("/login", {"email": nobody, "password": PASSWORD})
    assert known.status_code == unknown.status_code == 429


def test_nothing_is_granted_while_locked(tenant):
    developer = person(tenant, "developer")
    page = SignInPage(developer)
    for _ in range(5):
        page.fail(address(1))
    browser = Client(REMOTE_ADDR=address(1))
    browser.post("/login", {"email": developer.user.email, "password": PASSWORD})
    assert "_auth_user_id" not in browser.session and not UserSession.objects.exists()


def test_what_is_kept_of_a_failure_holds_no_password_or_code(tenant):
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    secret_password = "a wrong but secret passphrase 123"
    Client().post("/login", {"email": developer.user.email, "password": secret_password})
    browser = Client()
    browser.post("/login", {"email": developer.user.email, "password": PASSWORD})
    code = wrong_code(device)
    browser.post("/login/verify", {"code": code})
    signed = Client()
    signed.force_login(developer.user)
    signed.post("/account/sudo", {"secret": secret_password + " sudo"})
    kept = " ".join(f"{a.post_data} {a.get_data}" for a in AccessAttempt.objects.all())
    assert AccessAttempt.objects.exists()
    assert secret_password not in kept
    assert code not in kept


# The client address (4.1.3)


def test_a_new_x_forwarded_for_on_each_try_from_an_untrusted_peer_still_locks(entry, settings):
    settings.OPENPAAS_TRUSTED_PROXIES = []
    prepare(entry, address(1), HTTP_X_FORWARDED_FOR="203.0.113.99")
    for n in range(5):
        response = entry.fail(address(1), HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    entry.assert_locked(response)
    entry.assert_locked(entry.succeed(address(1), HTTP_X_FORWARDED_FOR="203.0.113.99"))


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(entry, settings):
    settings.OPENPAAS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = "10.1.2.3"
    prepare(entry, proxy, HTTP_X_FORWARDED_FOR="203.0.113.1")
    prepare(entry, proxy, HTTP_X_FORWARDED_FOR="203.0.113.2")
    for _ in range(5):
        response = entry.fail(proxy, HTTP_X_FORWARDED_FOR="203.0.113.1")
    entry.assert_locked(response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.1"}
    entry.assert_locked(entry.succeed(proxy, HTTP_X_FORWARDED_FOR="203.0.113.1"))
    assert entry.let_in(entry.succeed(proxy, HTTP_X_FORWARDED_FOR="203.0.113.2")), "another client behind the proxy"


def test_a_client_cannot_pass_itself_off_as_the_trusted_proxy(tenant, settings):
    # The proxy's own address in X-Forwarded-For, sent by an untrusted peer, is ignored like any other.
    settings.OPENPAAS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    page = SignInPage(person(tenant, "developer"))
    for n in range(5):
        response = page.fail(address(1), HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.{n}")
    page.assert_locked(response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {address(1)}


# Audited: every failure, and the lock (ASVS 16.3.1)


def test_each_failure_and_the_lock_are_audited(entry):
    for n in range(5):
        entry.fail(address(1))
    failures = AuditEvent.unscoped.filter(action="auth.login_failed", organization=entry.member.organization)
    assert failures.count() == 5
    step = "password" if entry.name != "login/verify" else "second_factor"
    assert {event.metadata["step"] for event in failures} == {step}
    assert AuditEvent.unscoped.filter(action="auth.locked_out", actor_id=entry.member.id).count() == 1
    entry.fail(address(1))  # refused while locked: no second lock event
    assert AuditEvent.unscoped.filter(action="auth.locked_out", actor_id=entry.member.id).count() == 1


def test_sudo_failures_count_and_the_locking_one_answers_on_the_sudo_page(tenant):
    member = person(tenant, "developer")
    browser = Client(REMOTE_ADDR=address(1))
    assert sign_in(browser, member.user.email).status_code == 302
    for _ in range(4):
        assert browser.post("/account/sudo", {"secret": "not the password"}).status_code == 400
    locking = browser.post("/account/sudo", {"secret": "not the password"})
    assert_locked_page(locking)
    assert b'name="secret"' in locking.content, "the sudo form, not the sign-in form"
    assert AuditEvent.unscoped.filter(action="auth.login_failed", metadata__step="sudo").count() == 5
