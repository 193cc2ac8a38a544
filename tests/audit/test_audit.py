"""Audit events: one per write, with who, how, what and where, saved in the same transaction."""

import pytest
from django.db import transaction

import audit
from accounts.api import TenantViewSet
from accounts.models import Member, Organization
from audit.models import AuditEvent
from connectors.models import Connector


def test_an_api_write_records_actor_credential_target_request_and_address(tenant):
    client = tenant.client("developer", livemode=True)
    response = client.post("/api/v1/connectors", {"name": "CRM", "type": "csv"}, format="json",
                           REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="curl/8")
    connector_id = response.json()["id"]
    event = AuditEvent.objects.get(action="connector.created")
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
    before = AuditEvent.objects.count()
    response = getattr(client, method)(path.format(ds=dataset["id"]), body, format="json")
    assert response.status_code < 300
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.order_by("-created_at").first().action == action


def test_a_failing_audit_write_leaves_no_row(tenant, monkeypatch):
    client = tenant.client("admin")
    client.raise_request_exception = False

    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(AuditEvent.objects, "create", broken)
    response = client.post("/api/v1/connectors", {"name": "CRM", "type": "csv"}, format="json")
    assert response.status_code == 500
    assert not Connector.objects.exists()


def test_a_failure_after_the_audit_event_leaves_neither(tenant, monkeypatch):
    client = tenant.client("admin")
    client.raise_request_exception = False
    original = TenantViewSet.record

    def record_then_fail(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise RuntimeError("crash after the audit write")

    monkeypatch.setattr(TenantViewSet, "record", record_then_fail)
    assert client.post("/api/v1/connectors", {"name": "CRM", "type": "csv"}, format="json").status_code == 500
    assert not Connector.objects.exists()
    assert not AuditEvent.objects.filter(action="connector.created").exists()


def test_a_role_change_whose_audit_fails_does_not_happen(tenant, monkeypatch):
    developer = tenant.member("developer")
    client = tenant.client("admin")
    client.raise_request_exception = False
    monkeypatch.setattr(AuditEvent.objects, "create", lambda **kw: (_ for _ in ()).throw(RuntimeError("down")))
    assert client.patch(f"/api/v1/members/{developer.id}", {"role": "admin"}, format="json").status_code == 500
    assert Member.objects.get(pk=developer.pk).role == "developer"


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction():
    organization = Organization.objects.create(name="Acme")
    with pytest.raises(RuntimeError):
        audit.record("dataset.created", organization=organization, livemode=False)
    assert not AuditEvent.objects.exists()


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
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "dataset.created"


def test_the_audit_log_is_readable_with_audit_read_and_filterable_by_action(tenant):
    client = tenant.client("admin")
    client.post("/api/v1/datasets", {"name": "d"}, format="json")
    client.post("/api/v1/connectors", {"name": "c", "type": "csv"}, format="json")
    data = client.get("/api/v1/audit-events?action=dataset.created").json()["data"]
    assert [event["action"] for event in data] == ["dataset.created"]
    assert data[0]["actor"]["id"] == tenant.member("admin").id
    assert tenant.client("developer").get("/api/v1/audit-events").status_code == 403
