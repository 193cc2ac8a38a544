"""The console changes a connector's config through the API's serializer: a header (or a URL) that carries a
credential is refused there too, with the same message, and the connector is unchanged."""

import json

import pytest

from audit.models import AuditEvent
from tests.admin.conftest import html
from tests.support.console import admin_url
from tests.support.factories import make_connector, make_webhook_endpoint
from tests.support.state import snapshot

CANARY = "cnry-3f0a-console-header-canary"


@pytest.mark.parametrize("name", ["Authorization", "cookie", "X-Api-Key", "X_Auth_Token", "Proxy-Authorization"])
def test_a_credential_header_is_refused_in_the_console(org_admin, tenant, name):
    connector = make_connector(tenant)
    before = snapshot(connector)
    config = {"base_url": "https://billing.example.com", "headers": {"Accept": "text/csv", name: CANARY}}
    page = html(org_admin.post(admin_url(connector, "change"), {"name": "Billing", "config": json.dumps(config)}))
    assert f"{name!r} carries a credential: put it in credentials.headers" in page.replace("&#x27;", "'")
    assert snapshot(connector) == before
    assert not AuditEvent.unscoped.filter(action="connector.updated").exists()


def test_ordinary_headers_are_accepted_in_the_console(org_admin, tenant):
    connector = make_connector(tenant)
    config = {"base_url": "https://billing.example.com", "headers": {"Accept": "text/csv", "X-Request-Id": "r1"}}
    response = org_admin.post(admin_url(connector, "change"), {"name": "Billing", "config": json.dumps(config)})
    assert response.status_code == 302, response.content.decode()[:500]
    connector.refresh_from_db()
    assert connector.config == config


def test_a_credential_in_a_url_is_refused_in_the_console(org_admin, tenant):
    """The console validates with the API's serializers: a connector's base_url and a webhook's url."""
    connector = make_connector(tenant)
    before = snapshot(connector)
    config = {"base_url": f"https://user:{CANARY}@billing.example.com"}
    page = html(org_admin.post(admin_url(connector, "change"), {"name": "Billing", "config": json.dumps(config)}))
    assert "The URL carries a credential (a user name or password): put it in credentials" in page
    assert snapshot(connector) == before
    endpoint = make_webhook_endpoint(tenant)
    form = {"url": f"https://hooks.example.com/in?token={CANARY}", "description": "", "events": ["connector.created"],
            "enabled": "on"}
    page = html(org_admin.post(admin_url(endpoint, "change"), form))
    assert "Webhook URLs cannot carry credentials (the parameter &#x27;token&#x27;)" in page
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/in"
    assert not AuditEvent.unscoped.filter(action__endswith=".updated").exists()
