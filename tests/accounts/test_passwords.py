"""Passwords: 12 characters or more, not a common password, up to 128 characters accepted and never
truncated, hashed with Argon2 (ASVS 6.2.1, 6.2.4, 6.2.8, 6.2.9, 11.4.2); through the password change page
(behind sudo) and the invitation page."""

import secrets
from datetime import timedelta

import pytest
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from accounts.actions import invitations
from accounts.models import Invitation, User
from audit.models import AuditEvent
from tests.accounts.browser_helpers import signed_in, sudo
from tests.support.oauth import PASSWORD, browser_for, person, sign_in

pytestmark = pytest.mark.django_db

LONG = "".join(secrets.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789 !#%&") for _ in range(127)) + "Z"
SHORT = "Tr0ub4dor&3"  # 11 characters, not common
COMMON = ["password1234", "qwerty123456", "123456789012"]


def test_the_validators_refuse_short_and_common_passwords_and_accept_long_ones():
    assert len(SHORT) == 11 and len(LONG) == 128
    with pytest.raises(ValidationError):
        password_validation.validate_password(SHORT)
    for common in COMMON:
        with pytest.raises(ValidationError):
            password_validation.validate_password(common)
    password_validation.validate_password(LONG)
    password_validation.validate_password("Tr0ub4dor&3x")  # 12 is enough


def test_the_password_is_hashed_with_argon2(tenant):
    developer = person(tenant, "developer")
    stored = User.objects.filter(pk=developer.user.pk).values_list("password", flat=True).get()
    assert stored.startswith("argon2$argon2id$")
    assert identify_hasher(stored).algorithm == "argon2"
    assert PASSWORD not in stored


def test_production_hashes_with_djangos_argon2_at_its_cost(settings):
    """The suite hashes with a cheap Argon2 (tests/settings.py); production's settings name Django's."""
    import config.settings as production
    from django.contrib.auth.hashers import Argon2PasswordHasher, make_password

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    stored = make_password(PASSWORD)
    hasher = Argon2PasswordHasher()
    params = hasher.decode(stored)["params"]
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    assert hasher.memory_cost >= 19 * 1024 and hasher.time_cost >= 2  # OWASP's Argon2id floor, and above


# The password change page


def _change(browser, new, old=PASSWORD, again=None):
    return browser.post("/account/security/password", {"old_password": old, "new_password1": new,
                                                        "new_password2": new if again is None else again})


def test_changing_the_password_needs_sudo(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    page = browser.get("/account/security/password")
    assert page.status_code == 302 and page["Location"].startswith("/account/sudo?next=")
    response = _change(browser, "a brand new passphrase 77")
    assert response.status_code == 302 and response["Location"].startswith("/account/sudo")
    developer.user.refresh_from_db()
    assert developer.user.check_password(PASSWORD)
    sudo(browser)
    assert browser.get("/account/security/password").status_code == 200


@pytest.mark.parametrize("new", [SHORT, *COMMON])
def test_the_change_page_refuses_short_and_common_passwords(tenant, new):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    response = _change(browser, new)
    assert response.status_code == 400
    developer.user.refresh_from_db()
    assert developer.user.check_password(PASSWORD)


def test_the_change_page_refuses_a_password_like_the_email(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    assert _change(browser, developer.user.email).status_code == 400


def test_the_change_page_needs_the_current_password_and_the_same_new_one_twice(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    assert _change(browser, "a brand new passphrase 77", old="not my password at all").status_code == 400
    assert _change(browser, "a brand new passphrase 77", again="a brand new passphrase 78").status_code == 400
    developer.user.refresh_from_db()
    assert developer.user.check_password(PASSWORD)


def test_a_128_character_password_works_exactly_and_is_not_truncated(tenant, settings):
    settings.AXES_FAILURE_LIMIT = 50  # the near misses below must not lock the account
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    response = _change(browser, LONG)
    assert response.status_code == 200 and b"Your password is changed" in response.content
    assert signed_in(browser), "the session that changed the password goes on"
    stored = User.objects.filter(pk=developer.user.pk).values_list("password", flat=True).get()
    assert stored.startswith("argon2$")

    assert sign_in(Client(), developer.user.email, LONG)["Location"] == "/account"
    for near in (LONG[:-1], LONG[:72], LONG[:64], LONG + "x", PASSWORD):
        response = sign_in(Client(), developer.user.email, near)
        assert response.status_code == 200, f"{len(near)} characters signed in"


# The invitation page


def _invitation(tenant, email="joiner@example.com"):
    token = secrets.token_urlsafe(32)
    Invitation.unscoped.create(organization=tenant.org, email=email, role="developer", token_digest=invitations._digest(token),
                              invited_by=tenant.member("admin"), expires_at=timezone.now() + timedelta(days=7))
    return f"/invitations/{token}"


@pytest.mark.parametrize("new", [SHORT, *COMMON, "joiner@example.com"])
def test_the_invitation_page_refuses_short_and_common_passwords(tenant, new):
    link = _invitation(tenant)
    response = Client().post(link, {"password": new, "confirm": new})
    assert response.status_code == 400
    assert not User.objects.filter(email="joiner@example.com").exists()


def test_the_invitation_page_takes_a_128_character_password_exactly(tenant):
    link = _invitation(tenant)
    browser = Client()
    response = browser.post(link, {"password": LONG, "confirm": LONG})
    assert response.status_code == 302
    user = User.objects.get(email="joiner@example.com")
    assert user.password.startswith("argon2$")
    assert sign_in(Client(), user.email, LONG).status_code == 302
    assert sign_in(Client(), user.email, LONG[:-1]).status_code == 200


def test_the_invitation_page_refuses_two_different_passwords(tenant):
    link = _invitation(tenant)
    assert Client().post(link, {"password": "a long passphrase 1", "confirm": "a long passphrase 2"}).status_code == 400


def test_a_password_change_is_audited(tenant):
    developer = person(tenant, "developer")
    browser = browser_for(developer.user)
    sudo(browser)
    assert _change(browser, "a brand new passphrase 77").status_code == 200
    event = AuditEvent.unscoped.get(action="auth.password_changed")
    assert (event.organization_id, event.actor_id) == (tenant.org.id, developer.id)
