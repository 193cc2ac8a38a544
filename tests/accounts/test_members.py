"""Organizations and members: roles, Service members, the last Admin, and the create_org command."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import APIKey, Member, User
from accounts.actions.api_keys import create_api_key
from audit.models import AuditEvent
from tests.conftest import api_client


def test_members_are_listed_with_role_and_effective_scopes(tenant):
    tenant.member("developer")
    tenant.member("service")
    data = tenant.client("admin", livemode=True).get("/api/v1/members").json()["data"]
    by_role = {m["role"]: m for m in data}
    assert set(by_role) == {"admin", "developer", "service"}
    assert by_role["developer"]["email"] == tenant.member("developer").user.email
    assert by_role["service"]["email"] is None
    assert by_role["service"]["effective_scopes"] == ["connectors:read", "data:read"]
    assert "org:admin" in by_role["admin"]["effective_scopes"]


def test_a_person_can_hold_different_roles_in_different_organizations(tenant, other_tenant):
    person = tenant.member("developer").user
    Member.unscoped.create(organization=other_tenant.org, user=person, role="viewer")
    assert tenant.client("developer").get("/api/v1/me").json()["role"] == "developer"
    in_other = Member.unscoped.get(organization=other_tenant.org, user=person)
    _, secret = create_api_key(member=in_other, livemode=False, name="x", scopes=["data:read", "data:write"])
    me = api_client(secret).get("/api/v1/me").json()
    assert (me["organization"]["id"], me["role"]) == (other_tenant.org.id, "viewer")
    assert me["scopes"] == ["data:read"], "the role in that organization bounds the key"


def test_changing_a_role_is_audited_with_before_and_after(tenant):
    developer = tenant.member("developer")
    response = tenant.client("admin", livemode=True).patch(f"/api/v1/members/{developer.id}", {"role": "viewer"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "viewer"
    event = AuditEvent.unscoped.get(action="member.role_changed", target_id=developer.id)
    assert event.metadata == {"from": "developer", "to": "viewer"}
    assert event.actor_id == tenant.member("admin").id and event.credential_kind == "api_key"


def test_the_last_admin_can_be_neither_demoted_nor_removed(tenant):
    admin = tenant.member("admin")
    client = tenant.client("admin", livemode=True)
    demote = client.patch(f"/api/v1/members/{admin.id}", {"role": "developer"}, format="json")
    assert demote.status_code == 409 and demote.json()["error"]["code"] == "conflict"
    assert client.delete(f"/api/v1/members/{admin.id}").status_code == 409
    admin.refresh_from_db()
    assert admin.role == "admin"
    assert not AuditEvent.unscoped.filter(action__in=["member.role_changed", "member.removed"]).exists()


@pytest.mark.django_db(transaction=True)  # the demotion must commit to reach a cached key
def test_with_a_second_admin_the_first_can_step_down(tenant):
    second = tenant.member("developer")
    client = tenant.client("admin", livemode=True)
    assert client.patch(f"/api/v1/members/{second.id}", {"role": "admin"}, format="json").status_code == 200
    first = tenant.member("admin")
    assert client.patch(f"/api/v1/members/{first.id}", {"role": "viewer"}, format="json").status_code == 200
    # the key was the first admin's: now a Viewer, it no longer manages members
    assert client.get("/api/v1/members").status_code == 403


def test_removing_a_member_ends_their_keys(tenant):
    developer = tenant.member("developer")
    their_key = tenant.client("developer")
    assert their_key.get("/api/v1/me").status_code == 200
    assert tenant.client("admin", livemode=True).delete(f"/api/v1/members/{developer.id}").status_code == 204
    assert their_key.get("/api/v1/me").status_code == 401
    assert not APIKey.unscoped.filter(member_id=developer.id).exists()
    assert User.objects.filter(pk=developer.user_id).exists(), "the person keeps their account"
    event = AuditEvent.unscoped.get(action="member.removed", target_id=developer.id)
    assert len(event.metadata["api_keys"]) == 1


def test_service_members_are_created_with_granted_scopes_and_no_login(tenant):
    client = tenant.client("admin", livemode=True)
    response = client.post("/api/v1/members", {"role": "service", "name": "ETL", "scopes": ["data:read", "data:write"]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("mem_") and body["email"] is None
    assert body["scopes"] == ["data:read", "data:write"]
    member = Member.unscoped.get(pk=body["id"])
    assert member.user is None
    key = client.post("/api/v1/api-keys", {"name": "etl", "member": member.id, "scopes": ["data:write"]}, format="json").json()
    service = api_client(key["secret"])
    assert service.post("/api/v1/datasets", {"name": "d"}, format="json").status_code == 201
    assert service.post("/api/v1/connectors", {"name": "c", "type": "csv"}, format="json").status_code == 403


def test_narrowing_a_service_members_grant_narrows_its_keys(tenant):
    client = tenant.client("admin", livemode=True)
    member = client.post("/api/v1/members", {"role": "service", "name": "ETL", "scopes": ["data:write"]}, format="json").json()
    key = client.post("/api/v1/api-keys", {"name": "etl", "member": member["id"], "scopes": ["data:write"]}, format="json").json()
    service = api_client(key["secret"])
    assert service.post("/api/v1/datasets", {"name": "d"}, format="json").status_code == 201
    assert client.patch(f"/api/v1/members/{member['id']}", {"scopes": ["data:read"]}, format="json").status_code == 200
    assert service.post("/api/v1/datasets", {"name": "d"}, format="json").status_code == 403
    assert service.get("/api/v1/datasets").status_code == 200
    assert AuditEvent.unscoped.filter(action="member.updated", target_id=member["id"]).exists()


@pytest.mark.parametrize("body,field", [
    ({"role": "developer", "name": "x"}, "role"),
    ({"role": "admin", "email": "x@y.z"}, "email"),
    ({"role": "service"}, "name"),
    ({"role": "service", "name": "x", "scopes": ["org:admin"]}, "scopes"),
    ({"role": "service", "name": "x", "scopes": ["made:up"]}, "scopes"),
    ({"role": "owner", "name": "x"}, "role"),
])
def test_invalid_member_creation_is_refused_with_the_field_named(tenant, body, field):
    response = tenant.client("admin", livemode=True).post("/api/v1/members", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert Member.unscoped.filter(organization=tenant.org).count() == 1


@pytest.mark.parametrize("role,body,field", [
    ("developer", {"role": "service"}, "role"),
    ("service", {"role": "admin"}, "role"),
    ("developer", {"scopes": ["data:read"]}, "scopes"),
    ("developer", {"organization": "org_x"}, "organization"),
    ("developer", {"email": "new@example.com"}, "email"),
    ("developer", {"id": "mem_x"}, "id"),
])
def test_invalid_member_changes_are_refused_and_change_nothing(tenant, role, body, field):
    member = tenant.member(role)
    before = Member.unscoped.filter(pk=member.pk).values().get()
    response = tenant.client("admin", livemode=True).patch(f"/api/v1/members/{member.id}", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert Member.unscoped.filter(pk=member.pk).values().get() == before


# create_org


def run_create_org(*args):
    out = StringIO()
    call_command("create_org", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_create_org_prints_one_json_object_with_working_credentials():
    result = run_create_org("Initech", "--owner-email", "Peter@Initech.example")
    assert set(result) == {"organization", "owner_email", "password", "live_key", "test_key"}
    assert result["owner_email"] == "peter@initech.example"
    user = User.objects.get(email="peter@initech.example")
    assert user.check_password(result["password"])
    assert user.password.startswith(("argon2", "pbkdf2_sha256"))
    for key, mode in ((result["live_key"], True), (result["test_key"], False)):
        me = api_client(key).get("/api/v1/me").json()
        assert (me["organization"]["id"], me["role"], me["livemode"]) == (result["organization"], "admin", mode)
    # Organization-wide: recorded once, and listed to the keys of both modes.
    assert AuditEvent.unscoped.filter(organization_id=result["organization"], action="organization.created").count() == 1
    for key in (result["live_key"], result["test_key"]):
        listed = api_client(key).get("/api/v1/audit-events?action=organization.created").json()["data"]
        assert len(listed) == 1


@pytest.mark.django_db
def test_create_org_for_an_existing_person_keeps_their_password():
    first = run_create_org("One", "--owner-email", "ops@example.com")
    second = run_create_org("Two", "--owner-email", "ops@example.com")
    assert second["password"] is None
    assert User.objects.get(email="ops@example.com").check_password(first["password"])
    assert Member.unscoped.filter(user__email="ops@example.com").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("args", [("X", "--owner-email", "not-an-email"), ("   ", "--owner-email", "a@b.co")])
def test_create_org_refuses_bad_input(args):
    with pytest.raises(CommandError):
        call_command("create_org", *args, stdout=StringIO())


@pytest.mark.django_db
def test_ensure_demo_creates_the_demo_once():
    out = StringIO()
    call_command("ensure_demo", stdout=out)
    assert "sk_live_" in out.getvalue() and "sk_test_" in out.getvalue()
    # The SDK's environment, ready to paste: the test key and where the platform runs.
    exports = dict(line.strip()[len("export "):].split("=", 1) for line in out.getvalue().splitlines()
                   if line.strip().startswith("export "))
    assert exports["OPENPAAS_API_KEY"].startswith("sk_test_") and exports["OPENPAAS_API_KEY"] in out.getvalue()
    assert exports["OPENPAAS_BASE_URL"] == "http://127.0.0.1:8000"
    assert "/login and enrol a second factor" in out.getvalue() and "OpenPaaSClient.login('admin@demo" in out.getvalue()
    again = StringIO()
    call_command("ensure_demo", stdout=again)
    assert "sk_" not in again.getvalue()
