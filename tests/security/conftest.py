"""Browser sessions for the tables over every page (tests/security/site_routes.py)."""

import pytest

from accounts.models import User
from tests.accounts.oauth_helpers import PASSWORD, person
from tests.admin.conftest import signed_in


@pytest.fixture
def console(db):
    """Platform staff, signed in with a second factor: every console page opens for them."""
    user = User.objects.create_user(email="ops@platform.example", password=PASSWORD, is_staff=True, is_superuser=True)
    browser = signed_in(user)
    browser.user = user
    return browser


@pytest.fixture
def member_browser(tenant):
    """A Developer of the tenant, signed in (no second factor needed for their role)."""
    member = person(tenant, "developer")
    browser = signed_in(member.user, with_code=False)
    browser.member = member
    return browser
