"""/: signed out, what this is and where to go; signed in, the organization and the person's keys there,
masked (never a secret, never another member's or organization's)."""

import pytest

from accounts.models import APIKey
from tests.support.console import signed_in
from tests.support.oauth import PASSWORD

pytestmark = pytest.mark.django_db


def test_signed_out_it_says_what_this_is_and_links_to_sign_in_and_the_docs(anon):
    page = anon.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "integration platform" in html
    assert 'href="/login"' in html and 'href="/api/v1/docs"' in html and 'href="/docs/errors"' in html


def test_signed_in_it_shows_the_organization_and_the_persons_own_keys_masked(tenant, other_tenant):
    member = tenant.member("admin")
    mine = [tenant.key("admin", livemode=True), tenant.key("admin", livemode=False)]
    someone_elses = tenant.key("developer")
    other_organizations = other_tenant.key("admin")
    revoked = tenant.key("admin")
    APIKey.unscoped.filter(prefix=revoked[:16]).update(revoked_at="2026-01-01T00:00:00Z")
    member.user.set_password(PASSWORD)
    member.user.save()
    html = signed_in(member.user).get("/").content.decode()
    assert tenant.org.name in html and 'href="/admin/"' in html and 'href="/api/v1/docs"' in html
    for secret in mine:
        masked = APIKey.unscoped.get(prefix=secret[:16]).masked
        assert masked in html and secret not in html
    for secret in (someone_elses, other_organizations, revoked):
        assert secret[:16] not in html
    assert "live mode" in html and "test mode" in html
