"""django-axes lockouts in the console: an organization's Admin unlocks their members' accounts (every
failed attempt of the account is deleted, from every address, and that is audited); platform staff
unlock anyone. A person who also belongs to an organization the Admin does not administer is not theirs:
neither the attempts (their addresses) nor the unlock."""

from django.test import Client

from axes.models import AccessAttempt

from accounts.models import Member
from audit.models import AuditEvent
from tests.support.oauth import PASSWORD, person
from tests.admin.conftest import html
from tests.support.console import admin_url


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
    event = AuditEvent.unscoped.get(action="auth.unlocked")
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
    assert AuditEvent.unscoped.filter(action="auth.unlocked").count() == 2


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


# A person in two organizations: the lockout is not one organization's to lift, nor its addresses one
# organization's to see.


def shared_person(tenant, other_tenant, role="viewer"):
    """A person of ``tenant`` (the signed-in Admin's organization) who also belongs to ``other_tenant``."""
    member = person(tenant, role)
    Member.unscoped.create(organization=other_tenant.org, user=member.user, role="developer")
    return member


ELSEWHERE = "203.0.113.77"  # the address the attempts come from: not for the Admin of one of the two to see


def test_an_admin_neither_sees_nor_lifts_the_lockout_of_a_person_who_also_belongs_elsewhere(
        org_admin, tenant, other_tenant, settings):
    shared = shared_person(tenant, other_tenant)
    email = shared.user.email
    attacker = lock_out(email, settings, address=ELSEWHERE)
    attempt = AccessAttempt.objects.get(username=email)
    listed = html(org_admin.get("/admin/axes/accessattempt/"))
    assert email not in listed and ELSEWHERE not in listed
    # searched or filtered for (the search box repeats what was typed: the rows are what must be empty)
    for query in (f"?q={ELSEWHERE}", f"?q={email}", f"?ip_address={ELSEWHERE}", f"?username={email}",
                  f"?q={ELSEWHERE[:7]}", "?o=2"):
        page = html(org_admin.get(f"/admin/axes/accessattempt/{query}"))
        assert admin_url(attempt) not in page and f'field-ip_address">{ELSEWHERE}' not in page, query
    refusals = {
        "detail": org_admin.get(admin_url(attempt)),
        "history": org_admin.get(admin_url(attempt, "history")),
        "unlock page": org_admin.get(admin_url(attempt, "unlock")),
        "unlock": org_admin.post(admin_url(attempt, "unlock")),
        "delete": org_admin.post(admin_url(attempt, "delete"), {"post": "yes"}),
    }
    assert {name: response.status_code for name, response in refusals.items()} == dict.fromkeys(refusals, 404)
    for action in ("unlock_selected", "delete_selected"):
        response = org_admin.post("/admin/axes/accessattempt/", {"action": action, "_selected_action": [attempt.pk],
                                                                 "post": "yes"})
        assert response.status_code in (200, 302) and ELSEWHERE not in response.content.decode(), action
        response = org_admin.post("/admin/axes/accessattempt/", {"action": action, "select_across": "1", "index": "0",
                                                                 "_selected_action": [attempt.pk], "post": "yes"})
        assert response.status_code in (200, 302) and ELSEWHERE not in response.content.decode(), action
    assert AccessAttempt.objects.filter(username=email).count() == 1
    assert not AuditEvent.unscoped.filter(action="auth.unlocked").exists()
    # the lockout holds: no more guesses, and not even the right password, from that address
    assert attacker.post("/login", {"email": email, "password": PASSWORD}).status_code == 429


def test_staff_lift_it_and_it_is_recorded_in_every_organization_of_the_person(staff, tenant, other_tenant, settings):
    shared = shared_person(tenant, other_tenant)
    email = shared.user.email
    browser = lock_out(email, settings, address=ELSEWHERE)
    attempt = AccessAttempt.objects.get(username=email)
    assert ELSEWHERE in html(staff.get("/admin/axes/accessattempt/"))
    assert staff.post(admin_url(attempt, "unlock")).status_code == 302
    events = AuditEvent.unscoped.filter(action="auth.unlocked")
    assert sorted(event.organization_id for event in events) == sorted([tenant.org.pk, other_tenant.org.pk])
    assert {event.credential_kind for event in events} == {"staff"}
    assert all(event.metadata["ip_addresses"] == [ELSEWHERE] for event in events)
    assert browser.post("/login", {"email": email, "password": PASSWORD}).status_code == 302


def test_an_admin_of_every_organization_of_the_person_lifts_it_in_each(org_admin, tenant, other_tenant, settings):
    Member.unscoped.create(organization=other_tenant.org, user=org_admin.member.user, role="admin")
    shared = shared_person(tenant, other_tenant)
    lock_out(shared.user.email, settings, address=ELSEWHERE)
    attempt = AccessAttempt.objects.get(username=shared.user.email)
    assert ELSEWHERE in html(org_admin.get("/admin/axes/accessattempt/"))
    assert org_admin.post(admin_url(attempt, "unlock")).status_code == 302
    events = AuditEvent.unscoped.filter(action="auth.unlocked")
    assert sorted((event.organization_id, event.actor_type) for event in events) == sorted(
        [(tenant.org.pk, "member"), (other_tenant.org.pk, "member")])
    assert not AccessAttempt.objects.exists()


def test_an_admin_does_not_lift_the_lockout_of_platform_staff_in_their_organization(org_admin, tenant, settings):
    operator = person(tenant, "developer")
    operator.user.is_staff = operator.user.is_superuser = True
    operator.user.save()
    lock_out(operator.user.email, settings, address=ELSEWHERE)
    attempt = AccessAttempt.objects.get()
    assert ELSEWHERE not in html(org_admin.get("/admin/axes/accessattempt/"))
    assert org_admin.post(admin_url(attempt, "unlock")).status_code == 404
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
