"""Tenant isolation, for every route with an object id in the URL conf.

Organization A's most powerful key (an Admin's, all scopes) aims at organization B's objects: every
method of every id route answers 404, exactly as for an id that never existed, and B's object is
unchanged. Lists never show B's rows: every list-shaped route (a router list, or an @action that answers
a list, such as a dataset's records), found from the URL conf and the OpenAPI schema, its rows made as
the resource registry (tests/resources.py) says. The same holds between a test key and live objects.
"""

import pytest

from api.permissions import is_organization_wide
from tests.conftest import CREDENTIAL_KINDS
from tests.resources import ROUTES, list_row, make_object, row_key, valid_body
from tests.support.state import snapshot

ID_ROUTES = [(route.name, method) for route in ROUTES.values() if route.takes_id for method in route.methods]
MODE_ROUTES = [(name, method) for name, method in ID_ROUTES if ROUTES[name].mode_scoped]
LIST_ROUTES = [route.name for route in ROUTES.values() if route.is_list]


def attack(client, route_name, method, target, body_tenant):
    body = valid_body(route_name, method, body_tenant)
    return getattr(client, method.lower())(ROUTES[route_name].url(target.pk), body, format="json")


def not_found_body(response, object_id=None):
    """The 404's body but its request id; the id it names (a 404 names the id it was asked) as ``<id>``."""
    assert response.status_code == 404, response.content
    body = {k: v for k, v in response.json()["error"].items() if k != "request_id"}
    if object_id:
        body["message"] = body["message"].replace(object_id, "<id>")
    return body


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
@pytest.mark.parametrize("route_name,method", ID_ROUTES)
def test_another_organizations_object_is_404_and_unchanged(tenant, other_tenant, route_name, method, kind):
    victim = make_object(route_name, other_tenant)
    before = snapshot(victim)
    # Organization-wide changes refuse test-mode credentials before any lookup: attack with a live one.
    livemode = is_organization_wide(ROUTES[route_name].view_class, method)
    response = attack(tenant.client("admin", livemode=livemode, kind=kind), route_name, method, victim, tenant)
    never_existed = tenant.client("admin", livemode=livemode).generic(method, ROUTES[route_name].url(victim.pk[:-1] + "0"))
    assert not_found_body(response, victim.pk) == not_found_body(never_existed, victim.pk[:-1] + "0")
    assert snapshot(victim) == before


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
@pytest.mark.parametrize("key_livemode", [False, True], ids=["test credential on live object", "live credential on test object"])
@pytest.mark.parametrize("route_name,method", MODE_ROUTES)
def test_a_credential_cannot_reach_an_object_of_the_other_mode(tenant, route_name, method, key_livemode, kind):
    other_mode_object = make_object(route_name, tenant, livemode=not key_livemode)
    before = snapshot(other_mode_object)
    response = attack(tenant.client("admin", livemode=key_livemode, kind=kind), route_name, method, other_mode_object, tenant)
    assert response.status_code == 404
    assert snapshot(other_mode_object) == before


def all_keys(client, route_name, url):
    keys, cursor = [], None
    while True:
        page = client.get(url, {"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        keys += [row_key(route_name, row) for row in page["data"]]
        if not page["has_more"]:
            return keys
        cursor = page["next_cursor"]


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
@pytest.mark.parametrize("route_name", LIST_ROUTES)
def test_lists_hold_only_the_callers_organization_and_mode(tenant, other_tenant, route_name, kind):
    url, mine = list_row(route_name, tenant, livemode=False)
    others = [list_row(route_name, other_tenant, livemode=False), list_row(route_name, other_tenant, livemode=True),
              list_row(route_name, tenant, livemode=True)]
    if not ROUTES[route_name].mode_scoped:
        others = others[:1]  # members belong to the organization, not to a mode
    if ROUTES[route_name].takes_id:
        others.append(list_row(route_name, tenant, livemode=False))  # the rows of another object of mine
    seen = all_keys(tenant.client("admin", kind=kind), route_name, url)
    assert mine in seen
    assert not {key for _, key in others} & set(seen)


def test_records_of_another_organizations_dataset_are_not_listed_or_appended(tenant, other_tenant):
    victim = make_object("dataset-detail", other_tenant)
    client = tenant.client("admin")
    assert client.get(f"/api/v1/datasets/{victim.pk}/records").status_code == 404
    assert client.post(f"/api/v1/datasets/{victim.pk}/records", {"records": [{"x": 1}]}, format="json").status_code == 404
    victim.refresh_from_db()
    assert victim.record_count == 2 and victim.records.count() == 2


def test_a_workflow_cannot_point_at_another_organizations_connector(tenant, other_tenant):
    foreign = make_object("connector-detail", other_tenant)
    own_live = make_object("connector-detail", tenant, livemode=True)
    client = tenant.client("admin")
    for connector in (foreign, own_live):
        response = client.post("/api/v1/workflows", {"name": "w", "connector": connector.pk, "steps": []}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["details"] == {"connector": ["No such connector."]}


def test_audit_events_of_another_organization_are_never_listed(tenant, other_tenant):
    foreign = other_tenant.client("admin").post("/api/v1/datasets", {"name": "secret"}, format="json").json()
    tenant.client("admin").post("/api/v1/datasets", {"name": "mine"}, format="json")
    events = tenant.client("admin").get("/api/v1/audit-events?limit=100").json()["data"]
    targets = {event["target"]["id"] for event in events if event["target"]}
    assert any(t.startswith("ds_") for t in targets)
    assert foreign["id"] not in targets
