"""Webhook endpoints: https URLs, events from the catalog, and a signing secret shown once."""

import pytest

from audit.models import AuditEvent
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookEndpoint


def create(client, **body):
    return client.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/openpaas", "events": ["connector.created"], **body}, format="json")


def test_the_secret_is_returned_once_at_creation(tenant):
    client = tenant.client("developer")
    response = create(client, description="CRM sync")
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("we_") and body["secret"].startswith("whsec_")
    assert body["enabled"] is True and body["events"] == ["connector.created"]
    for later in (client.get(f"/api/v1/webhook-endpoints/{body['id']}").json(),
                  client.get("/api/v1/webhook-endpoints").json(),
                  client.patch(f"/api/v1/webhook-endpoints/{body['id']}", {"description": "x"}, format="json").json()):
        assert body["secret"] not in str(later) and "secret" not in later
    assert WebhookEndpoint.unscoped.get(pk=body["id"]).secret == body["secret"]
    assert body["secret"] not in str(AuditEvent.unscoped.filter(target_id=body["id"]).values())


@pytest.mark.parametrize("url", ["http://hooks.example.com/x", "ftp://hooks.example.com", "not a url", "https://", "javascript:alert(1)"])
def test_only_https_urls_are_accepted(tenant, url):
    response = create(tenant.client("developer"), url=url)
    assert response.status_code == 400
    assert "url" in response.json()["error"]["details"]


def test_plain_http_is_allowed_only_in_development(tenant, settings):
    settings.OPENPAAS_WEBHOOK_ALLOW_HTTP = True
    assert create(tenant.client("developer"), url="http://localhost:9000/hook").status_code == 201


@pytest.mark.parametrize("events,status", [
    (["*"], 201),
    (sorted(EVENT_TYPES), 201),
    (["connector.created", "connector.created"], 201),
    ([], 400),
    (["connector.exploded"], 400),
    ("connector.created", 400),
    ([{"type": "connector.created"}], 400),
])
def test_events_come_from_the_catalog(tenant, events, status):
    response = create(tenant.client("developer"), events=events)
    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["events"] == sorted(set(events))


def test_an_endpoint_can_be_changed_disabled_and_deleted(tenant):
    client = tenant.client("developer")
    endpoint = create(client).json()
    url = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    changed = client.patch(url, {"events": ["dataset.created", "dataset.deleted"], "enabled": False}, format="json")
    assert changed.status_code == 200
    assert changed.json()["events"] == ["dataset.created", "dataset.deleted"] and changed.json()["enabled"] is False
    assert client.patch(url, {"url": "http://insecure.example.com"}, format="json").status_code == 400
    assert client.patch(url, {"secret": "whsec_mine"}, format="json").status_code == 400
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    actions = list(AuditEvent.unscoped.filter(target_id=endpoint["id"]).order_by("created_at").values_list("action", flat=True))
    assert actions == ["webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.deleted"]
