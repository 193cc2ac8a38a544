"""A connector's ``config`` is stored in clear and shown to anyone who may read connectors, so a header
that carries a credential (Authorization, Cookie, X-Api-Key, *-Token, ...) is refused there, with a 400
that says to put it in ``credentials.headers`` (encrypted, write-only). Ordinary headers stay in config.
Connectors saved before the rule had theirs moved into their credentials by a data migration."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.models import AuditEvent
from connectors.models import Connector
from tests.support.api import error
from tests.support.factories import make_connector
from tests.support.state import snapshot

URL = "/api/v1/connectors"
CANARY = "cnry-7d41-header-secret-canary"

CREDENTIAL_HEADERS = [
    "Authorization", "authorization", "AUTHORIZATION", "Proxy-Authorization", "proxy_authorization",
    "Cookie", "Set-Cookie", "Cookie2", "X-Api-Key", "X_API_KEY", "x-api_key", "XApiKey", "Api-Key", "apikey",
    "X-Auth-Token", "X-Access-Token", "X-Refresh-Token", "X-Amz-Security-Token", "X-Vault-Token", "Private-Token",
    "X-CSRF-Token", "X-Client-Secret", "Client-Secret", "X-Goog-Api-Key", "Ocp-Apim-Subscription-Key",
    "X-Password", "X-Session-Id", "X-Auth", "X-JWT-Assertion", "X-Credentials", "X-Access-Key", "Private-Key",
    # camelCase *Key names, run-together names ending in key/token/pass, digits, and more words (review 2)
    "X-AppKey", "X-AuthKey", "X-ClientKey", "X-MasterKey", "X-UserKey", "X-LicenseKey", "AppKey", "X-Appkey",
    "X-Api-Keys", "X-Userpass", "X-Auth2", "X-Passkey", "X-Passcode", "X-Creds", "X-Pat", "X-Github-Pat",
    "X-GithubPAT", "X-Oauth", "X-Signature", "X-Api-Signature",
]
ORDINARY_HEADERS = [
    "Accept", "Content-Type", "User-Agent", "X-Request-Id", "Accept-Language", "Accept-Encoding", "Cache-Control",
    "If-None-Match", "X-Correlation-Id", "X-Forwarded-For", "X-Tenant", "X-Keyword", "X-Author",
    "X-Passenger-Count", "Prefer", "X-GitHub-Api-Version", "X-Amz-Date", "X-Requested-With",
    "X-Request-ID", "X-Compat", "X-Patch-Level", "X-Keyboard-Layout",
    "Idempotency-Key",  # a request's id, not a secret (and a fixed one in config would be a mistake, not a leak)
]
# Values that are credentials whatever the header is called.
CREDENTIAL_VALUES = [
    f"Bearer {CANARY}", f"bearer  {CANARY}", f"Basic {CANARY}", f"Token {CANARY}",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJl",
    "sk_live_" + "C" * 49, "whsec_" + "C" * 32,
    f"Bearer:{CANARY}", f"Token: {CANARY}", f"token={CANARY}",  # a scheme glued to its value
    "ghp_" + "C" * 36, "github_pat_" + "C" * 40, "xoxb-1234567890-" + "C" * 24, "AKIA" + "C" * 16,
    "glpat-" + "C" * 20, "rk_live_" + "C" * 24, "AIza" + "C" * 35, "sk-proj-" + "C" * 40,
]


def http_body(headers, **extra):
    return {"name": "Billing", "type": "http", "config": {"base_url": "https://billing.example.com",
                                                           "headers": headers}, **extra}


def refused(response, name):
    body = error(response, 400)
    message = body["details"]["config"]["headers"][0]
    assert name in message and "credentials" in message, message
    assert CANARY not in response.content.decode()  # the value is never repeated
    return body


@pytest.mark.parametrize("name", CREDENTIAL_HEADERS)
def test_a_credential_header_in_config_is_refused_on_create(dev, name):
    refused(dev.post(URL, http_body({"Accept": "application/json", name: CANARY}), format="json"), name)
    assert not Connector.unscoped.exists()
    assert not AuditEvent.unscoped.filter(action="connector.created").exists()


@pytest.mark.parametrize("name", CREDENTIAL_HEADERS)
def test_a_credential_header_in_config_is_refused_on_update(tenant, dev, name):
    connector = make_connector(tenant)
    before = snapshot(connector)
    config = {"base_url": "https://billing.example.com", "headers": {name: CANARY}}
    refused(dev.patch(f"{URL}/{connector.id}", {"config": config}, format="json"), name)
    assert snapshot(connector) == before


@pytest.mark.parametrize("value", CREDENTIAL_VALUES)
def test_a_credential_value_in_config_is_refused_whatever_the_header(dev, value):
    body = error(dev.post(URL, http_body({"X-Custom": value}), format="json"), 400)
    assert "X-Custom" in body["details"]["config"]["headers"][0]
    assert not Connector.unscoped.exists()


def test_ordinary_headers_stay_in_config(dev):
    for start in range(0, len(ORDINARY_HEADERS), 20):  # at most 20 headers a connector
        headers = {name: "v" for name in ORDINARY_HEADERS[start:start + 20]}
        response = dev.post(URL, http_body(headers), format="json")
        assert response.status_code == 201, response.content
        assert response.json()["config"]["headers"] == headers
    response = dev.post(URL, http_body({"X-Plan": "Basic plan", "Accept": "text/csv", "X-Mode": "token bucket"}),
                        format="json")
    assert response.status_code == 201, response.content


def test_credential_headers_go_in_credentials_encrypted_and_never_shown(dev):
    secret = {"Authorization": f"Bearer {CANARY}", "X-Api-Key": CANARY, "Cookie": f"sid={CANARY}"}
    response = dev.post(URL, http_body({"Accept": "application/json"}, credentials={"headers": secret}),
                        format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["has_credentials"] is True
    assert created["config"]["headers"] == {"Accept": "application/json"}
    assert CANARY not in response.content.decode()
    assert CANARY not in dev.get(f"{URL}/{created['id']}").content.decode()
    assert CANARY not in dev.get(URL).content.decode()
    assert Connector.unscoped.get(pk=created["id"]).credentials == {"headers": secret}
    with connection.cursor() as cursor:  # encrypted at rest: not in the row as stored
        cursor.execute("SELECT config, credentials FROM connectors_connector")
        assert CANARY not in repr(cursor.fetchall())


def test_credential_headers_are_validated_as_headers(dev):
    for headers in ({"X Bad": "v"}, {"X-Split": "a\r\nX-Injected: 1"}, {f"X-H{i}": "v" for i in range(21)}):
        body = error(dev.post(URL, http_body({}, credentials={"headers": headers}), format="json"), 400)
        assert "headers" in body["details"]["credentials"], body
        assert "X-Injected" not in json.dumps(body)  # credentials' errors never repeat their values
    assert not Connector.unscoped.exists()


# -- connectors saved before the rule --------------------------------------------------------------------


def test_the_migration_moves_credential_headers_into_the_encrypted_credentials(tenant):
    migrate = __import__("connectors.migrations.0002_move_credential_headers", fromlist=["x"])
    apps = MigrationExecutor(connection).loader.project_state(("connectors", "0001_initial")).apps
    old = make_connector(tenant, config={"base_url": "https://a.example.com", "headers": {
        "Accept": "application/json", "Authorization": f"Bearer {CANARY}", "x-api-key": CANARY,
        "X-Custom": f"Basic {CANARY}"}}, credentials={"token": "t", "headers": {"x-api-key": "newer"}})
    clean = make_connector(tenant, config={"base_url": "https://b.example.com", "headers": {"Accept": "text/csv"}},
                           credentials=None)
    csv = make_connector(tenant, type="csv", config={"delimiter": ","}, credentials=None)
    untouched = {c.pk: snapshot(c) for c in (clean, csv)}

    migrate.move_credential_headers(apps, None)

    old.refresh_from_db()
    assert old.config == {"base_url": "https://a.example.com", "headers": {"Accept": "application/json"}}
    assert old.credentials == {"token": "t", "headers": {
        "Authorization": f"Bearer {CANARY}", "x-api-key": "newer", "X-Custom": f"Basic {CANARY}"}}
    assert {c.pk: snapshot(c) for c in (clean, csv)} == untouched
    with connection.cursor() as cursor:
        cursor.execute("SELECT config, credentials FROM connectors_connector")
        assert CANARY not in repr(cursor.fetchall())
