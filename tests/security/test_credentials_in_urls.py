"""A URL that is stored in clear and shown to its readers carries no credential: a connector's
``config.base_url`` (shown to anyone with connectors:read) says to put it in ``credentials``; a webhook
endpoint's ``url`` says that URLs may not carry them (deliveries are signed). A user name or password,
a parameter named like a credential, or a value shaped like a key or token is refused, with a 400 that
never repeats it. Connectors saved before the rule had theirs moved into their credentials (0004)."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from connectors.models import Connector
from tests.support.api import error
from tests.support.factories import make_connector, make_webhook_endpoint
from tests.support.state import snapshot
from webhooks.models import WebhookEndpoint

CANARY = "cnry7d41urlsecret"
CREDENTIAL_URLS = [
    f"https://user:{CANARY}@api.example.com/v1",
    f"https://{CANARY}@api.example.com/v1",
    f"https://user:{CANARY}@api.example.com:8443/v1",
    f"https://api.example.com/v1?api_key={CANARY}",
    f"https://api.example.com/v1?format=json&access_token=sk_live_{CANARY}",
    f"https://api.example.com/v1?apiKey={CANARY}",
    f"https://api.example.com/v1?key={CANARY}",
    f"https://api.example.com/v1?token={CANARY}",
    f"https://api.example.com/v1?client_secret={CANARY}",
    f"https://api.example.com/v1?X-Amz-Signature={CANARY}&X-Amz-Credential=AKIA",
    f"https://api.example.com/v1?%61pi_key={CANARY}",  # percent-encoded name
    f"https://api.example.com/v1?password={CANARY}",
    f"https://api.example.com/v1#access_token={CANARY}",
    f"https://api.example.com/v1?x=1;access_token={CANARY}",  # ';' separates parameters for many servers
    f"https://api.example.com/v1;jsessionid={CANARY}",
    f"https://api.example.com/hooks/sk_live_{CANARY}aaaa",  # shaped like a key, wherever it is
    f"https://api.example.com/v1?q=ghp_{CANARY}{'a' * 20}",
    "https://api.example.com/v1?x=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2ln",
]
@pytest.fixture
def dev(tenant):
    return tenant.client("developer")


ORDINARY_URLS = [
    "https://api.example.com/v1", "https://api.example.com:8443/v1/", "https://api.example.com/v1?format=json&page=2",
    "https://api.example.com/v1?keyword=x&author=y&version=3", "https://api.example.com/v1#section",
    "https://api.example.com/tokens-docs/index.html",
    "https://api.example.com/v1?pageToken=abc&next_page_token=x&max_tokens=5&sort_key=a&primary_key=b",
]


def connector_body(url, **extra):
    return {"name": "h", "type": "http", "config": {"base_url": url}, **extra}


def assert_refused(response, field, *words):
    body = error(response, 400)
    message = body["details"][field][0] if field == "url" else body["details"]["config"]["base_url"][0]
    assert all(word in message for word in words), message
    assert CANARY not in response.content.decode()  # never repeated
    return message


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
def test_a_connector_base_url_with_a_credential_is_refused(tenant, dev, url):
    assert_refused(dev.post("/api/v1/connectors", connector_body(url), format="json"), "base_url", "credentials")
    assert not Connector.unscoped.exists()
    connector = make_connector(tenant)
    before = snapshot(connector)
    response = dev.patch(f"/api/v1/connectors/{connector.id}", {"config": {"base_url": url}}, format="json")
    assert_refused(response, "base_url", "credentials")
    assert snapshot(connector) == before


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
def test_a_webhook_url_with_a_credential_is_refused(tenant, dev, url):
    body = {"url": url, "events": ["connector.created"]}
    assert_refused(dev.post("/api/v1/webhook-endpoints", body, format="json"), "url", "cannot carry credentials", "signed")
    assert not WebhookEndpoint.unscoped.exists()
    endpoint = make_webhook_endpoint(tenant)
    response = dev.patch(f"/api/v1/webhook-endpoints/{endpoint.id}", {"url": url}, format="json")
    assert_refused(response, "url", "cannot carry credentials")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/in"


@pytest.mark.parametrize("url", ORDINARY_URLS)
def test_ordinary_urls_are_taken(dev, url):
    response = dev.post("/api/v1/connectors", connector_body(url), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["config"]["base_url"] == url
    response = dev.post("/api/v1/webhook-endpoints", {"url": url, "events": ["connector.created"]}, format="json")
    assert response.status_code == 201, response.content


def test_a_key_in_the_query_goes_in_credentials_query_encrypted_and_never_shown(dev):
    body = connector_body("https://maps.example.com/api?format=json", credentials={"query": {"key": CANARY}})
    response = dev.post("/api/v1/connectors", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["has_credentials"] is True and CANARY not in response.content.decode()
    assert Connector.unscoped.get().credentials == {"query": {"key": CANARY}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT config, credentials FROM connectors_connector")
        assert CANARY not in repr(cursor.fetchall())


@pytest.mark.parametrize("query", [123, {"": "v"}, {f"p{i}": "v" for i in range(21)}, "key=v"])
def test_credentials_query_is_validated(dev, query):
    body = connector_body("https://api.example.com", credentials={"query": query})
    body = error(dev.post("/api/v1/connectors", body, format="json"), 400)
    assert list(body["details"]["credentials"]) == ["query"], body
    assert not Connector.unscoped.exists()


# -- connectors saved before the rule ----------------------------------------------------------------------


def test_the_migration_moves_url_credentials_and_newly_refused_headers_into_the_credentials(tenant):
    migrate = __import__("connectors.migrations.0004_move_url_credentials", fromlist=["x"])
    apps = MigrationExecutor(connection).loader.project_state(("connectors", "0003_workflow_connector_restrict")).apps
    basic = make_connector(tenant, config={"base_url": f"https://ann%40x.com:{CANARY}@api.example.com/v1?page=2&api_key={CANARY}",
                                           "headers": {"Accept": "text/csv", "X-AppKey": CANARY}}, credentials=None)
    token = make_connector(tenant, config={"base_url": f"https://u:{CANARY}@b.example.com/v1?key={CANARY}"},
                           credentials={"token": "t", "query": {"key": "newer"}})
    in_path = make_connector(tenant, config={"base_url": f"https://c.example.com/sk_live_{CANARY}aaaa"}, credentials=None)
    clean = make_connector(tenant, config={"base_url": "https://d.example.com/v1?page=2", "headers": {}}, credentials=None)
    csv = make_connector(tenant, type="csv", config={"delimiter": ","}, credentials=None)
    semicolon = make_connector(tenant, config={"base_url": f"https://e.example.com/v1?page=2;api_key={CANARY}"},
                               credentials=None)
    # Rows the API could not have written are left as they are, and do not stop the migration.
    odd = [make_connector(tenant, config=config, credentials=credentials) for config, credentials in [
        (["x"], None), ("text", None), ({"base_url": f"https://[::1/x?api_key={CANARY}"}, None),
        ({"base_url": f"https://f.example.com/?api_key={CANARY}", "headers": {"X-Api-Key": CANARY}}, {"headers": ["x"]}),
        ({"base_url": f"https://g.example.com/?api_key={CANARY}"}, {"query": "s"}),
        ({"base_url": f"https://h.example.com/?api_key={CANARY}"}, ["x"])]]
    untouched = {c.pk: snapshot(c) for c in (in_path, clean, csv, *odd)}

    migrate.move_url_credentials(apps, None)

    basic.refresh_from_db()
    assert basic.config == {"base_url": "https://api.example.com/v1?page=2", "headers": {"Accept": "text/csv"}}
    assert basic.credentials == {"headers": {"X-AppKey": CANARY, "Authorization": "Basic YW5uQHguY29tOmNucnk3ZDQxdXJsc2VjcmV0"},
                                 "query": {"api_key": CANARY}}
    token.refresh_from_db()  # the token says how to authenticate: the URL's password is dropped
    assert token.config == {"base_url": "https://b.example.com/v1"}
    assert token.credentials == {"token": "t", "query": {"key": "newer"}}
    semicolon.refresh_from_db()
    assert (semicolon.config, semicolon.credentials) == ({"base_url": "https://e.example.com/v1?page=2"},
                                                         {"query": {"api_key": CANARY}})
    assert {c.pk: snapshot(c) for c in (in_path, clean, csv, *odd)} == untouched
    with connection.cursor() as cursor:
        left = [c.pk for c in (in_path, *odd)]
        cursor.execute(f"SELECT config, credentials FROM connectors_connector WHERE id NOT IN ({', '.join(['%s'] * len(left))})",
                       left)
        assert CANARY not in json.dumps(repr(cursor.fetchall()))
