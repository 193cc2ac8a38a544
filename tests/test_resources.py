"""The resource registry (tests/resources.py) describes every route of the v1 API, so the tables that read
it (permissions, isolation, malformed input, idempotency, the console) cover a new endpoint the day it is
added: an endpoint without an entry fails here."""

import pytest

from tests.resources import (
    RESOURCES, ROUTES, declared, make_object, resource_of, target_url, valid_body,
)

GET_ROUTES = sorted(name for name, route in ROUTES.items() if "GET" in route.methods)


def test_every_api_route_and_method_is_described_by_the_registry():
    served = {(route.name, method) for route in ROUTES.values() for method in route.methods}
    described = set(declared())
    assert served - described == set(), "routes (or methods) of the URL conf that tests/resources.py does not describe"
    assert described - served == set(), "routes (or methods) in tests/resources.py that the URL conf does not serve"


def test_each_route_belongs_to_one_resource():
    routes = [route for resource in RESOURCES for route in resource.routes]
    assert len(routes) == len(set(routes))
    names = [resource.name for resource in RESOURCES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("route_name,method", declared(), ids=[f"{r}-{m}" for r, m in declared()])
def test_every_described_method_says_what_it_needs(tenant, route_name, method):
    """A scope (unless the route is public), an object for an id in its URL, a body that succeeds."""
    resource = resource_of(route_name)
    if not resource.public:
        assert method in resource.scopes, f"{resource}: no scope for {method}"
    if ROUTES[route_name].takes_id:
        assert resource.make is not None, f"{resource}: no factory for {route_name}"
        obj = make_object(route_name, tenant)
        assert obj.pk and type(obj)._base_manager.filter(pk=obj.pk).exists()
    body = valid_body(route_name, method, tenant)
    if method in ("POST", "PATCH"):
        assert isinstance(body, dict), f"{route_name} {method}: no valid body"
    for mode in resource.organization_wide:
        assert mode in ("POST", "PATCH", "DELETE")


def test_list_shaped_routes_are_found_beyond_the_router_lists():
    lists = {name for name, route in ROUTES.items() if route.is_list}
    assert {name for name in ROUTES if name.endswith("-list")} <= lists
    assert any(ROUTES[name].takes_id for name in lists), "no @action list found: is the schema read?"


@pytest.mark.parametrize("route_name", sorted(name for name, route in ROUTES.items() if route.is_list))
def test_every_list_shaped_route_says_how_its_rows_are_made(tenant, route_name):
    resource = resource_of(route_name)
    assert resource.make is not None
    if ROUTES[route_name].takes_id:
        assert route_name in resource.rows, f"{resource}: how are rows of {route_name} made? (Rows)"


@pytest.mark.parametrize("route_name", GET_ROUTES)
def test_a_route_answers_a_list_exactly_when_it_is_list_shaped(tenant, route_name):
    """What the isolation suite lists is what the routes answer: an @action that returns a list without
    the schema saying so would escape it."""
    url, _ = target_url(route_name, tenant)
    response = tenant.client("admin").get(url)
    assert response.status_code == 200, response.content[:300]
    body = response.json() if response["Content-Type"].startswith("application/json") else {}
    answers_a_list = isinstance(body, list) or (isinstance(body, dict) and body.get("object") == "list")
    assert answers_a_list == ROUTES[route_name].is_list
