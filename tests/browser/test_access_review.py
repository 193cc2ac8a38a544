"""In a real browser: an organization's Admin completes an access review in the admin console."""

import re

import pytest

from accounts.models import AccessReview, APIKey, Member
from tests.support.oauth import PASSWORD, person, totp_code, totp_device
from tests.support.console import admin_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_organization_admin_completes_an_access_review(page, tenant, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    admin = person(tenant, "admin")
    device = totp_device(admin.user)
    developer = person(tenant, "developer")
    tenant.key("service")
    service_key = APIKey.unscoped.get(member=tenant.member("service"))

    page.goto("/admin/")
    page.wait_for_url(re.compile(r"/login"))
    page.fill("#id_email", admin.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.fill("#id_code", totp_code(device))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))

    page.goto("/admin/accounts/accessreview/add/")
    page.select_option("select[name=organization]", tenant.org.pk)
    page.fill("input[name=due_date]", "2099-12-31")
    page.click("input[name=_save]")
    review = AccessReview.unscoped.get(organization=tenant.org)
    page.wait_for_url(re.compile(r"/admin/accounts/accessreview/.+/change/"))

    decisions = page.locator("select[name$='-decision']")
    assert decisions.count() == review.items.count() == 4  # admin, developer, service member, service key
    for index in range(decisions.count()):
        subject = review.items.order_by("id")[index]
        prefix = decisions.nth(index).get_attribute("name").removesuffix("decision")
        if subject.member_id == developer.id:
            decisions.nth(index).select_option("change_role")
            page.select_option(f"select[name='{prefix}new_role']", "viewer")
            page.fill(f"[name='{prefix}note']", "least privilege")
        elif subject.api_key_id:
            decisions.nth(index).select_option("revoke")
        else:
            decisions.nth(index).select_option("keep")
    page.click("input[name=_save]")

    page.wait_for_url(re.compile(r"/admin/accounts/accessreview/$"))  # saved: back to the list
    page.goto(admin_url(review))
    page.click("text=Complete review")
    page.wait_for_url(re.compile(r"/account/sudo"))
    page.fill("#id_secret", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/complete/"))
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/accounts/accessreview/.+/change/"))

    review.refresh_from_db()
    assert review.completed_at is not None and review.completed_by_id == admin.id
    assert Member.unscoped.get(pk=developer.pk).role == "viewer"
    service_key.refresh_from_db()
    assert service_key.revoked_at is not None
