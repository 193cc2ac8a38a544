"""An organization can be deleted, with everything it owns, and its audit log outlives it: the events
are the record of what happened there (deleting organizations through the product comes later).

The deletion commits (transaction=True), so that the database checks its foreign keys as it would in
production (on PostgreSQL they are checked at commit)."""

import pytest
from django.db import connection, transaction

import audit
from accounts.models import APIKey, Member, OAuthApplication, Organization, TokenSession, User
from core.principal import session_principal
from audit.models import AuditEvent
from connectors.models import Connector, Dataset, Record, Workflow
from tests.support.oauth import make_application, person
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


def _owned_by(organization_id):
    """How many rows of each kind the organization owns."""
    return {model.__name__: model.objects.filter(organization_id=organization_id).count()
            for model in (Member, APIKey, OAuthApplication, Connector, Workflow, Dataset, Record, WebhookEndpoint)}


def test_an_organization_with_members_keys_data_and_audit_events_can_be_deleted_and_its_events_remain(
        tenant, other_tenant):
    admin = person(tenant, "admin")
    developer = tenant.client("developer")  # a key, through which the API writes audit events
    connector = developer.post("/api/v1/connectors", {"name": "CRM", "type": "http",
                                                      "config": {"base_url": "https://crm.example.com"},
                                                      "credentials": {"token": "t"}}, format="json")
    assert connector.status_code == 201, connector.content
    # a workflow holds its connector (a connector in use cannot be deleted alone), not the organization
    assert developer.post("/api/v1/workflows", {"name": "Sync", "connector": connector.json()["id"],
                                                "steps": [{"type": "mask", "fields": ["email"]}]},
                          format="json").status_code == 201
    dataset = developer.post("/api/v1/datasets", {"name": "Leads"}, format="json").json()
    assert developer.post(f"/api/v1/datasets/{dataset['id']}/records", {"records": [{"a": 1}]},
                          format="json").status_code == 201
    assert developer.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/x", "events": ["*"]},
                          format="json").status_code == 201
    tenant.key("service")
    tenant.jwt_token("viewer")
    make_application(tenant)
    with transaction.atomic():
        audit.record("organization.updated", organization=tenant.org, livemode=True,
                     principal=session_principal(admin), target=tenant.org, metadata={"name": tenant.org.name})
    kept = other_tenant.client("admin")
    assert kept.post("/api/v1/connectors", {"name": "Kept", "type": "http", "config": {"base_url": "https://kept.example.com"}}, format="json").status_code == 201

    organization_id = tenant.org.pk
    events = set(AuditEvent.unscoped.filter(organization_id=organization_id).values_list("id", flat=True))
    assert len(events) >= 6
    assert all(_owned_by(organization_id).values()), _owned_by(organization_id)
    others = _owned_by(other_tenant.org.pk)
    other_events = AuditEvent.unscoped.filter(organization_id=other_tenant.org.pk).count()

    Organization.objects.get(pk=organization_id).delete()  # commits (no transaction around the test)

    assert not Organization.objects.filter(pk=organization_id).exists()
    assert set(_owned_by(organization_id).values()) == {0}
    assert not TokenSession.objects.filter(member__organization_id=organization_id).exists()
    remaining = AuditEvent.unscoped.filter(organization_id=organization_id)
    assert set(remaining.values_list("id", flat=True)) == events, "every event of the organization remains"
    assert remaining.get(action="organization.updated").metadata == {"name": "Acme"}
    # the people stay (they may belong elsewhere); the other organization is untouched
    assert User.objects.filter(pk=admin.user_id).exists()
    assert _owned_by(other_tenant.org.pk) == others
    assert AuditEvent.unscoped.filter(organization_id=other_tenant.org.pk).count() == other_events
    connection.check_constraints()  # nothing left that the database would refuse
