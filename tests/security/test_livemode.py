"""Test mode never reaches live mode.

Members, roles, invitations and Service members belong to the organization, not to a mode: a test-mode
credential (key, OAuth token or JWT) that changes them would change live mode too, so it gets 403
``livemode_required`` and nothing changes; a live-mode credential, or a person in the console, may. The
events of such changes are recorded once and listed to readers of both modes; each mode's own events stay
in that mode. (The permission table runs every route in both modes; this file follows the attacks.)
"""

import pytest
from django.core import mail

from accounts.models import APIKey, Invitation, Member
from audit.models import AuditEvent
from tests.conftest import CREDENTIAL_KINDS, api_client
from tests.support.factories import make_invitation, make_oauth_application

pytestmark = pytest.mark.django_db


def refused(response):
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("permission_error", "livemode_required")
    return error


def members_and_invitations(tenant):
    return (sorted(Member.unscoped.filter(organization=tenant.org).values_list("id", "role", "name", "granted_scopes")),
            sorted(Invitation.unscoped.filter(organization=tenant.org).values_list("id", "email", "role",
                                                                                   "cancelled_at", "sent_count")))


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
def test_a_test_mode_admin_cannot_change_the_organizations_people(tenant, kind):
    developer, invitation = tenant.member("developer"), make_invitation(tenant)
    test_admin = tenant.client("admin", livemode=False, kind=kind)
    before = members_and_invitations(tenant)
    mail.outbox.clear()
    attacks = [
        ("post", "/api/v1/members", {"email": "mallory@example.com", "role": "admin"}),
        ("post", "/api/v1/members", {"role": "service", "name": "Backdoor", "scopes": ["org:admin"]}),
        ("patch", f"/api/v1/members/{developer.id}", {"role": "admin"}),
        ("patch", f"/api/v1/members/{developer.id}", {"name": "Renamed"}),
        ("delete", f"/api/v1/members/{developer.id}", None),
        ("post", f"/api/v1/invitations/{invitation.id}/resend", {}),
        ("delete", f"/api/v1/invitations/{invitation.id}", None),
    ]
    for method, path, body in attacks:
        refused(getattr(test_admin, method)(path, body, format="json"))
    assert members_and_invitations(tenant) == before
    assert mail.outbox == []
    # The refusals are one denial in the test-mode log (repeats within a minute are counted, not written:
    # tests/security/test_refusals.py), and no organization-wide event was written.
    denials = AuditEvent.unscoped.filter(action="access.denied", livemode=False)
    assert [(event.metadata["reason"], event.metadata["count"]) for event in denials] == [("livemode_required", 1)]
    assert not AuditEvent.unscoped.filter(action__startswith="member.").exists()
    assert not AuditEvent.unscoped.filter(action__startswith="invitation.").exclude(action="invitation.created").exists()


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
def test_a_test_mode_admin_still_reads_people_and_manages_test_keys(tenant, kind):
    test_admin = tenant.client("admin", livemode=False, kind=kind)
    developer = tenant.member("developer")
    make_invitation(tenant)
    assert developer.id in [m["id"] for m in test_admin.get("/api/v1/members?limit=100").json()["data"]]
    assert len(test_admin.get("/api/v1/invitations").json()["data"]) == 1
    created = test_admin.post("/api/v1/api-keys", {"member": developer.id, "name": "CI", "scopes": ["data:read"]},
                              format="json")
    assert created.status_code == 201 and created.json()["secret"].startswith("sk_test_")


def test_an_admin_invited_with_a_live_key_joins_and_the_events_are_seen_in_both_modes(tenant):
    live_admin = tenant.client("admin", livemode=True)
    response = live_admin.post("/api/v1/members", {"email": "new.admin@example.com", "role": "admin"}, format="json")
    assert response.status_code == 201
    developer = tenant.member("developer")
    assert live_admin.patch(f"/api/v1/members/{developer.id}", {"role": "viewer"}, format="json").status_code == 200
    for livemode in (True, False):
        reader = tenant.client("admin", livemode=livemode)
        actions = {event["action"] for event in reader.get("/api/v1/audit-events?limit=100").json()["data"]}
        assert {"invitation.created", "member.role_changed"} <= actions, livemode
    # Recorded once each, in live mode.
    for action in ("invitation.created", "member.role_changed"):
        assert list(AuditEvent.unscoped.filter(action=action).values_list("livemode", flat=True)) == [True]


def test_the_audit_log_shows_organization_wide_events_to_both_modes_and_each_modes_own_only_to_it(tenant):
    live_admin, test_admin = tenant.client("admin", livemode=True), tenant.client("admin", livemode=False)
    live_admin.post("/api/v1/connectors", {"name": "Live CRM", "type": "csv"}, format="json")
    test_admin.post("/api/v1/connectors", {"name": "Test CRM", "type": "csv"}, format="json")
    live_admin.patch(f"/api/v1/members/{tenant.member('developer').id}", {"role": "viewer"}, format="json")
    live_connector = AuditEvent.unscoped.get(action="connector.created", livemode=True)
    test_connector = AuditEvent.unscoped.get(action="connector.created", livemode=False)
    role_change = AuditEvent.unscoped.get(action="member.role_changed")
    for reader, own, others in ((live_admin, live_connector, test_connector), (test_admin, test_connector, live_connector)):
        listed = [event["id"] for event in reader.get("/api/v1/audit-events?limit=100").json()["data"]]
        assert own.id in listed and role_change.id in listed and others.id not in listed
        assert reader.get(f"/api/v1/audit-events/{role_change.id}").status_code == 200
        assert reader.get(f"/api/v1/audit-events/{others.id}").status_code == 404
        filtered = reader.get("/api/v1/audit-events?action=connector.created").json()["data"]
        assert [event["id"] for event in filtered] == [own.id]


def test_a_new_organizations_events_are_recorded_once(make_tenant):
    from accounts.actions.organizations import create_organization

    organization, *_ = create_organization(name="Initech", owner_email="ops@initech.example")
    events = AuditEvent.unscoped.filter(organization=organization)
    assert sorted(events.values_list("action", "livemode")) == [("api_key.created", False), ("api_key.created", True),
                                                                ("member.created", True), ("organization.created", True)]


def test_a_service_member_of_a_test_mode_application_gets_no_live_key(tenant):
    application = make_oauth_application(tenant, livemode=False, client_credentials=True)  # it has a Service member
    service = application.service_member
    live_admin = tenant.client("admin", livemode=True)
    response = live_admin.post("/api/v1/api-keys", {"member": service.id, "name": "x", "scopes": ["connectors:read"]},
                               format="json")
    assert response.status_code == 400 and "member" in response.json()["error"]["details"]
    assert not APIKey.unscoped.filter(member=service).exists()
    # A test key for it is test data, as its application is.
    test_admin = tenant.client("admin", livemode=False)
    response = test_admin.post("/api/v1/api-keys", {"member": service.id, "name": "x", "scopes": ["connectors:read"]},
                               format="json")
    assert response.status_code == 201
    assert api_client(response.json()["secret"]).get("/api/v1/connectors").status_code == 200


# An OAuth application with client credentials is a Service member of the organization: making, changing or
# deleting one is organization-wide, whatever the application's mode.

CLIENT_CREDENTIALS_APP = {"name": "Billing sync", "client_type": "confidential", "grant_types": ["client_credentials"],
                          "allowed_scopes": ["data:read"]}


def applications_and_members(tenant):
    from accounts.models import OAuthApplication

    return (sorted(OAuthApplication.unscoped.filter(organization=tenant.org).values_list("id", "grant_types", "allowed_scopes")),
            members_and_invitations(tenant)[0])


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
def test_a_test_mode_admin_cannot_make_change_or_delete_an_applications_service_member(tenant, kind):
    test_admin = tenant.client("admin", livemode=False, kind=kind)
    with_service_member = make_oauth_application(tenant, livemode=False, client_credentials=True)  # as the console may
    created = test_admin.post("/api/v1/oauth-applications", {**CLIENT_CREDENTIALS_APP, "grant_types": ["authorization_code"],
                                                             "redirect_uris": ["https://partner.example.com/cb"]},
                              format="json")
    assert created.status_code == 201, created.content  # no Service member: test-mode data
    without = created.json()["id"]
    before, events_before = applications_and_members(tenant), AuditEvent.unscoped.count()
    attacks = [
        ("post", "/api/v1/oauth-applications", CLIENT_CREDENTIALS_APP),
        ("patch", f"/api/v1/oauth-applications/{without}", {"grant_types": ["authorization_code", "client_credentials"]}),
        ("patch", f"/api/v1/oauth-applications/{with_service_member.id}", {"allowed_scopes": ["data:read"]}),
        ("patch", f"/api/v1/oauth-applications/{with_service_member.id}", {"name": "Renamed"}),
        ("delete", f"/api/v1/oauth-applications/{with_service_member.id}", None),
    ]
    for method, path, body in attacks:
        refused(getattr(test_admin, method)(path, body, format="json"))
    assert applications_and_members(tenant) == before
    assert AuditEvent.unscoped.count() == events_before + 1  # one access.denied, counting the refusals
    # What has no Service member stays test-mode data a test key manages.
    assert test_admin.patch(f"/api/v1/oauth-applications/{without}", {"name": "Renamed"}, format="json").status_code == 200
    assert test_admin.delete(f"/api/v1/oauth-applications/{without}").status_code == 204


def test_an_applications_service_member_comes_and_goes_with_organization_wide_events(tenant):
    live_admin = tenant.client("admin", livemode=True)
    created = live_admin.post("/api/v1/oauth-applications", CLIENT_CREDENTIALS_APP, format="json").json()
    service_id = Member.unscoped.get(role="service", name="Billing sync (OAuth)").id
    live_admin.patch(f"/api/v1/oauth-applications/{created['id']}", {"allowed_scopes": ["data:read", "connectors:read"]},
                     format="json")
    assert live_admin.delete(f"/api/v1/oauth-applications/{created['id']}").status_code == 204
    events = AuditEvent.unscoped.filter(target_id=service_id).order_by("created_at")
    assert [(event.action, event.livemode) for event in events] == [
        ("member.created", True), ("member.updated", True), ("member.removed", True)]
    assert [event.metadata["oauth_application"] for event in events] == [created["id"]] * 3
    assert events[1].metadata["granted_scopes"] == ["connectors:read", "data:read"]
    test_reader = tenant.client("admin", livemode=False)
    listed = {event["id"] for event in test_reader.get("/api/v1/audit-events?limit=100").json()["data"]}
    assert {event.id for event in events} <= listed
