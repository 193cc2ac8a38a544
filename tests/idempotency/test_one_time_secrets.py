"""One-time secrets in idempotent replays: the credential that made the first request gets its response
back as sent (its retry must not lose the secret it never saw); any other credential that may make the
request gets the object with the secret null and ``Idempotent-Secret-Withheld`` naming it; and no secret
is readable from the database, not even with the master key.

The routes are found from the OpenAPI schema (every POST whose success response has a member named
``secret`` or ``..._secret``), and must be the ones the resource registry (tests/resources.py) says hand
out secrets, so a new one is covered the day its serializer adds such a member."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection

from accounts.models import APIKey
from api import idempotency as store
from idempotency.models import IdempotencyKey
from tests.conftest import CREDENTIAL_KINDS
from tests.idempotency.helpers import assert_replay_of
from tests.resources import RESOURCES, ROUTES, make_object, valid_body
from tests.support.state import row_counts
from webhooks.models import WebhookEndpoint

# {route name: the one-time secret members of its POST's success response}, as the registry declares them.
SECRETS = {route: members for resource in RESOURCES for route, members in resource.secrets.items()}


def _component(schema, ref):
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def secret_members_by_route(schema):
    """{route name: one-time secret members of its POST's success response}, read from the schema."""
    found = {}
    for route in ROUTES.values():
        if "POST" not in route.methods:
            continue
        operation = schema["paths"][route.openapi_path()]["post"]
        for code, response in operation["responses"].items():
            if not code.startswith("2"):
                continue
            ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            if ref is None:
                continue
            members = sorted(name for name in _component(schema, ref).get("properties", {})
                             if store.is_one_time_secret(name))
            if members:
                found[route.name] = members
    return found


@pytest.fixture
def schema(tenant):
    response = tenant.client("admin").get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_routes_that_hand_out_one_time_secrets_are_found_from_the_serializers(schema):
    found = secret_members_by_route(schema)
    assert found == SECRETS
    for name, component in schema["components"]["schemas"].items():
        for member, definition in component.get("properties", {}).items():
            if store.is_one_time_secret(member) and not name.endswith("Request"):
                assert definition.get("nullable"), f"{name}.{member}: null in a replay to another credential"


def _route_names():
    # From the registry; test_the_routes_..._are_found_from_the_serializers keeps it equal to what the
    # schema says.
    return sorted(SECRETS)


def first_request(tenant, route_name, client, livemode=False, key="k-1"):
    route = ROUTES[route_name]
    object_id = make_object(route_name, tenant, livemode).pk if route.takes_id else None
    body = valid_body(route_name, "POST", tenant, livemode)
    url = route.url(object_id)
    response = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content

    def again(other_client):
        return other_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    return response, again


def secret_of(response):
    data = response.json()
    members = [name for name in data if store.is_one_time_secret(name)]
    assert len(members) == 1, data
    return members[0], data[members[0]]


def raw_idempotency_rows():
    table = IdempotencyKey._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # nosec B608: a model's table name
        return " ".join(str(value) for row in cursor.fetchall() for value in row)


@pytest.mark.parametrize("livemode", [False, True], ids=["test", "live"])
@pytest.mark.parametrize("route_name", _route_names())
def test_the_same_credential_gets_its_secret_back_and_another_gets_the_object_without_it(tenant, route_name, livemode):
    client = tenant.client("admin", livemode=livemode)
    first, again = first_request(tenant, route_name, client, livemode)
    member, secret = secret_of(first)
    assert secret
    other_client = tenant.client("admin", livemode=livemode)  # the same person, another key
    before = row_counts()

    same = again(client)
    assert_replay_of(same, first)
    assert same.json()[member] == secret
    assert not same.has_header(store.SECRET_WITHHELD_HEADER)

    other = again(other_client)
    assert other.status_code == 201
    assert other["Idempotent-Replayed"] == "true"
    assert other[store.SECRET_WITHHELD_HEADER] == member
    assert other.json() == {**first.json(), member: None}, "the same object, only its secret withheld"
    assert secret not in other.content.decode()

    assert row_counts() == before, "no replay ran the request again"
    assert same.json()[member] == again(client).json()[member], "still the first credential's, after another's"


@pytest.mark.parametrize("route_name", _route_names())
def test_no_one_time_secret_is_readable_from_the_database_even_with_the_master_key(tenant, route_name):
    first, _ = first_request(tenant, route_name, tenant.client("admin"))
    member, secret = secret_of(first)
    record = IdempotencyKey.unscoped.get()
    assert secret not in record.response_body, "the replayable body (decrypted with the master key) holds no secret"
    assert record.withheld_members == member
    raw = raw_idempotency_rows()
    for part in (secret, secret[-24:], secret[8:32]):
        assert part not in raw
    # What is sealed opens only with the credential's own bearer value, never without it.
    assert record.sealed_response_body
    assert store.unseal(record.sealed_response_body, store.Caller(record.credential, "sk_test_guess"), record) is None


@pytest.mark.parametrize("kind", [k for k in CREDENTIAL_KINDS if k != "api_key"])
def test_an_oauth_or_jwt_credential_gets_its_own_secret_back_and_no_other(tenant, kind):
    client = tenant.client("admin", kind=kind)
    first, again = first_request(tenant, "webhook-endpoint-list", client)
    assert_replay_of(again(client), first)
    other = again(tenant.client("admin", kind=kind))
    assert other.json()["secret"] is None
    assert other[store.SECRET_WITHHELD_HEADER] == "secret"


def test_a_developer_gets_no_webhook_secret_an_admin_created(tenant):
    """The review's case: a Developer's key replayed an Admin's webhook endpoint creation."""
    first, again = first_request(tenant, "webhook-endpoint-list", tenant.client("admin"))
    replay = again(tenant.client("developer"))
    assert replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["secret"] is None
    assert first.json()["secret"] not in replay.content.decode()
    assert WebhookEndpoint.unscoped.count() == 1


def test_a_replay_to_another_credential_creates_nothing_that_works(tenant):
    """The withheld secret is not replaced by a new one: the client that lost it rolls the key."""
    first, again = first_request(tenant, "api-key-list", tenant.client("admin"))
    other_client = tenant.client("admin")
    keys = APIKey.unscoped.count()
    assert again(other_client).json()["secret"] is None
    assert APIKey.unscoped.count() == keys


def test_a_response_without_secrets_is_replayed_to_every_credential_as_it_was(tenant):
    first = tenant.client("developer").post("/api/v1/datasets", {"name": "Leads"}, format="json",
                                            HTTP_IDEMPOTENCY_KEY="k")
    replay = tenant.client("admin").post("/api/v1/datasets", {"name": "Leads"}, format="json",
                                         HTTP_IDEMPOTENCY_KEY="k")
    assert_replay_of(replay, first)
    assert not replay.has_header(store.SECRET_WITHHELD_HEADER)
    assert IdempotencyKey.unscoped.get().sealed_response_body is None


def test_responses_stored_before_the_fix_lose_their_secrets_on_migration(tenant):
    first = tenant.client("admin").post("/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/a", "events": ["*"]},
                                        format="json", HTTP_IDEMPOTENCY_KEY="k")
    secret = first.json()["secret"]
    IdempotencyKey.unscoped.update(response_body=first.content.decode(), withheld_members="", credential="",
                                  sealed_response_body=None)  # as the previous version stored it
    migration = importlib.import_module("idempotency.migrations.0002_one_time_secrets_sealed_to_the_credential")
    migration.withhold_stored_secrets(django_apps, None)
    record = IdempotencyKey.unscoped.get()
    assert secret not in record.response_body
    assert record.withheld_members == "secret"
    replay = tenant.client("admin").post("/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/a", "events": ["*"]},
                                         format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert replay.json()["secret"] is None and replay.json()["id"] == first.json()["id"]
