"""Role x mode x route x method -> status, for every route of the v1 API.

The rows come from the resource registry (tests/resources.py): each route and method it declares, the
scope that method needs, and the scopes of each role below; a route or method that exists in the URL conf
but not in the registry fails the suite, so a new endpoint must say who may call it. The Service member
here holds connectors:read and data:read. Every row runs in both modes, with the credential and the
objects it reaches in that mode.
"""

import pytest

from api.permissions import is_organization_wide as view_is_organization_wide
from tests.conftest import CREDENTIAL_KINDS, SERVICE_GRANT
from tests.resources import (
    ROUTES, declared, is_organization_wide, make_object, required_scope, resource_of, success_status, valid_body,
)

ROLES = ("admin", "developer", "viewer", "service")

# The scopes of each role (docs: "Roles and scopes"); the Service member's are its grant.
ROLE_SCOPES = {
    "admin": {"connectors:read", "connectors:write", "data:read", "data:write", "webhooks:manage", "org:admin",
              "audit:read"},
    "developer": {"connectors:read", "connectors:write", "data:read", "data:write", "webhooks:manage"},
    "viewer": {"connectors:read", "data:read"},
    "service": set(SERVICE_GRANT),
}


def live_status(route, method, role):
    """What the role gets in live mode: the route's success, or 403 naming the scope it lacks."""
    scope = required_scope(route, method)
    return success_status(route, method) if scope is None or scope in ROLE_SCOPES[role] else 403


# (route, method): (admin, developer, viewer, service) in live mode; 403 rows name the scope the caller lacks.
TABLE = {(route, method): tuple(live_status(route, method, role) for role in ROLES)
         for route, method in declared(lambda route, method: not resource_of(route).public)}

# Organization-wide changes (members, roles, invitations, Service members) reach live mode: in test mode,
# a credential that holds the scope gets 403 livemode_required; otherwise test mode answers as live mode.
# Reads stay open to test-mode credentials.
LIVEMODE_REQUIRED = set(declared(is_organization_wide))
MODES = {"live": True, "test": False}

# Routes anyone may call: they hand out credentials, so they take none (and answer 400 to an empty body).
PUBLIC = {(route, method): 400 for route, method in declared(lambda route, method: resource_of(route).public)}


def expected(route, method, mode, live_status):
    if mode == "test" and (route, method) in LIVEMODE_REQUIRED and live_status < 400:
        return 403
    return live_status


# Every row runs in each mode with each kind of credential; a Service member has no password, so no JWT.
CASES = [(route, method, mode, role, kind, expected(route, method, mode, statuses[i]))
         for (route, method), statuses in TABLE.items() for mode in MODES for i, role in enumerate(ROLES)
         for kind in CREDENTIAL_KINDS if not (kind == "jwt" and role == "service")]


def test_every_route_and_method_is_in_the_table():
    served = {(route.name, method) for route in ROUTES.values() for method in route.methods}
    listed = set(TABLE) | set(PUBLIC)
    assert served - listed == set(), "routes missing from the permission table"
    assert listed - served == set(), "table rows for routes that do not exist"


@pytest.mark.parametrize("route_name,method", sorted(PUBLIC))
def test_public_routes_answer_without_credentials(anon, route_name, method):
    response = getattr(anon, method.lower())(ROUTES[route_name].url(), {}, format="json")
    assert response.status_code == PUBLIC[(route_name, method)]


def test_the_views_declare_the_organization_wide_methods_of_the_table():
    declared = {(route.name, method) for route in ROUTES.values() for method in route.methods
                if route.view_class is not None and view_is_organization_wide(route.view_class, method)}
    assert declared == LIVEMODE_REQUIRED


def call(client, route_name, method, tenant, livemode=False):
    route = ROUTES[route_name]
    object_id = make_object(route_name, tenant, livemode).pk if route.takes_id else None
    body = valid_body(route_name, method, tenant, livemode)
    return getattr(client, method.lower())(route.url(object_id), body, format="json")


@pytest.mark.parametrize("route_name,method,mode,role,kind,expected", CASES,
                         ids=[f"{r}-{m}-{mode}-{role}-{kind}" for r, m, mode, role, kind, _ in CASES])
def test_role_mode_route_method(tenant, route_name, method, mode, role, kind, expected):
    livemode = MODES[mode]
    response = call(tenant.client(role, livemode=livemode, kind=kind), route_name, method, tenant, livemode)
    assert response.status_code == expected, response.content
    if expected == 403:
        scope = required_scope(route_name, method)
        error = response.json()["error"]
        if (route_name, method) in LIVEMODE_REQUIRED and mode == "test" and TABLE[(route_name, method)][ROLES.index(role)] < 400:
            assert error["code"] == "livemode_required" and "required_scope" not in error
        else:
            assert error["required_scope"] == scope


@pytest.mark.parametrize("route_name,method", sorted(TABLE))
def test_without_credentials_every_route_is_401(tenant, anon, route_name, method):
    response = call(anon, route_name, method, tenant)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_methods_a_route_does_not_serve_are_405(tenant, route):
    client = tenant.client("admin")
    url = ROUTES[route].url("x_unknown" if ROUTES[route].takes_id else None)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        if method in ROUTES[route].methods:
            continue
        response = client.generic(method, url)
        assert response.status_code == 405, (method, response.content)
        if method != "HEAD":
            assert response.json()["error"]["code"] == "method_not_allowed"
