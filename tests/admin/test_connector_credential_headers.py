"""The console changes a connector's config through the API's serializer: a header that carries a
credential is refused there too, with the same message, and the connector is unchanged."""

import json

import pytest

from audit.models import AuditEvent
from tests.admin.conftest import admin_url, html
from tests.factories import make_connector, snapshot

CANARY = "cnry-3f0a-console-header-canary"


@pytest.mark.parametrize("name", ["Authorization", "cookie", "X-Api-Key", "X_Auth_Token", "Proxy-Authorization"])
def test_a_credential_header_is_refused_in_the_console(org_admin, tenant, name):
    connector = make_connector(tenant)
    before = snapshot(connector)
    config = {"base_url": "https://billing.example.com", "headers": {"Accept": "text/csv", name: CANARY}}
    page = html(org_admin.post(admin_url(connector, "change"), {"name": "Billing", "config": json.dumps(config)}))
    assert f"{name!r} carries a credential: put it in credentials.headers" in page.replace("&#x27;", "'")
    assert snapshot(connector) == before
    assert not AuditEvent.objects.filter(action="connector.updated").exists()


def test_ordinary_headers_are_accepted_in_the_console(org_admin, tenant):
    connector = make_connector(tenant)
    config = {"base_url": "https://billing.example.com", "headers": {"Accept": "text/csv", "X-Request-Id": "r1"}}
    response = org_admin.post(admin_url(connector, "change"), {"name": "Billing", "config": json.dumps(config)})
    assert response.status_code == 302, response.content.decode()[:500]
    connector.refresh_from_db()
    assert connector.config == config
