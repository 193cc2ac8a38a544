"""Role x mode x route x method -> status, for every route of the v1 API.

A route or method that exists in the URL conf but not in this table fails the suite, so a new endpoint
must say who may call it. The Service member here holds connectors:read and data:read. Every row runs
in both modes, with the credential and the objects it reaches in that mode.
"""

import pytest

from api.permissions import is_organization_wide
from tests.conftest import CREDENTIAL_KINDS
from tests.factories import FACTORIES, valid_body
from tests.routes import ROUTES

ROLES = ("admin", "developer", "viewer", "service")

# (route, method): (admin, developer, viewer, service) in live mode; 403 rows name the scope the caller lacks.
TABLE = {
    ("me", "GET"): (200, 200, 200, 200),
    ("schema", "GET"): (200, 200, 200, 200),
    ("docs", "GET"): (200, 200, 200, 200),
    ("connector-list", "GET"): (200, 200, 200, 200),
    ("connector-list", "POST"): (201, 201, 403, 403),
    ("connector-detail", "GET"): (200, 200, 200, 200),
    ("connector-detail", "PATCH"): (200, 200, 403, 403),
    ("connector-detail", "DELETE"): (204, 204, 403, 403),
    ("workflow-list", "GET"): (200, 200, 200, 200),
    ("workflow-list", "POST"): (201, 201, 403, 403),
    ("workflow-detail", "GET"): (200, 200, 200, 200),
    ("workflow-detail", "PATCH"): (200, 200, 403, 403),
    ("workflow-detail", "DELETE"): (204, 204, 403, 403),
    ("dataset-list", "GET"): (200, 200, 200, 200),
    ("dataset-list", "POST"): (201, 201, 403, 403),
    ("dataset-detail", "GET"): (200, 200, 200, 200),
    ("dataset-detail", "PATCH"): (200, 200, 403, 403),
    ("dataset-detail", "DELETE"): (204, 204, 403, 403),
    ("dataset-records", "GET"): (200, 200, 200, 200),
    ("dataset-records", "POST"): (201, 201, 403, 403),
    ("webhook-endpoint-list", "GET"): (200, 200, 403, 403),
    ("webhook-endpoint-list", "POST"): (201, 201, 403, 403),
    ("webhook-endpoint-detail", "GET"): (200, 200, 403, 403),
    ("webhook-endpoint-detail", "PATCH"): (200, 200, 403, 403),
    ("webhook-endpoint-detail", "DELETE"): (204, 204, 403, 403),
    ("api-key-list", "GET"): (200, 403, 403, 403),
    ("api-key-list", "POST"): (201, 403, 403, 403),
    ("api-key-detail", "GET"): (200, 403, 403, 403),
    ("api-key-detail", "DELETE"): (204, 403, 403, 403),
    ("api-key-roll", "POST"): (201, 403, 403, 403),
    ("member-list", "GET"): (200, 403, 403, 403),
    ("member-list", "POST"): (201, 403, 403, 403),
    ("member-detail", "GET"): (200, 403, 403, 403),
    ("member-detail", "PATCH"): (200, 403, 403, 403),
    ("member-detail", "DELETE"): (204, 403, 403, 403),
    ("audit-event-list", "GET"): (200, 403, 403, 403),
    ("audit-event-detail", "GET"): (200, 403, 403, 403),
    ("oauth-application-list", "GET"): (200, 403, 403, 403),
    ("oauth-application-list", "POST"): (201, 403, 403, 403),
    ("oauth-application-detail", "GET"): (200, 403, 403, 403),
    ("oauth-application-detail", "PATCH"): (200, 403, 403, 403),
    ("oauth-application-detail", "DELETE"): (204, 403, 403, 403),
    ("invitation-list", "GET"): (200, 403, 403, 403),
    ("invitation-detail", "GET"): (200, 403, 403, 403),
    ("invitation-detail", "DELETE"): (204, 403, 403, 403),
    ("invitation-resend", "POST"): (200, 403, 403, 403),
}

# Organization-wide changes (members, roles, invitations, Service members) reach live mode: in test mode,
# a credential that holds the scope gets 403 livemode_required; otherwise test mode answers as live mode.
# Reads stay open to test-mode credentials.
LIVEMODE_REQUIRED = {
    ("member-list", "POST"),
    ("member-detail", "PATCH"),
    ("member-detail", "DELETE"),
    ("invitation-detail", "DELETE"),
    ("invitation-resend", "POST"),
}
MODES = {"live": True, "test": False}

# Routes anyone may call: they hand out credentials, so they take none (and answer 400 to an empty body).
PUBLIC = {
    ("auth-token", "POST"): 400,
    ("auth-token-refresh", "POST"): 400,
    ("auth-token-revoke", "POST"): 400,
}

# The scope a 403 must name, per route and method.
SCOPE = {
    "connector": ("connectors:read", "connectors:write"),
    "workflow": ("data:read", "data:write"),
    "dataset": ("data:read", "data:write"),
    "webhook-endpoint": ("webhooks:manage", "webhooks:manage"),
    "api-key": ("org:admin", "org:admin"),
    "member": ("org:admin", "org:admin"),
    "audit-event": ("audit:read", "audit:read"),
    "oauth-application": ("org:admin", "org:admin"),
    "invitation": ("org:admin", "org:admin"),
}



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
                if route.view_class is not None and is_organization_wide(route.view_class, method)}
    assert declared == LIVEMODE_REQUIRED


def call(client, route_name, method, tenant, livemode=False):
    route = ROUTES[route_name]
    object_id = None
    if route.takes_id:
        object_id = FACTORIES[route_name.rsplit("-", 1)[0]](tenant, livemode).pk
    body = valid_body(route_name, method, tenant, livemode)
    return getattr(client, method.lower())(route.url(object_id), body, format="json")


@pytest.mark.parametrize("route_name,method,mode,role,kind,expected", CASES,
                         ids=[f"{r}-{m}-{mode}-{role}-{kind}" for r, m, mode, role, kind, _ in CASES])
def test_role_mode_route_method(tenant, route_name, method, mode, role, kind, expected):
    livemode = MODES[mode]
    response = call(tenant.client(role, livemode=livemode, kind=kind), route_name, method, tenant, livemode)
    assert response.status_code == expected, response.content
    if expected == 403:
        read_scope, write_scope = SCOPE[route_name.rsplit("-", 1)[0]]
        scope = read_scope if method == "GET" else write_scope
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
