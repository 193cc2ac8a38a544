"""The administrator console's tests sign in the way people do: the two-step sign-in at /login with a
password and a code from a real authenticator device (so the session is verified by django-otp)."""

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.oauth_helpers import PASSWORD, browser_for, person, totp_code, totp_device


def signed_in(user, with_code=True):
    """A test client signed in as ``user``: with a code from a new authenticator device, or (``with_code``
    False, and no device) with the password alone."""
    if not with_code:
        return browser_for(user)
    device = totp_device(user)
    browser = browser_for(user, otp=totp_code(device))
    browser.device = device
    return browser


def confirm_sudo(browser, password=PASSWORD):
    response = browser.post("/account/sudo", {"secret": password, "next": "/admin/"})
    assert response.status_code == 302, response.content.decode()[:300]


def html(response):
    assert response.status_code == 200, (response.status_code, response.get("Location"), response.content[:400])
    return response.content.decode()


def admin_url(obj, name="change"):
    """An object's console URL, its id quoted as the admin quotes it (``_`` is its escape character)."""
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=[quote(obj.pk)])


@pytest.fixture
def org_admin(tenant):
    """Acme's Admin, signed in with a second factor."""
    member = person(tenant, "admin")
    browser = signed_in(member.user)
    browser.member = member
    return browser


def signed_in_staff():
    """Platform staff (is_staff and is_superuser), member of no organization, signed in with a second factor."""
    user = User.objects.create_user(email="ops@platform.example", password=PASSWORD, is_staff=True, is_superuser=True)
    browser = signed_in(user)
    browser.user = user
    return browser


@pytest.fixture
def staff(db):
    return signed_in_staff()


@pytest.fixture
def anonymous():
    return Client()
