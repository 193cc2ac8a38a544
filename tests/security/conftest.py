"""Browser sessions for the tables over every page (tests/support/urls.py)."""

import pytest

from tests.support.oauth import person
from tests.support.console import signed_in, signed_in_staff


@pytest.fixture
def console(db):
    """Platform staff, signed in with a second factor: every console page opens for them."""
    return signed_in_staff()


@pytest.fixture
def member_browser(tenant):
    """A Developer of the tenant, signed in (no second factor needed for their role)."""
    member = person(tenant, "developer")
    browser = signed_in(member.user, with_code=False)
    browser.member = member
    return browser
