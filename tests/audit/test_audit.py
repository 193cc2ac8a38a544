"""Audit events: one per write, with who, how, what and where, saved in the same transaction."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

import audit
from api.views import TenantViewSet
from accounts.models import APIKey, Member, Organization
from audit.models import AuditEvent
from connectors.models import Connector
from tests.conftest import api_client


def test_an_api_write_records_actor_credential_target_request_and_address(tenant):
    client = tenant.client("developer", livemode=True)
    response = client.post("/api/v1/connectors", {"name": "CRM", "type": "csv"}, format="json",
                           REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="curl/8")
    connector_id = response.json()["id"]
    event = AuditEvent.unscoped.get(action="connector.created")
    me = client.get("/api/v1/me").json()
    assert (event.organization_id, event.livemode) == (tenant.org.id, True)
    assert (event.actor_type, event.actor_id) == ("member", tenant.member("developer").id)
    assert (event.credential_kind, event.credential_id) == ("api_key", me["credential"]["id"])
    assert (event.target_type, event.target_id) == ("connector", connector_id)
    assert event.request_id == response["X-Request-ID"]
    assert (event.ip_address, event.user_agent) == ("198.51.100.4", "curl/8")


@pytest.mark.parametrize("method,path,body,action", [
    ("post", "/api/v1/datasets", {"name": "d"}, "dataset.created"),
    ("patch", "/api/v1/datasets/{ds}", {"name": "e"}, "dataset.updated"),
    ("delete", "/api/v1/datasets/{ds}", None, "dataset.deleted"),
    ("post", "/api/v1/datasets/{ds}/records", {"records": [{"a": 1}]}, "dataset.records_appended"),
    ("post", "/api/v1/webhook-endpoints", {"url": "https://h.example.com", "events": ["*"]}, "webhook_endpoint.created"),
])
def test_every_api_write_records_exactly_one_event(tenant, method, path, body, action):
    client = tenant.client("admin")
    dataset = client.post("/api/v1/datasets", {"name": "seed"}, format="json").json()
    before = AuditEvent.unscoped.count()
    response = getattr(client, method)(path.format(ds=dataset["id"]), body, format="json")
    assert response.status_code < 300
    assert AuditEvent.unscoped.count() == before + 1
    assert AuditEvent.unscoped.order_by("-created_at").first().action == action


def test_a_failing_audit_write_leaves_no_row(tenant, monkeypatch):
    client = tenant.client("admin")
    client.raise_request_exception = False

    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(AuditEvent.objects, "create", broken)
    response = client.post("/api/v1/connectors", {"name": "CRM", "type": "csv"}, format="json")
    assert response.status_code == 500
    assert not Connector.unscoped.exists()


def test_a_failure_after_the_audit_event_leaves_neither(tenant, monkeypatch):
    client = tenant.client("admin")
    client.raise_request_exception = False
    original = TenantViewSet.record

    def record_then_fail(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise RuntimeError("crash after the audit write")

    monkeypatch.setattr(TenantViewSet, "record", record_then_fail)
    assert client.post("/api/v1/connectors", {"name": "CRM", "type": "csv"}, format="json").status_code == 500
    assert not Connector.unscoped.exists()
    assert not AuditEvent.unscoped.filter(action="connector.created").exists()


def test_a_role_change_whose_audit_fails_does_not_happen(tenant, monkeypatch):
    developer = tenant.member("developer")
    client = tenant.client("admin", livemode=True)
    client.raise_request_exception = False
    monkeypatch.setattr(AuditEvent.objects, "create", lambda **kw: (_ for _ in ()).throw(RuntimeError("down")))
    assert client.patch(f"/api/v1/members/{developer.id}", {"role": "admin"}, format="json").status_code == 500
    assert Member.unscoped.get(pk=developer.pk).role == "developer"


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction():
    organization = Organization.objects.create(name="Acme")
    with pytest.raises(RuntimeError):
        audit.record("dataset.created", organization=organization, livemode=False)
    assert not AuditEvent.unscoped.exists()


def test_unregistered_actions_are_refused(tenant):
    with transaction.atomic(), pytest.raises(ValueError):
        audit.record("dataset.exploded", organization=tenant.org, livemode=False)


def test_events_are_append_only(tenant):
    with transaction.atomic():
        event = audit.record("dataset.created", organization=tenant.org, livemode=False)
    event.action = "dataset.deleted"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.unscoped.filter(pk=event.pk).update(action="x")
    with pytest.raises(TypeError):
        AuditEvent.unscoped.filter(pk=event.pk).delete()
    assert AuditEvent.unscoped.get(pk=event.pk).action == "dataset.created"


def test_the_audit_log_is_readable_with_audit_read_and_filterable_by_action(tenant):
    client = tenant.client("admin")
    client.post("/api/v1/datasets", {"name": "d"}, format="json")
    client.post("/api/v1/connectors", {"name": "c", "type": "csv"}, format="json")
    data = client.get("/api/v1/audit-events?action=dataset.created").json()["data"]
    assert [event["action"] for event in data] == ["dataset.created"]
    assert data[0]["actor"]["id"] == tenant.member("admin").id
    assert tenant.client("developer").get("/api/v1/audit-events").status_code == 403


def test_a_denied_request_is_audited_with_actor_and_scope(tenant):
    client = tenant.client("viewer")
    response = client.post("/api/v1/connectors", {"name": "c", "type": "csv"}, format="json")
    assert response.status_code == 403
    event = AuditEvent.unscoped.get(action="access.denied")
    assert (event.organization_id, event.actor_id) == (tenant.org.id, tenant.member("viewer").id)
    assert event.metadata == {"method": "POST", "path": "/api/v1/connectors", "required_scope": "connectors:write",
                              "reason": "missing_scope", "count": 1}
    assert event.request_id == response["X-Request-ID"]


@pytest.mark.parametrize("reason", ["revoked", "expired", "person_disabled"])
def test_a_known_but_unusable_key_is_audited_and_told_why(tenant, reason):
    secret = tenant.key("developer")
    api_key = APIKey.unscoped.get(prefix=secret[:16])
    if reason == "revoked":
        APIKey.unscoped.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    elif reason == "expired":
        APIKey.unscoped.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        api_key.member.user.is_active = False
        api_key.member.user.save()
    response = api_client(secret).get("/api/v1/me")
    code = {"revoked": "api_key_revoked", "expired": "api_key_expired", "person_disabled": "api_key_inactive"}
    assert response.status_code == 401 and response.json()["error"]["code"] == code[reason]
    event = AuditEvent.unscoped.get(action="api_key.refused")
    assert (event.organization_id, event.target_id, event.metadata["reason"]) == (tenant.org.id, api_key.id, reason)
    assert event.ip_address == "127.0.0.1"
