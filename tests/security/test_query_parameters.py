"""Query parameters: an operation takes the ones it declares (a list: limit, cursor and its filters) and
answers anything else with a 400 ``parameter_unknown`` naming it, as an unknown body field is answered;
a misspelt filter never returns everything. Every route of the v1 API, read from the URL conf."""

import json

import pytest

from audit.models import AuditEvent
from connectors.models import Connector
from idempotency.models import IdempotencyKey
from tests.resources import RESOURCES, ROUTES, is_organization_wide, make_object, resource_of, valid_body
from tests.support.factories import make_dataset
from tests.support.state import row_counts, snapshot

# Routes that take query parameters of their own beyond what they declare, and why (tests/resources.py).
OPEN = {key: reason for resource in RESOURCES for key, reason in resource.open_query.items()}
# drf-spectacular's views: ?format= and ?lang= are theirs.
DOC_VIEWS = {name for name in ROUTES if resource_of(name).schema_view}

CASES = sorted(
    (name, method) for name, route in ROUTES.items() if name not in DOC_VIEWS
    for method in route.methods if (name, method) not in OPEN
)


def error_of(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def prepare(route_name, method, tenant, query):
    """The URL (with ``query``) and body of a request that would succeed without the query."""
    route = ROUTES[route_name]
    object_id = make_object(route_name, tenant).pk if route.takes_id else None
    body = valid_body(route_name, method, tenant) if method in ("POST", "PATCH") and route_name != "me" else None
    return f"{route.url(object_id)}?{query}", body


@pytest.mark.parametrize("route_name,method", CASES)
def test_every_operation_refuses_a_query_parameter_it_does_not_take(tenant, route_name, method):
    # Organization-wide changes take a live-mode credential (a test-mode one is refused before this check).
    client = tenant.client("admin", livemode=is_organization_wide(route_name, method))
    url, body = prepare(route_name, method, tenant, "stauts=x")
    before = row_counts()
    response = client.generic(method, url, None if body is None else json.dumps(body),
                              content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    error = error_of(response, 400)
    assert (error["type"], error["code"]) == ("invalid_request_error", "parameter_unknown")
    assert error["message"].startswith("Unknown query parameter: stauts.")
    assert row_counts() == before, "refused before anything ran"
    assert not IdempotencyKey.unscoped.exists(), "and before the Idempotency-Key was claimed"


def test_a_misspelt_filter_is_refused_not_answered_with_everything(tenant):
    client = tenant.client("admin")
    error = error_of(client.get("/api/v1/audit-events?actoin=connector.created"), 400)
    assert error["code"] == "parameter_unknown"
    assert error["message"] == "Unknown query parameter: actoin. This operation takes action, cursor, limit."
    assert error_of(tenant.client("developer").get("/api/v1/connectors?stauts=x"), 400)["code"] == "parameter_unknown"


def test_declared_parameters_are_taken(tenant):
    client = tenant.client("admin")
    make_object("connector-detail", tenant)
    assert client.get("/api/v1/connectors?limit=1").status_code == 200
    page = client.get("/api/v1/audit-events?limit=1&action=connector.created")
    assert page.status_code == 200
    assert client.get("/api/v1/invitations?status=pending").status_code == 200


def test_a_declared_parameter_with_listed_values_refuses_others(tenant):
    client = tenant.client("admin")
    error = error_of(client.get("/api/v1/invitations?status=bogus"), 400)
    assert (error["code"], error["param"]) == ("parameter_invalid", "status")
    assert error["details"] == {"status": ["Not one of pending: a value that is not one of them."]}
    assert error_of(client.get("/api/v1/invitations?status=Pending"), 400)["details"] == {
        "status": ["Not one of pending: 'Pending'."]}
    [message] = error_of(client.get("/api/v1/audit-events?action=connector.create"), 400)["details"]["action"]
    assert message.startswith("Not one of ") and "connector.created" in message
    assert message.endswith(": 'connector.create'.")


def test_a_detail_takes_no_query_parameters_not_even_a_lists(tenant):
    """A detail answers one object: a ``limit`` there is a client's mistake worth saying."""
    connector = make_object("connector-detail", tenant)
    client = tenant.client("admin")
    assert client.get(f"/api/v1/connectors/{connector.pk}").status_code == 200
    error = error_of(client.get(f"/api/v1/connectors/{connector.pk}?limit=1"), 400)
    assert error["message"] == "Unknown query parameter: limit. This operation takes no query parameters."


def test_a_write_with_an_unknown_parameter_changes_nothing_and_claims_no_key(tenant):
    client = tenant.client("developer")
    connector = make_object("connector-detail", tenant)
    before = snapshot(connector)
    assert error_of(client.patch(f"/api/v1/connectors/{connector.pk}?force=1", {"name": "X"}, format="json"), 400)
    assert snapshot(connector) == before
    assert error_of(client.post("/api/v1/datasets?dry_run=1", {"name": "Leads"}, format="json",
                                HTTP_IDEMPOTENCY_KEY="k"), 400)["code"] == "parameter_unknown"
    assert not IdempotencyKey.unscoped.exists()
    assert Connector.unscoped.count() == 1
    assert not AuditEvent.unscoped.filter(action__in=["connector.updated", "dataset.created"]).exists()


def test_credentials_and_permissions_are_checked_first(tenant, anon):
    assert error_of(anon.get("/api/v1/connectors?stauts=x"), 401)
    assert error_of(tenant.client("viewer").get("/api/v1/api-keys?stauts=x"), 403)["code"] == "missing_scope"


def test_a_405_stays_a_405_whatever_the_query(tenant):
    assert tenant.client("admin").put("/api/v1/connectors?stauts=x", {}, format="json").status_code == 405


def test_a_name_that_is_not_a_plain_name_is_not_repeated(tenant):
    error = error_of(tenant.client("admin").get("/api/v1/connectors", {"<script>" + "x" * 100: "1"}), 400)
    assert "<script>" not in error["message"] and "x" * 100 not in error["message"]
    assert "(a name that is not a parameter)" in error["message"]


def test_the_dataset_records_still_filter_on_any_field(tenant):
    dataset = make_dataset(tenant)
    client = tenant.client("developer")
    page = client.get(f"/api/v1/datasets/{dataset.pk}/records?amount__gte=15&limit=10")
    assert page.status_code == 200, page.content
    assert [record["data"]["id"] for record in page.json()["data"]] == [2]


def test_the_schema_lists_what_each_operation_takes(tenant):
    schema = tenant.client("admin").get("/api/v1/schema", {"format": "json"}).json()

    def query(path, method="get"):
        return sorted(p["name"] for p in schema["paths"][path][method].get("parameters", []) if p["in"] == "query")

    assert query("/api/v1/audit-events") == ["action", "cursor", "limit"]
    assert query("/api/v1/invitations") == ["cursor", "limit", "status"]
    assert query("/api/v1/connectors") == ["cursor", "limit"]
    assert query("/api/v1/connectors/{id}") == []
    status = next(p for p in schema["paths"]["/api/v1/invitations"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == ["pending"]
