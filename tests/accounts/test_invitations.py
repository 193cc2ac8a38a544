"""Invitations: an Admin invites by email with a role; the single-use link lets the person set a
password (or sign in) and join with that role; Admins list, resend and cancel them; all audited."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlparse

import httpx
import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.actions import invitations
from accounts.models import Invitation, Member, User
from audit.models import AuditEvent
from core.errors import Conflict

PASSWORD = "a long enough passphrase 42"


@pytest.fixture
def outbox(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return django_capture_on_commit_callbacks


def invite(tenant, outbox, email="new.person@example.com", role="developer"):
    with outbox(execute=True):
        response = tenant.client("admin", livemode=True).post("/api/v1/members", {"email": email, "role": role}, format="json")
    assert response.status_code == 201, response.content
    link = re.search(r"http://\S+/invitations/\S+", mail.outbox[-1].body).group(0)
    return response.json(), urlparse(link).path


def test_an_invitation_is_emailed_with_a_single_use_link_and_audited(tenant, outbox):
    body, _ = invite(tenant, outbox)
    assert body["object"] == "invitation" and body["status"] == "pending" and body["role"] == "developer"
    assert "new.person@example.com" in mail.outbox[-1].to
    assert "Acme" in mail.outbox[-1].subject
    invitation = Invitation.unscoped.get(pk=body["id"])
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)
    token = re.search(r"/invitations/(\S+)", mail.outbox[-1].body).group(1)
    assert token not in str(Invitation.unscoped.filter(pk=body["id"]).values().get()), "only a digest is stored"
    assert AuditEvent.unscoped.filter(action="invitation.created", target_id=body["id"]).exists()


def test_a_newcomer_sets_a_password_and_joins_with_the_role_once(tenant, outbox):
    _, link = invite(tenant, outbox)
    browser = Client()
    page = browser.get(link)
    assert page.status_code == 200 and b"Join Acme" in page.content
    short = browser.post(link, {"password": "short", "confirm": "short"})
    assert short.status_code == 400 and not User.objects.filter(email="new.person@example.com").exists()
    joined = browser.post(link, {"password": PASSWORD, "confirm": PASSWORD})
    assert joined.status_code == 302
    member = Member.unscoped.get(organization=tenant.org, user__email="new.person@example.com")
    assert member.role == "developer"
    assert browser.get("/account").status_code == 200, "signed in"
    assert Client().get(link).status_code == 404, "the link works once"
    assert AuditEvent.unscoped.filter(action="invitation.accepted").exists()


def test_someone_with_an_account_signs_in_as_the_invited_email_to_join(tenant, outbox):
    existing = User.objects.create_user(email="known@example.com", password=PASSWORD)
    _, link = invite(tenant, outbox, email="known@example.com", role="viewer")
    stranger = Client()
    assert b"Sign in as known@example.com" in stranger.get(link).content
    assert stranger.post(link).status_code == 403
    browser = Client()
    browser.force_login(existing)
    assert browser.post(link).status_code == 302
    assert Member.unscoped.get(organization=tenant.org, user=existing).role == "viewer"


def test_admins_list_resend_and_cancel_invitations(tenant, outbox):
    body, first_link = invite(tenant, outbox)
    admin = tenant.client("admin", livemode=True)
    assert [i["id"] for i in admin.get("/api/v1/invitations?status=pending").json()["data"]] == [body["id"]]
    with outbox(execute=True):
        resent = admin.post(f"/api/v1/invitations/{body['id']}/resend")
    assert resent.status_code == 200 and resent.json()["sent_count"] == 2
    assert Client().get(first_link).status_code == 404, "the old link stops working"
    assert admin.delete(f"/api/v1/invitations/{body['id']}").status_code == 204
    assert admin.get(f"/api/v1/invitations/{body['id']}").json()["status"] == "cancelled"
    assert admin.get("/api/v1/invitations?status=pending").json()["data"] == []
    actions = set(AuditEvent.unscoped.filter(target_id=body["id"]).values_list("action", flat=True))
    assert actions == {"invitation.created", "invitation.resent", "invitation.cancelled"}


def test_an_expired_invitation_cannot_be_accepted(tenant, outbox):
    body, link = invite(tenant, outbox)
    Invitation.unscoped.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(link).status_code == 404
    assert tenant.client("admin", livemode=True).get(f"/api/v1/invitations/{body['id']}").json()["status"] == "expired"


@pytest.mark.parametrize("body,field", [
    ({"email": "not-an-email", "role": "developer"}, "email"),
    ({"email": "x@example.com", "role": "service"}, "role"),
    ({"email": "x@example.com", "role": "owner"}, "role"),
])
def test_invalid_invitations_are_refused(tenant, body, field):
    response = tenant.client("admin", livemode=True).post("/api/v1/members", body, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_inviting_a_member_or_a_pending_invitee_again_is_a_conflict(tenant, outbox):
    invite(tenant, outbox)
    admin = tenant.client("admin", livemode=True)
    again = admin.post("/api/v1/members", {"email": "new.person@example.com", "role": "viewer"}, format="json")
    member = admin.post("/api/v1/members", {"email": tenant.member("developer").user.email, "role": "viewer"}, format="json")
    assert again.status_code == 409 and member.status_code == 409


def test_resending_refuses_a_second_way_in_and_a_used_link_is_a_page_not_an_error(tenant, outbox):
    first, first_link = invite(tenant, outbox)
    Invitation.unscoped.filter(pk=first["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    second, second_link = invite(tenant, outbox)  # the first expired: a new one is allowed
    admin = tenant.client("admin", livemode=True)
    beside = admin.post(f"/api/v1/invitations/{first['id']}/resend")
    assert beside.status_code == 409 and "pending invitation" in beside.json()["error"]["message"]

    browser = Client()
    assert browser.post(second_link, {"password": PASSWORD, "confirm": PASSWORD}).status_code == 302
    member = admin.post(f"/api/v1/invitations/{first['id']}/resend")
    assert member.status_code == 409 and "already a member" in member.json()["error"]["message"]
    assert Invitation.unscoped.get(pk=first["id"]).sent_count == 1, "nothing was sent"


def test_accepting_when_already_a_member_is_a_409_page(tenant, outbox):
    existing = User.objects.create_user(email="known@example.com", password=PASSWORD)
    _, link = invite(tenant, outbox, email="known@example.com", role="viewer")
    Member.unscoped.create(organization=tenant.org, user=existing, role="developer")  # joined meanwhile
    browser = Client()
    browser.force_login(existing)
    refused = browser.post(link)
    assert refused.status_code == 409 and b"already a member" in refused.content
    assert Member.unscoped.get(organization=tenant.org, user=existing).role == "developer"


JOINING_AT_ONCE = 4


def test_newcomers_joining_with_one_link_at_once_make_one_member_and_no_server_error(tenant, outbox, live_server):
    """Several sessions send the join form of one link at the same moment (a double click, a shared link):
    one joins, the others are told the link is no longer valid (409) or find it used (404). Each request
    runs in a thread of its own with its own database connection, as on a multi-process server."""
    _, link = invite(tenant, outbox)
    start = threading.Barrier(JOINING_AT_ONCE)

    def join(_):
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            form = http.get(link)
            assert form.status_code == 200, form.text[:300]
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
            start.wait()
            return http.post(link, data={"password": PASSWORD, "confirm": PASSWORD, "csrfmiddlewaretoken": token},
                             headers={"Referer": live_server.url + link}).status_code

    with ThreadPoolExecutor(JOINING_AT_ONCE) as pool:
        statuses = sorted(pool.map(join, range(JOINING_AT_ONCE)))
    assert statuses.count(302) == 1 and set(statuses) <= {302, 404, 409}, statuses
    assert User.objects.filter(email="new.person@example.com").count() == 1
    assert Member.unscoped.filter(organization=tenant.org, user__email="new.person@example.com").count() == 1
    assert AuditEvent.unscoped.filter(action="invitation.accepted").count() == 1


def test_joining_as_a_newcomer_when_the_email_got_an_account_meanwhile_is_a_conflict(tenant, outbox):
    """The page offered the join form (no account yet); before it was sent, the email got an account
    elsewhere: the link is no longer valid to join with a new password (a 409 page, not a 500)."""
    _, link = invite(tenant, outbox)
    token = link.rsplit("/", 1)[1]
    User.objects.create_user(email="new.person@example.com", password=PASSWORD)
    with pytest.raises(Conflict, match="no longer valid"):
        invitations.join(token=token, password=PASSWORD)
    assert not Member.unscoped.filter(organization=tenant.org, user__email="new.person@example.com").exists()
    assert Invitation.unscoped.get(email="new.person@example.com").status() == "pending"
