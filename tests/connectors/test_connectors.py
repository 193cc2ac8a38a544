"""What a user of /api/v1/connectors relies on: every registered type can be created, listed, read,
updated and deleted; its config is checked against the type's schema; credentials go in and never
come out (not in responses, not in error messages); every write leaves exactly one audit event."""

import json

import pytest

from audit.models import AuditEvent
from connectors.models import Connector, Workflow
from connectors.types import CONNECTOR_TYPES, MAX_HEADERS
from tests.connectors.helpers import keyed_client
from tests.support.api import error
from tests.support.factories import make_connector, make_workflow
from tests.support.state import snapshot

URL = "/api/v1/connectors"
CANARY = "cnry-5b1e2c7a-credential-canary"

# One valid body per registered type: the config as sent, the config as stored (defaults filled in).
TYPES = {
    "http": {
        "config": {"base_url": "https://billing.example.com/v2"},
        "stored_config": {"base_url": "https://billing.example.com/v2", "headers": {}},
        "credentials": {"token": CANARY},
    },
    "postgresql": {
        "config": {"host": "db.example.com", "database": "app", "user": "reader"},
        "stored_config": {"host": "db.example.com", "port": 5432, "database": "app", "user": "reader"},
        "credentials": {"password": CANARY},
    },
    "csv": {
        "config": {},
        "stored_config": {"delimiter": ","},
        "credentials": None,
    },
}


def detail(connector_id):
    return f"{URL}/{connector_id}"


def body_for(type_id, **overrides):
    spec = TYPES[type_id]
    body = {"name": f"My {type_id}", "type": type_id, "config": spec["config"]}
    if spec["credentials"] is not None:
        body["credentials"] = spec["credentials"]
    body.update(overrides)
    return body


def assert_no_secret(response, secret=CANARY):
    text = response.content.decode()
    assert secret not in text, text
    # ... nor in any encoded form a serializer might have produced.
    assert json.dumps(secret)[1:-1] not in text
    if response.status_code < 400 and response.content:
        assert "credentials" not in _keys(response.json())


def _keys(value):
    """Every key of every object in a JSON document."""
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            found |= _keys(item)
    elif isinstance(value, list):
        for item in value:
            found |= _keys(item)
    return found


def test_every_registered_type_is_covered():
    assert set(TYPES) == set(CONNECTOR_TYPES)


# -- create, list, retrieve, update, delete, per type -------------------------------------------------


@pytest.mark.parametrize("type_id", sorted(CONNECTOR_TYPES))
def test_crud_for_each_type(dev, type_id):
    spec = TYPES[type_id]

    created = dev.post(URL, body_for(type_id), format="json")
    assert created.status_code == 201, created.content
    connector = created.json()
    assert connector["id"].startswith("conn_")
    assert connector["object"] == "connector"
    assert connector["name"] == f"My {type_id}"
    assert connector["type"] == type_id
    assert connector["config"] == spec["stored_config"]
    assert connector["has_credentials"] is (spec["credentials"] is not None)
    assert connector["livemode"] is False
    assert "credentials" not in connector
    assert_no_secret(created)

    stored = Connector.unscoped.get(pk=connector["id"])
    assert stored.config == spec["stored_config"]
    assert stored.credentials == spec["credentials"]
    assert stored.organization == dev.api_key.organization and stored.livemode is False

    listed = dev.get(URL)
    assert listed.status_code == 200
    assert listed.json()["object"] == "list"
    assert [c["id"] for c in listed.json()["data"]] == [connector["id"]]
    assert listed.json()["data"][0] == connector
    assert_no_secret(listed)

    retrieved = dev.get(detail(connector["id"]))
    assert retrieved.status_code == 200
    assert retrieved.json() == connector
    assert_no_secret(retrieved)

    updated = dev.patch(detail(connector["id"]), {"name": "Renamed"}, format="json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["name"] == "Renamed"
    assert updated.json()["config"] == spec["stored_config"]
    assert updated.json()["has_credentials"] is connector["has_credentials"]
    assert "credentials" not in updated.json()
    assert_no_secret(updated)
    assert Connector.unscoped.get(pk=connector["id"]).credentials == spec["credentials"]  # untouched

    deleted = dev.delete(detail(connector["id"]))
    assert deleted.status_code == 204
    assert not Connector.unscoped.filter(pk=connector["id"]).exists()
    assert dev.get(detail(connector["id"])).status_code == 404


def test_config_defaults_are_filled_and_explicit_values_kept(dev):
    response = dev.post(URL, {"name": "PG", "type": "postgresql", "credentials": {"password": "pw"},
                              "config": {"host": "h", "port": 6432, "database": "d", "user": "u"}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["config"] == {"host": "h", "port": 6432, "database": "d", "user": "u"}

    response = dev.post(URL, {"name": "TSV", "type": "csv", "config": {"delimiter": "\t"}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["config"] == {"delimiter": "\t"}

    headers = {f"X-H{i}": "v" for i in range(MAX_HEADERS)}
    response = dev.post(URL, {"name": "API", "type": "http",
                              "config": {"base_url": "https://a.example.com", "headers": headers}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["config"]["headers"] == headers


def test_list_is_scoped_to_organization_and_mode(tenant, other_tenant, dev):
    mine = make_connector(tenant)
    make_connector(tenant, livemode=True)
    make_connector(other_tenant)
    assert [c["id"] for c in dev.get(URL).json()["data"]] == [mine.id]
    live = keyed_client(tenant, "developer", livemode=True)
    assert mine.id not in [c["id"] for c in live.get(URL).json()["data"]]
    assert live.get(detail(mine.id)).status_code == 404
    assert live.patch(detail(mine.id), {"name": "x"}, format="json").status_code == 404
    assert live.delete(detail(mine.id)).status_code == 404
    assert Connector.unscoped.filter(pk=mine.id, name="Billing API").exists()


# -- config validation ------------------------------------------------------------------------------

INVALID_CONFIGS = [
    ("http", {"base_url": "http://billing.example.com"}, "base_url"),
    ("http", {"base_url": "ftp://billing.example.com"}, "base_url"),
    ("http", {"base_url": "not a url"}, "base_url"),
    ("http", {}, "base_url"),
    ("http", {"base_url": "https://a.example.com", "headers": {f"X-H{i}": "v" for i in range(MAX_HEADERS + 1)}},
     "headers"),
    ("http", {"base_url": "https://a.example.com", "headers": {"X Bad": "v"}}, "headers"),
    ("http", {"base_url": "https://a.example.com", "headers": {"": "v"}}, "headers"),
    ("http", {"base_url": "https://a.example.com", "headers": {"X-Ünicode": "v"}}, "headers"),
    ("http", {"base_url": "https://a.example.com", "headers": {"X-" + "a" * 127: "v"}}, "headers"),
    ("http", {"base_url": "https://a.example.com", "headers": {"X-Long": "v" * 1025}}, "headers"),
    ("http", {"base_url": "https://a.example.com", "headers": {"X-Split": "v\r\nX-Injected: 1"}}, "headers"),
    ("http", {"base_url": "https://a.example.com", "headers": ["X-A"]}, "headers"),
    ("http", {"base_url": "https://a.example.com", "headers": {"X-A": {"nested": 1}}}, "headers"),
    ("http", {"base_url": "https://a.example.com", "timeout": 3}, "timeout"),
    ("postgresql", {"host": "h", "database": "d", "user": "u", "port": 0}, "port"),
    ("postgresql", {"host": "h", "database": "d", "user": "u", "port": 65536}, "port"),
    ("postgresql", {"host": "h", "database": "d", "user": "u", "port": -1}, "port"),
    ("postgresql", {"host": "h", "database": "d", "user": "u", "port": "five"}, "port"),
    ("postgresql", {"host": "h", "database": "d", "user": "u", "port": 5432.5}, "port"),
    ("postgresql", {"database": "d", "user": "u"}, "host"),
    ("postgresql", {"host": "h", "database": "d" * 64, "user": "u"}, "database"),
    ("csv", {"delimiter": ""}, "delimiter"),
    ("csv", {"delimiter": ";;"}, "delimiter"),
    ("csv", {"delimiter": "\n"}, "delimiter"),
    ("csv", {"delimiter": '"'}, "delimiter"),
    ("csv", {"quote": "'"}, "quote"),
]


@pytest.mark.parametrize("type_id,config,field", INVALID_CONFIGS,
                         ids=[f"{t}-{f}-{i}" for i, (t, _, f) in enumerate(INVALID_CONFIGS)])
def test_config_is_validated_against_the_type_on_create(dev, type_id, config, field):
    body = error(dev.post(URL, body_for(type_id, config=config), format="json"), 400)
    assert body["type"] == "invalid_request_error" and body["code"] == "parameter_invalid"
    assert list(body["details"]) == ["config"]
    assert field in body["details"]["config"], body
    assert not Connector.unscoped.exists()


@pytest.mark.parametrize("type_id,config,field", INVALID_CONFIGS,
                         ids=[f"{t}-{f}-{i}" for i, (t, _, f) in enumerate(INVALID_CONFIGS)])
def test_config_is_validated_against_the_type_on_update(tenant, dev, type_id, config, field):
    spec = TYPES[type_id]
    connector = make_connector(tenant, type=type_id, config=spec["stored_config"], credentials=spec["credentials"])
    before = snapshot(connector)
    body = error(dev.patch(detail(connector.id), {"config": config}, format="json"), 400)
    assert field in body["details"]["config"], body
    assert snapshot(connector) == before


@pytest.mark.parametrize("boundary", [1, 65535])
def test_postgresql_port_bounds_are_inclusive(dev, boundary):
    response = dev.post(URL, body_for("postgresql", config={"host": "h", "database": "d", "user": "u", "port": boundary}),
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["config"]["port"] == boundary


def test_config_of_wrong_shape_is_refused(dev):
    for config in (None, [], "https://a.example.com", 3):
        body = error(dev.post(URL, body_for("http", config=config), format="json"), 400)
        assert "config" in body["details"]


def test_patching_config_replaces_it_and_fills_defaults(tenant, dev):
    connector = make_connector(tenant, type="csv", config={"delimiter": ";"}, credentials=None)
    response = dev.patch(detail(connector.id), {"config": {}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["config"] == {"delimiter": ","}
    response = dev.patch(detail(connector.id), {"config": {"delimiter": "|"}}, format="json")
    assert response.json()["config"] == {"delimiter": "|"}
    assert Connector.unscoped.get(pk=connector.id).config == {"delimiter": "|"}


# -- type ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_value", ["ftp", "HTTP", "", None, 3, ["http"]])
def test_unknown_type_is_400(dev, type_value):
    body = error(dev.post(URL, {"name": "X", "type": type_value, "config": {}}, format="json"), 400)
    assert "type" in body["details"]
    assert not Connector.unscoped.exists()


def test_type_is_required(dev):
    body = error(dev.post(URL, {"name": "X", "config": {"delimiter": ","}}, format="json"), 400)
    assert "type" in body["details"]


@pytest.mark.parametrize("new_type", ["postgresql", "csv", "ftp"])
def test_type_cannot_change_on_patch(tenant, dev, new_type):
    connector = make_connector(tenant)
    before = snapshot(connector)
    body = error(dev.patch(detail(connector.id), {"type": new_type, "config": TYPES["csv"]["stored_config"]},
                           format="json"), 400)
    assert "type" in body["details"]
    assert snapshot(connector) == before
    assert not AuditEvent.unscoped.filter(action="connector.updated").exists()


def test_patching_the_same_type_is_allowed(tenant, dev):
    connector = make_connector(tenant)
    response = dev.patch(detail(connector.id), {"type": "http", "name": "Same"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["type"] == "http"


@pytest.mark.parametrize("field,value", [("id", "conn_x"), ("livemode", True), ("organization", "org_x"),
                                         ("has_credentials", False), ("created_at", "2020-01-01T00:00:00Z"),
                                         ("object", "connector"), ("owner", "me")])
def test_read_only_and_unknown_fields_are_refused(dev, field, value):
    body = error(dev.post(URL, body_for("csv", **{field: value}), format="json"), 400)
    assert field in body["details"]


def test_name_is_required_and_bounded(dev):
    assert "name" in error(dev.post(URL, {"type": "csv"}, format="json"), 400)["details"]
    assert "name" in error(dev.post(URL, body_for("csv", name="n" * 201), format="json"), 400)["details"]
    assert "name" in error(dev.post(URL, body_for("csv", name=""), format="json"), 400)["details"]
    assert dev.post(URL, body_for("csv", name="n" * 200), format="json").status_code == 201


# -- credentials ------------------------------------------------------------------------------------


def test_credentials_appear_in_no_response(tenant, dev):
    created = dev.post(URL, body_for("http"), format="json")
    connector_id = created.json()["id"]
    responses = [
        created,
        dev.get(URL),
        dev.get(detail(connector_id)),
        dev.patch(detail(connector_id), {"name": "New"}, format="json"),
        dev.patch(detail(connector_id), {"credentials": {"token": CANARY + "-2"}}, format="json"),
        dev.patch(detail(connector_id), {"config": {"base_url": "https://other.example.com"}}, format="json"),
        dev.get(f"{URL}?limit=1"),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.content
        assert_no_secret(response)
        data = response.json()
        for item in data["data"] if data.get("object") == "list" else [data]:
            assert "credentials" not in item
            assert item["has_credentials"] is True
    # Nor in the audit log.
    for event in AuditEvent.unscoped.filter(organization=tenant.org):
        assert CANARY not in json.dumps(event.metadata)


# Credential bodies that are wrong for their type. None of the errors may repeat the value.
BAD_CREDENTIALS = [
    ("http", {"token": CANARY * 200}),  # longer than allowed
    ("http", {"token": CANARY, "password": CANARY}),  # a field the type does not have
    ("http", {"token": [CANARY]}),
    ("http", {"token": {"value": CANARY}}),
    ("http", {"token": ""}),
    ("http", CANARY),
    ("http", [CANARY]),
    ("http", 42),
    ("postgresql", {"pwd": CANARY}),
    ("postgresql", {"password": None, "hint": CANARY}),
    ("postgresql", {"password": CANARY * 200}),
    ("postgresql", {}),
    ("csv", {"token": CANARY}),
    ("csv", CANARY),
]


@pytest.mark.parametrize("type_id,credentials", BAD_CREDENTIALS, ids=[str(i) for i in range(len(BAD_CREDENTIALS))])
def test_credential_errors_never_echo_the_value_on_create(dev, type_id, credentials):
    response = dev.post(URL, body_for(type_id, credentials=credentials), format="json")
    body = error(response, 400)
    assert "credentials" in body["details"]
    assert_no_secret(response)
    assert not Connector.unscoped.exists()


@pytest.mark.parametrize("type_id,credentials", BAD_CREDENTIALS, ids=[str(i) for i in range(len(BAD_CREDENTIALS))])
def test_credential_errors_never_echo_the_value_on_update(tenant, dev, type_id, credentials):
    spec = TYPES[type_id]
    connector = make_connector(tenant, type=type_id, config=spec["stored_config"], credentials=spec["credentials"])
    before = snapshot(connector)
    response = dev.patch(detail(connector.id), {"credentials": credentials}, format="json")
    body = error(response, 400)
    assert "credentials" in body["details"]
    assert_no_secret(response)
    assert snapshot(connector) == before


@pytest.mark.parametrize("token", [CANARY + "\u0000", CANARY + "\ud800"])
def test_unstorable_credentials_are_refused_without_echo(tenant, dev, token):
    # Sent as raw JSON: the test client's own encoder cannot encode a lone surrogate.
    body = json.dumps(body_for("http", credentials={"token": token}))
    response = dev.post(URL, body, content_type="application/json")
    error(response, 400)
    assert_no_secret(response)
    assert not Connector.unscoped.exists()
    connector = make_connector(tenant)
    response = dev.patch(detail(connector.id), json.dumps({"credentials": {"token": token}}),
                         content_type="application/json")
    error(response, 400)
    assert_no_secret(response)
    assert Connector.unscoped.get(pk=connector.id).credentials == {"token": "tok_canary_connector"}


def test_no_credentials_type_can_make_an_error_quote_a_value(tenant, dev, monkeypatch):
    """Whatever fields a type's credentials serializer uses, including those whose messages quote the
    input (DRF's ChoiceField: '"x" is not a valid choice.'), the value is not repeated."""
    from rest_framework import serializers

    from api.views import StrictSerializer
    from connectors.types import ConnectorType, HTTPConfig

    class QuotingCredentials(StrictSerializer):
        region = serializers.ChoiceField(["eu", "us"])
        key = serializers.CharField(max_length=64)

        def validate_key(self, value):
            if not value.startswith("AKIA"):
                raise serializers.ValidationError(f"{value!r} is not an access key id.")
            return value

    monkeypatch.setitem(CONNECTOR_TYPES, "http", ConnectorType("http", "test", HTTPConfig, QuotingCredentials))
    for credentials in ({"region": CANARY, "key": "AKIA1"}, {"region": "eu", "key": CANARY},
                        {"region": [CANARY], "key": {"k": CANARY}}):
        response = dev.post(URL, body_for("http", credentials=credentials), format="json")
        body = error(response, 400)
        assert "credentials" in body["details"]
        assert_no_secret(response)
    connector = make_connector(tenant)
    response = dev.patch(detail(connector.id), {"credentials": {"region": CANARY, "key": "AKIA1"}}, format="json")
    error(response, 400)
    assert_no_secret(response)
    # Messages that quote nothing are kept as they are.
    body = error(dev.post(URL, body_for("http", credentials={"region": "eu"}), format="json"), 400)
    assert body["details"]["credentials"] == {"key": ["This field is required."]}


def test_has_credentials_reflects_them_and_they_can_be_replaced_and_cleared(dev):
    created = dev.post(URL, {"name": "API", "type": "http", "config": {"base_url": "https://a.example.com"}},
                       format="json")
    assert created.status_code == 201
    connector_id = created.json()["id"]
    assert created.json()["has_credentials"] is False
    assert Connector.unscoped.get(pk=connector_id).credentials is None

    response = dev.patch(detail(connector_id), {"credentials": {"token": "first"}}, format="json")
    assert response.status_code == 200 and response.json()["has_credentials"] is True
    assert Connector.unscoped.get(pk=connector_id).credentials == {"token": "first"}

    response = dev.patch(detail(connector_id), {"credentials": {"token": "second"}}, format="json")
    assert response.status_code == 200 and response.json()["has_credentials"] is True
    assert Connector.unscoped.get(pk=connector_id).credentials == {"token": "second"}

    # Changing something else leaves them alone.
    response = dev.patch(detail(connector_id), {"name": "API 2", "config": {"base_url": "https://b.example.com"}},
                         format="json")
    assert response.status_code == 200 and response.json()["has_credentials"] is True
    assert Connector.unscoped.get(pk=connector_id).credentials == {"token": "second"}

    response = dev.patch(detail(connector_id), {"credentials": None}, format="json")
    assert response.status_code == 200 and response.json()["has_credentials"] is False
    assert Connector.unscoped.get(pk=connector_id).credentials is None
    assert dev.get(detail(connector_id)).json()["has_credentials"] is False


def test_empty_credentials_are_no_credentials(dev):
    created = dev.post(URL, body_for("http", credentials={}), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["has_credentials"] is False
    assert Connector.unscoped.get(pk=created.json()["id"]).credentials is None


def test_credentials_are_stored_encrypted(dev):
    from django.db import connection

    created = dev.post(URL, body_for("postgresql"), format="json")
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM connectors_connector WHERE id = %s", [created.json()["id"]])
        (raw,) = cursor.fetchone()
    assert raw and CANARY not in raw


# -- delete -------------------------------------------------------------------------------------------


def test_deleting_a_connector_used_by_a_workflow_is_409_and_deletes_nothing(tenant, dev):
    workflow = make_workflow(tenant)
    connector = workflow.connector
    events = AuditEvent.unscoped.count()
    body = error(dev.delete(detail(connector.id)), 409)
    assert body["code"] == "conflict"
    assert Connector.unscoped.filter(pk=connector.id).exists()
    assert Workflow.unscoped.filter(pk=workflow.id).exists()
    assert AuditEvent.unscoped.count() == events

    assert dev.delete(f"/api/v1/workflows/{workflow.id}").status_code == 204
    assert dev.delete(detail(connector.id)).status_code == 204
    assert not Connector.unscoped.filter(pk=connector.id).exists()


def test_a_workflow_created_after_the_check_still_makes_delete_409(tenant, dev, monkeypatch):
    from connectors import actions

    workflow = make_workflow(tenant)
    monkeypatch.setattr(actions, "in_use", lambda connector: False)  # as if created just after
    events = AuditEvent.unscoped.count()
    assert error(dev.delete(detail(workflow.connector_id)), 409)["code"] == "conflict"
    assert Connector.unscoped.filter(pk=workflow.connector_id).exists()
    assert AuditEvent.unscoped.count() == events  # the delete's event rolled back with it


def test_deleting_an_unknown_connector_is_404(dev):
    assert error(dev.delete(detail("conn_doesnotexist")), 404)["code"] == "resource_missing"


# -- audit --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("livemode", [False, True])
def test_each_write_creates_exactly_one_audit_event(tenant, livemode):
    client = keyed_client(tenant, "developer", livemode=livemode)

    def new_events(since_ids):
        return [e for e in AuditEvent.unscoped.all() if e.pk not in since_ids]

    def check(response, action, target_id):
        nonlocal seen
        events = new_events(seen)
        assert len(events) == 1, [e.action for e in events]
        event = events[0]
        assert event.action == action
        assert event.organization_id == tenant.org.id
        assert event.livemode is livemode
        assert event.actor_type == "member"
        assert event.actor_id == client.api_key.member_id
        assert event.credential_kind == "api_key"
        assert event.credential_id == client.api_key.id
        assert event.request_id == response["X-Request-ID"]
        assert event.target_type == "connector"
        assert event.target_id == target_id
        assert CANARY not in json.dumps(event.metadata)
        seen = {e.pk for e in AuditEvent.unscoped.all()}

    seen = {e.pk for e in AuditEvent.unscoped.all()}
    created = client.post(URL, body_for("http"), format="json")
    assert created.status_code == 201
    connector_id = created.json()["id"]
    check(created, "connector.created", connector_id)

    updated = client.patch(detail(connector_id), {"credentials": {"token": CANARY + "x"}, "name": "N"}, format="json")
    assert updated.status_code == 200
    check(updated, "connector.updated", connector_id)

    # Refused writes and reads leave nothing.
    client.patch(detail(connector_id), {"type": "csv"}, format="json")
    client.post(URL, body_for("http", config={"base_url": "http://plain.example.com"}), format="json")
    client.get(URL)
    client.get(detail(connector_id))
    assert new_events(seen) == []

    deleted = client.delete(detail(connector_id))
    assert deleted.status_code == 204
    check(deleted, "connector.deleted", connector_id)


def test_listing_costs_the_same_number_of_queries_whatever_the_page_size(tenant, dev):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(30):
        make_connector(tenant)
    # Not counted: the first request writes the key's last use (once a minute) and, with the credential
    # cache on, the second verifies the cached key; from then on every request costs the same.
    dev.get(URL)
    dev.get(URL)
    counts = set()
    for limit in (1, 30):
        with CaptureQueriesContext(connection) as queries:
            assert len(dev.get(f"{URL}?limit={limit}").json()["data"]) == limit
        counts.add(len(queries))
    assert len(counts) == 1, counts
