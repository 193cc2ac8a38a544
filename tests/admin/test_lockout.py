"""django-axes lockouts in the console: an organization's Admin unlocks their members' accounts (every
failed attempt of the account is deleted, from every address, and that is audited); platform staff
unlock anyone."""

from django.test import Client

from axes.models import AccessAttempt
from audit.models import AuditEvent
from tests.accounts.oauth_helpers import PASSWORD, person
from tests.admin.conftest import admin_url, html


def lock_out(email, settings, address="127.0.0.1"):
    browser = Client(REMOTE_ADDR=address)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        browser.post("/login", {"email": email, "password": "not the password at all"})
    assert browser.post("/login", {"email": email, "password": PASSWORD}).status_code == 429
    return browser


def test_an_admin_unlocks_a_members_account(org_admin, tenant, settings):
    viewer = person(tenant, "viewer")
    browser = lock_out(viewer.user.email, settings)
    elsewhere = lock_out(viewer.user.email, settings, address="198.51.100.4")
    attempt = AccessAttempt.objects.get(username=viewer.user.email, ip_address="127.0.0.1")
    page = html(org_admin.get("/admin/axes/accessattempt/"))
    assert viewer.user.email in page and admin_url(attempt) in page
    assert "can sign in again" in html(org_admin.get(admin_url(attempt, "unlock")))
    response = org_admin.post(admin_url(attempt, "unlock"))
    assert response.status_code == 302 and response["Location"] == "/admin/axes/accessattempt/"
    assert not AccessAttempt.objects.filter(username=viewer.user.email).exists()
    event = AuditEvent.objects.get(action="auth.unlocked")
    assert (event.organization_id, event.target_id, event.actor_id) == (tenant.org.pk, viewer.pk, org_admin.member.pk)
    assert event.metadata == {"email": viewer.user.email, "ip_addresses": ["127.0.0.1", "198.51.100.4"],
                              "failures": 2 * settings.AXES_FAILURE_LIMIT}
    assert browser.post("/login", {"email": viewer.user.email, "password": PASSWORD}).status_code == 302
    assert elsewhere.post("/login", {"email": viewer.user.email, "password": PASSWORD}).status_code == 302


def test_lockouts_are_cleared_in_bulk_from_the_list(org_admin, tenant, settings):
    emails = [person(tenant, role).user.email for role in ("viewer", "developer")]
    for email in emails:
        lock_out(email, settings)
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = org_admin.post("/admin/axes/accessattempt/", {"action": "unlock_selected", "_selected_action": ids})
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert AuditEvent.objects.filter(action="auth.unlocked").count() == 2


def test_an_account_locked_across_addresses_is_unlocked_at_once(org_admin, tenant, settings):
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 4
    viewer = person(tenant, "viewer")
    for address in ("198.51.100.1", "198.51.100.2"):
        for _ in range(2):
            Client(REMOTE_ADDR=address).post("/login", {"email": viewer.user.email, "password": "not the password at all"})
    assert Client(REMOTE_ADDR="198.51.100.3").post("/login", {"email": viewer.user.email,
                                                              "password": PASSWORD}).status_code == 429
    attempt = AccessAttempt.objects.filter(username=viewer.user.email).first()
    assert org_admin.post(admin_url(attempt, "unlock")).status_code == 302
    assert Client(REMOTE_ADDR="198.51.100.3").post("/login", {"email": viewer.user.email,
                                                              "password": PASSWORD}).status_code == 302


def test_an_admin_cannot_unlock_a_stranger(org_admin, other_tenant, settings):
    stranger = person(other_tenant, "viewer")
    lock_out(stranger.user.email, settings)
    attempt = AccessAttempt.objects.get()
    assert stranger.user.email not in html(org_admin.get("/admin/axes/accessattempt/"))
    assert org_admin.post(admin_url(attempt, "unlock")).status_code == 404
    assert org_admin.post("/admin/axes/accessattempt/", {"action": "unlock_selected",
                                                         "_selected_action": [attempt.pk]}).status_code == 302
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_staff_unlock_any_account_even_one_of_no_organization(staff, settings):
    lock_out("nobody@example.com", settings)
    attempt = AccessAttempt.objects.get()
    assert staff.post(admin_url(attempt, "unlock")).status_code == 302
    assert not AccessAttempt.objects.exists()
