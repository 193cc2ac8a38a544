"""The administrator console's fixtures: its tests sign in the way people do (tests/support/console.py)."""

import pytest
from django.test import Client

from tests.support.console import signed_in, signed_in_staff
from tests.support.oauth import PASSWORD, person


def confirm_sudo(browser, password=PASSWORD):
    response = browser.post("/account/sudo", {"secret": password, "next": "/admin/"})
    assert response.status_code == 302, response.content.decode()[:300]


def html(response):
    assert response.status_code == 200, (response.status_code, response.get("Location"), response.content[:400])
    return response.content.decode()


@pytest.fixture
def org_admin(tenant):
    """Acme's Admin, signed in with a second factor."""
    member = person(tenant, "admin")
    browser = signed_in(member.user)
    browser.member = member
    return browser


@pytest.fixture
def staff(db):
    return signed_in_staff()


@pytest.fixture
def anonymous():
    return Client()
