"""A request value of another JSON type than its field's is a 400 naming the field, as the schema says,
not coerced (DRF takes ``0`` for a string, ``"60"`` for an integer and ``"yes"`` for a boolean): found by
schemathesis's negative_data_rejection check."""

import pytest

from connectors.models import Connector, Dataset
from tests.support.factories import make_api_key, make_dataset, make_webhook_endpoint
from tests.support.state import snapshot


@pytest.mark.parametrize("body,field,message", [
    ({"name": 0}, "name", "Must be a string."),
    ({"name": "Leads", "description": 1.5}, "description", "Must be a string."),
    ({"name": True}, "name", "Must be a string."),
    ({"name": ["Leads"]}, "name", "Must be a string."),
])
def test_a_string_field_takes_only_a_string(tenant, body, field, message):
    response = tenant.client("developer").post("/api/v1/datasets", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {field: [message]}
    assert not Dataset.unscoped.exists()


def test_an_update_with_a_number_for_a_string_changes_nothing(tenant):
    dataset = make_dataset(tenant)
    before = snapshot(dataset)
    response = tenant.client("developer").patch(f"/api/v1/datasets/{dataset.pk}", {"description": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"description": ["Must be a string."]}
    assert snapshot(dataset) == before


@pytest.mark.parametrize("value", ["60", 60.0, True])
def test_an_integer_field_takes_only_an_integer(tenant, value):
    api_key = make_api_key(tenant)
    response = tenant.client("admin").post(f"/api/v1/api-keys/{api_key.pk}/roll", {"expires_in": value}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {"expires_in": ["Must be an integer."]}


@pytest.mark.parametrize("value", ["false", 0, "no"])
def test_a_boolean_field_takes_only_a_boolean(tenant, value):
    endpoint = make_webhook_endpoint(tenant)
    response = tenant.client("developer").patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"enabled": value}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {"enabled": ["Must be a boolean."]}
    endpoint.refresh_from_db()
    assert endpoint.enabled is True


def test_a_list_of_strings_takes_only_strings(tenant):
    response = tenant.client("developer").post("/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/a", "events": [1]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"events": ["Every item must be a string."]}


@pytest.mark.parametrize("where", ["config", "credentials"])
@pytest.mark.parametrize("value,message", [
    (123, "Every value must be a string."), (1.5, "Every value must be a string."),
    (True, "Every value must be a string."), (["a-list-item"], "Every value must be a string."),
    ({"k": "an-object-value"}, "Every value must be a string."), ("not an object", "Must be an object."),
], ids=["integer", "float", "boolean", "list", "object", "headers a string"])
def test_connector_header_values_take_only_strings(tenant, where, value, message):
    """An http connector's headers (in config and in credentials) were stored as "123" for 123."""
    headers = value if message == "Must be an object." else {"X-Plan": value}
    body = {"name": "h", "type": "http", "config": {"base_url": "https://api.example.com"}}
    body[where] = {**body.get(where, {}), "headers": headers}
    response = tenant.client("developer").post("/api/v1/connectors", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {where: {"headers": [message]}}
    assert not Connector.unscoped.exists()


def test_values_of_the_right_type_are_taken(tenant):
    client = tenant.client("developer")
    assert client.post("/api/v1/datasets", {"name": "Leads", "description": ""}, format="json").status_code == 201
    endpoint = make_webhook_endpoint(tenant)
    assert client.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"enabled": False}, format="json").status_code == 200
