"""Browser sessions: the idle timeout (SESSION_COOKIE_AGE, moved by each request), the absolute
lifetime from sign-in (OPENPAAS_SESSION_ABSOLUTE_SECONDS), and ending sessions from the account security
page (one, or all others). ASVS 7.3.1, 7.3.2, 7.4.1, 7.5.2."""

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.models import UserSession
from audit.models import AuditEvent
from tests.accounts.browser_helpers import session_cookie, signed_in, sudo
from tests.support.oauth import browser_for, person

pytestmark = pytest.mark.django_db

IDLE = 30 * 60
ABSOLUTE = 12 * 3600


def test_the_defaults_are_30_idle_minutes_and_12_hours():
    assert django_settings.SESSION_COOKIE_AGE == IDLE
    assert django_settings.SESSION_SAVE_EVERY_REQUEST
    assert django_settings.OPENPAAS_SESSION_ABSOLUTE_SECONDS == ABSOLUTE


def _expiry(browser):
    return Session.objects.get(session_key=session_cookie(browser)).expire_date


def test_an_idle_session_ends(tenant, clock):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    clock.advance(IDLE + 1)
    assert not signed_in(browser)


def test_activity_moves_the_idle_expiry(tenant, clock):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    first = _expiry(browser)
    assert abs((first - timezone.now()).total_seconds() - IDLE) < 60
    for _ in range(4):  # two hours of activity, one request every 29 minutes
        clock.advance(IDLE - 60)
        assert signed_in(browser)
    assert (_expiry(browser) - first).total_seconds() > 4 * (IDLE - 60) - 60
    clock.advance(IDLE + 1)
    assert not signed_in(browser)


def test_the_idle_timeout_is_configurable(tenant, clock, settings):
    settings.SESSION_COOKIE_AGE = 120
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    clock.advance(100)
    assert signed_in(browser)
    clock.advance(121)
    assert not signed_in(browser)


def test_a_session_ends_at_its_absolute_lifetime_whatever_the_activity(tenant, clock, settings):
    settings.SESSION_COOKIE_AGE = 2 * ABSOLUTE  # so that only the absolute lifetime can end it
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    old = session_cookie(browser)
    clock.advance(ABSOLUTE - 60)
    assert signed_in(browser)
    clock.advance(61)
    response = browser.get("/account/security")
    assert response.status_code == 302 and response["Location"].startswith("/login?next=")
    assert not SessionStore().exists(old)
    assert not UserSession.objects.filter(session_key=old).exists()
    assert not signed_in(browser)


def test_the_absolute_lifetime_is_configurable(tenant, clock, settings):
    settings.OPENPAAS_SESSION_ABSOLUTE_SECONDS = 600
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    for _ in range(3):
        clock.advance(180)
        assert signed_in(browser)
    clock.advance(61)
    assert not signed_in(browser)


def test_a_session_not_made_by_our_sign_in_is_ended(tenant):
    developer = person(tenant, "developer")
    browser = Client()
    store = SessionStore()
    store["_auth_user_id"] = str(developer.user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = developer.user.get_session_auth_hash()
    store.create()
    browser.cookies[django_settings.SESSION_COOKIE_NAME] = store.session_key
    assert not signed_in(browser)


# The account security page


def _two_browsers(member):
    return browser_for(member.user), browser_for(member.user)


def test_the_security_page_lists_the_sessions_with_address_browser_and_activity(tenant):
    developer = person(tenant, "developer")
    browser_for(developer.user)
    phone = Client(HTTP_USER_AGENT="Phone browser/1.0", REMOTE_ADDR="198.51.100.7")
    assert phone.post("/login", {"email": developer.user.email, "password": "correct horse battery staple 42"}).status_code == 302
    page = phone.get("/account/security").content.decode()
    assert "198.51.100.7" in page and "Phone browser/1.0" in page and "127.0.0.1" in page
    assert page.count("this one") == 1
    record = UserSession.objects.get(session_key=session_cookie(phone))
    assert record.ip_address == "198.51.100.7" and record.user_agent == "Phone browser/1.0"


def test_ending_another_session_signs_that_browser_out(tenant):
    developer = person(tenant, "developer")
    laptop, phone = _two_browsers(developer)
    phone_record = UserSession.objects.get(session_key=session_cookie(phone))
    response = laptop.post("/account/security/sessions/end", {"session": phone_record.pk})
    assert response.status_code == 302
    assert not signed_in(phone)
    assert signed_in(laptop)
    assert not SessionStore().exists(phone_record.session_key)
    assert AuditEvent.unscoped.filter(action="auth.session_revoked", organization=tenant.org).exists()


def test_ending_all_other_sessions_keeps_this_one(tenant):
    developer = person(tenant, "developer")
    laptop, phone = _two_browsers(developer)
    tablet = browser_for(developer.user)
    laptop.post("/account/security/sessions/end", {"all": "others"})
    assert not signed_in(phone) and not signed_in(tablet)
    assert signed_in(laptop)
    assert list(UserSession.objects.filter(user=developer.user).values_list("session_key", flat=True)) == [session_cookie(laptop)]


def test_another_persons_session_cannot_be_ended(tenant):
    developer, viewer = person(tenant, "developer"), person(tenant, "viewer")
    mine = browser_for(developer.user)
    theirs = browser_for(viewer.user)
    record = UserSession.objects.get(session_key=session_cookie(theirs))
    mine.post("/account/security/sessions/end", {"session": record.pk})
    mine.post("/account/security/sessions/end", {"all": "others"})
    assert signed_in(theirs)


def test_a_malformed_session_choice_changes_nothing(tenant):
    developer = person(tenant, "developer")
    laptop, phone = _two_browsers(developer)
    for value in ("abc", "", "1.5", "-1", "99999999999999999999999"):
        response = laptop.post("/account/security/sessions/end", {"session": value})
        assert response.status_code in (302, 400), (value, response.status_code)
    assert signed_in(phone)


def test_ending_sessions_needs_a_signed_in_person():
    response = Client().post("/account/security/sessions/end", {"all": "others"})
    assert response.status_code == 302 and response["Location"].startswith("/login")


def test_sessions_that_ended_on_their_own_are_not_listed(tenant, clock):
    developer = person(tenant, "developer")
    old = browser_for(developer.user)
    old_key = session_cookie(old)
    clock.advance(IDLE + 1)  # the old browser went idle and its session expired
    fresh = browser_for(developer.user)
    page = fresh.get("/account/security").content.decode()
    assert page.count('name="session"') == 0, "an expired session offered for ending"
    assert not UserSession.objects.filter(session_key=old_key).exists()


def test_changing_the_password_ends_the_other_sessions(tenant):
    developer = person(tenant, "developer")
    laptop, phone = _two_browsers(developer)
    sudo(laptop)
    new = "a brand new passphrase 77"
    response = laptop.post("/account/security/password", {"old_password": "correct horse battery staple 42",
                                                          "new_password1": new, "new_password2": new})
    assert response.status_code == 200
    assert signed_in(laptop)
    assert not signed_in(phone)
    assert list(UserSession.objects.filter(user=developer.user).values_list("session_key", flat=True)) == [session_cookie(laptop)]
