"""Who reaches the console: only an active person whose session passed a second factor and who is
platform staff or an Admin of an organization. Its login page is the two-step sign-in."""

import pytest
from django.test import Client

from accounts.actions.members import update_member
from accounts.models import Member, User
from core.principal import session_principal
from audit.models import AuditEvent
from tests.support.oauth import PASSWORD, browser_for, person, totp_code, totp_device
from tests.admin.conftest import html
from tests.support.console import signed_in

PAGES = ["/admin/", "/admin/accounts/member/", "/admin/accounts/apikey/add/", "/admin/audit/auditevent/",
         "/admin/accounts/", "/admin/nothing-here/"]


@pytest.mark.parametrize("page", PAGES)
def test_without_a_session_every_page_sends_to_the_sign_in_and_back(anonymous, page):
    response = anonymous.get(page)
    assert response.status_code == 302
    assert response["Location"] == f"/login?next={page}"


def test_the_console_login_is_the_two_step_sign_in(anonymous, tenant):
    assert anonymous.get("/admin/login/")["Location"] == "/login?next=/admin/"
    assert anonymous.get("/admin/login/?next=/admin/audit/")["Location"] == "/login?next=/admin/audit/"
    assert anonymous.get("/admin/login/?next=https://evil.example/")["Location"] == "/login?next=/admin/"
    # No password form of its own: credentials posted to it sign nobody in.
    member = person(tenant, "admin")
    totp_device(member.user)
    response = anonymous.post("/admin/login/", {"username": member.user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/login?")
    assert anonymous.get("/admin/")["Location"] == "/login?next=/admin/"


def test_signing_in_with_password_and_code_leads_into_the_console(tenant):
    member = person(tenant, "admin")
    device = totp_device(member.user)
    browser = Client()
    step_one = browser.post("/login?next=/admin/", {"email": member.user.email, "password": PASSWORD})
    assert step_one["Location"] == "/login/verify"
    assert browser.get("/admin/")["Location"] == "/login?next=/admin/", "half-way is not signed in"
    step_two = browser.post("/login/verify", {"code": totp_code(device)})
    assert step_two["Location"] == "/admin/"
    assert "Administrator console" in html(browser.get("/admin/"))


def test_a_password_only_session_of_platform_staff_is_refused(db):
    user = User.objects.create_user(email="ops@platform.example", password=PASSWORD, is_staff=True, is_superuser=True)
    browser = browser_for(user)  # no device: the password was all
    for page in PAGES:
        response = browser.get(page)
        assert response.status_code == 403, page
    assert "second factor" in browser.get("/admin/").content.decode()


def test_a_session_that_did_not_pass_the_second_factor_is_refused_to_an_admin(tenant):
    member = person(tenant, "admin")
    browser = browser_for(member.user)  # signed in before having a device
    assert browser.get("/admin/")["Location"] == "/account/security/enrol", "an Admin must enrol first"
    totp_device(member.user)  # enrolled since, in another session: this one never passed the second factor
    response = browser.get("/admin/")
    assert response.status_code == 403
    assert "Sign in again with a code" in response.content.decode()
    assert browser.get("/admin/accounts/member/").status_code == 403


@pytest.mark.parametrize("role", ["developer", "viewer"])
def test_members_who_are_not_admins_are_refused_even_with_a_second_factor(tenant, role):
    browser = signed_in(person(tenant, role).user)
    for page in PAGES:
        assert browser.get(page).status_code == 403, page
    assert "for platform staff and for organizations" in browser.get("/admin/").content.decode()


def test_a_person_of_no_organization_is_refused(db):
    user = User.objects.create_user(email="someone@example.com", password=PASSWORD)
    assert signed_in(user).get("/admin/").status_code == 403


def test_an_admin_who_is_demoted_loses_the_console_on_the_next_request(org_admin, tenant):
    second = person(tenant, "developer")
    update_member(principal=session_principal(org_admin.member), member=second, role="admin")
    assert org_admin.get("/admin/").status_code == 200
    update_member(principal=session_principal(second), member=org_admin.member, role="developer")
    assert org_admin.get("/admin/").status_code == 403


def test_an_admin_of_one_organization_and_developer_of_another_enters_for_the_first(org_admin, other_tenant):
    Member.unscoped.create(organization=other_tenant.org, user=org_admin.member.user, role="developer")
    page = html(org_admin.get("/admin/accounts/organization/"))
    assert org_admin.member.organization.name in page and other_tenant.org.name not in page


def test_staff_who_are_not_superusers_enter_but_see_no_organization(db, tenant):
    user = User.objects.create_user(email="support@platform.example", password=PASSWORD, is_staff=True)
    browser = signed_in(user)
    index = html(browser.get("/admin/"))
    assert "/admin/accounts/member/" not in index
    assert browser.get("/admin/accounts/member/").status_code == 403
    assert browser.get(f"/admin/accounts/organization/{tenant.org.pk}/change/").status_code == 404


def test_no_account_exists_until_someone_creates_one(db):
    assert not User.objects.exists()


def test_signing_out_of_the_console_ends_the_session(org_admin):
    response = org_admin.post("/admin/logout/")
    assert response.status_code == 200
    assert org_admin.get("/admin/")["Location"] == "/login?next=/admin/"
    assert AuditEvent.unscoped.filter(action="auth.logout", actor_id=org_admin.member.id).exists()


def test_the_console_password_change_is_the_account_pages_one(org_admin):
    assert org_admin.get("/admin/password_change/")["Location"] == "/account/security/password"
