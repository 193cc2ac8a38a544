"""The resource registry: every route of the v1 API and every model of the console, described once.

A new endpoint is one entry in RESOURCES (or a route added to an entry): its routes and their methods, a
factory making one object for an organization and mode, valid create/update bodies, the scope each method
needs, and the model the console shows for it. The tables read this, so they grow a row per route:

- tests/security/test_permission_table.py: role x mode x route x method -> status, from ``scopes``
  (and ``organization_wide``, ``public``);
- tests/security/test_isolation.py: every id route, and every list-shaped route (a router list or any
  @action that answers a list, from the OpenAPI schema), across organizations and modes;
- tests/security/test_malformed_input.py and test_query_parameters.py: every route that takes a body;
- tests/idempotency/: every POST route (``not_idempotent``, ``secrets``);
- tests/admin/ and the console rows of tests/security/: ``ADMIN_OBJECTS``, from ``console``.

tests/test_resources.py fails the suite when a route of the URL conf (or a method of it), a list-shaped
route or a model of the console is not described here.
"""

from dataclasses import dataclass, field
from typing import Callable

from axes.models import AccessAttempt
from django.db import transaction

from core.ids import new_id
from accounts.models import AccessReview, APIKey, Invitation, Member, OAuthApplication, Organization
from audit.models import AuditEvent
from connectors.models import Connector, Dataset, Workflow
from connectors.records import append_records
from tests.support.factories import (
    make_access_attempt, make_access_review, make_api_key, make_audit_event, make_connector, make_dataset,
    make_invitation, make_member, make_oauth_application, make_webhook_endpoint, make_workflow,
)
from tests.support.urls import api_routes, site_routes
from webhooks.models import WebhookEndpoint

READ, WRITE = ("GET",), ("POST", "PATCH", "DELETE")
LIST, CRUD_LIST, DETAIL, CRUD_DETAIL = ("GET",), ("GET", "POST"), ("GET",), ("GET", "PATCH", "DELETE")
ANY_CREDENTIAL = None  # the scope of a route any authenticated caller may call


def read_write(area):
    """``area:read`` for reads, ``area:write`` for changes."""
    return {**{m: f"{area}:read" for m in READ}, **{m: f"{area}:write" for m in WRITE}}


def every_method(scope):
    return {m: scope for m in READ + WRITE}


@dataclass(frozen=True)
class Rows:
    """The rows a list-shaped route of one object lists (``datasets/{id}/records``): ``add(obj)`` makes
    one and returns its key, ``key(row)`` reads the key of a row of the response."""

    add: Callable
    key: Callable


@dataclass(frozen=True)
class Resource:
    name: str  # the router's basename ("connector"), or the URL name of a route of its own ("me")
    routes: dict  # URL name -> the HTTP methods it serves
    scopes: dict = field(default_factory=dict, repr=False)  # HTTP method -> scope it needs (ANY_CREDENTIAL)
    make: Callable | None = field(default=None, repr=False)  # (tenant, livemode=False) -> one saved object
    create: Callable | None = field(default=None, repr=False)  # (tenant, livemode) -> valid POST body (list route)
    update: dict | None = field(default=None, repr=False)  # a valid PATCH body (detail route)
    bodies: dict = field(default_factory=dict, repr=False)  # other POST routes: name -> (tenant, livemode) -> body
    status: dict = field(default_factory=dict)  # (route, method) -> success status, when not the method's usual
    rows: dict = field(default_factory=dict, repr=False)  # list-shaped id route -> Rows
    console: type | None = None  # the model the console shows (made by ``make``)
    public: bool = False  # its routes take no credential (they hand credentials out)
    organization_wide: tuple = ()  # methods that change the organization: live-mode credentials only
    not_idempotent: dict = field(default_factory=dict)  # POST route -> why it ignores Idempotency-Key
    secrets: dict = field(default_factory=dict)  # POST route -> one-time secret members of its response
    open_query: dict = field(default_factory=dict)  # (route, method) -> why it takes undeclared query parameters
    schema_view: bool = False  # drf-spectacular's own views: not in the schema, take ?format= and ?lang=

    def __str__(self):
        return self.name


def _records(dataset):
    marker = new_id("mark")
    with transaction.atomic():
        append_records(dataset, [{"marker": marker}])
    return marker


def _records_key(row):
    return row["data"].get("marker")


AUTH_NOT_IDEMPOTENT = "no credential: nothing to scope a key to"

RESOURCES = (
    Resource("me", {"me": ("GET",)}, scopes={"GET": ANY_CREDENTIAL}),
    Resource("schema", {"schema": ("GET",)}, scopes={"GET": ANY_CREDENTIAL}, schema_view=True),
    Resource("docs", {"docs": ("GET",)}, scopes={"GET": ANY_CREDENTIAL}, schema_view=True),
    Resource(
        "auth-token", {"auth-token": ("POST",), "auth-token-refresh": ("POST",), "auth-token-revoke": ("POST",)},
        public=True,
        bodies={
            "auth-token": lambda tenant, livemode: {"email": "nobody@example.com", "password": "not the password",
                                                    "organization": tenant.org.id},
            "auth-token-refresh": lambda tenant, livemode: {"refresh": "not.a.token"},
            "auth-token-revoke": lambda tenant, livemode: {"refresh": "not.a.token"},
        },
        # The JWT endpoints take no credential, so a key could belong to no organization; and a replayed
        # refresh would hand the rotated tokens to whoever presents the old refresh token again, which is
        # exactly what refresh-token reuse detection must refuse.
        not_idempotent={"auth-token": AUTH_NOT_IDEMPOTENT,
                        "auth-token-refresh": "a replay would defeat refresh-token reuse detection",
                        "auth-token-revoke": AUTH_NOT_IDEMPOTENT},
    ),
    Resource(
        "connector", {"connector-list": CRUD_LIST, "connector-detail": CRUD_DETAIL},
        scopes=read_write("connectors"), make=make_connector, console=Connector,
        create=lambda tenant, livemode: {"name": "CRM", "type": "csv", "config": {"delimiter": ";"}},
        update={"name": "Renamed"},
    ),
    Resource(
        "workflow", {"workflow-list": CRUD_LIST, "workflow-detail": CRUD_DETAIL},
        scopes=read_write("data"), make=make_workflow, console=Workflow,
        create=lambda tenant, livemode: {"name": "Sync", "connector": make_connector(tenant, livemode).id,
                                         "steps": [{"type": "mask", "fields": ["email"]}]},
        update={"name": "Renamed"},
    ),
    Resource(
        "dataset", {"dataset-list": CRUD_LIST, "dataset-detail": CRUD_DETAIL, "dataset-records": ("GET", "POST")},
        scopes=read_write("data"), make=make_dataset, console=Dataset,
        create=lambda tenant, livemode: {"name": "Leads"}, update={"name": "Renamed"},
        bodies={"dataset-records": lambda tenant, livemode: {"records": [{"id": 3}]}},
        rows={"dataset-records": Rows(add=_records, key=_records_key)},
        open_query={("dataset-records", "GET"): "filters on any field name of its records (connectors.records)"},
    ),
    Resource(
        "webhook-endpoint", {"webhook-endpoint-list": CRUD_LIST, "webhook-endpoint-detail": CRUD_DETAIL},
        scopes=every_method("webhooks:manage"), make=make_webhook_endpoint, console=WebhookEndpoint,
        create=lambda tenant, livemode: {"url": "https://hooks.example.com/new", "events": ["*"]},
        update={"description": "Renamed"},
        secrets={"webhook-endpoint-list": ["secret"]},
    ),
    Resource(
        "api-key", {"api-key-list": CRUD_LIST, "api-key-detail": ("GET", "DELETE"), "api-key-roll": ("POST",)},
        scopes=every_method("org:admin"), make=make_api_key, console=APIKey,
        create=lambda tenant, livemode: {"name": "Deploy", "scopes": ["connectors:read"]},
        bodies={"api-key-roll": lambda tenant, livemode: {"expires_in": 60}},
        secrets={"api-key-list": ["secret"], "api-key-roll": ["secret"]},
    ),
    Resource(
        "member", {"member-list": CRUD_LIST, "member-detail": CRUD_DETAIL},
        scopes=every_method("org:admin"), make=make_member, console=Member,
        create=lambda tenant, livemode: {"role": "service", "name": "Importer", "scopes": ["data:read"]},
        update={"name": "Renamed"},
        organization_wide=("POST", "PATCH", "DELETE"),
    ),
    Resource(
        "audit-event", {"audit-event-list": LIST, "audit-event-detail": DETAIL},
        scopes=every_method("audit:read"), make=make_audit_event, console=AuditEvent,
    ),
    Resource(
        "oauth-application", {"oauth-application-list": CRUD_LIST, "oauth-application-detail": CRUD_DETAIL},
        scopes=every_method("org:admin"), make=make_oauth_application, console=OAuthApplication,
        # Confidential, with no client credentials: it gets a client secret and no Service member (which
        # only live mode, or the console, may make: tests/security/test_livemode.py).
        create=lambda tenant, livemode: {
            "name": "Partner portal", "client_type": "confidential", "grant_types": ["authorization-code"],
            "redirect_uris": ["https://partner.example.com/callback"], "allowed_scopes": ["connectors:read"]},
        update={"name": "Renamed"},
        secrets={"oauth-application-list": ["client_secret"]},
    ),
    Resource(
        "invitation", {"invitation-list": LIST, "invitation-detail": ("GET", "DELETE"), "invitation-resend": ("POST",)},
        scopes=every_method("org:admin"), make=make_invitation, console=Invitation,
        bodies={"invitation-resend": lambda tenant, livemode: {}},
        status={("invitation-resend", "POST"): 200},
        organization_wide=("POST", "DELETE"),
    ),
    # The console's own models.
    Resource("organization", {}, make=lambda tenant, livemode=False: tenant.org, console=Organization),
    Resource("access-review", {}, make=make_access_review, console=AccessReview),
    Resource("access-attempt", {}, make=make_access_attempt, console=AccessAttempt),
)

# The URL conf, read once: {name: Route} of the v1 API, and every route of the site.
ROUTES = api_routes()
SITE_ROUTES = site_routes()

RESOURCE_OF_ROUTE = {route: resource for resource in RESOURCES for route in resource.routes}
ADMIN_OBJECTS = {resource.console: resource.make for resource in RESOURCES if resource.console is not None}
SUCCESS = {"GET": 200, "POST": 201, "PATCH": 200, "DELETE": 204}


def resource_of(route_name):
    return RESOURCE_OF_ROUTE[route_name]


def declared(predicate=lambda route, method: True):
    """Sorted (route, method) pairs the registry declares, filtered by ``predicate(route, method)``."""
    return sorted((route, method) for resource in RESOURCES for route, methods in resource.routes.items()
                  for method in methods if predicate(route, method))


def required_scope(route_name, method):
    """The scope a method of the route needs: None for any credential (or none, for public routes)."""
    resource = resource_of(route_name)
    return None if resource.public else resource.scopes[method]


def success_status(route_name, method):
    return resource_of(route_name).status.get((route_name, method), SUCCESS[method])


def is_organization_wide(route_name, method):
    return method in resource_of(route_name).organization_wide


def make_object(route_name, tenant, livemode=False):
    """One object the route's URL may address, of the tenant and mode."""
    return resource_of(route_name).make(tenant, livemode)


def target_url(route_name, tenant, livemode=False):
    """The route's URL, and the object it addresses (None for collection routes), made for the tenant."""
    route = ROUTES[route_name]
    obj = make_object(route_name, tenant, livemode) if route.takes_id else None
    return route.url(obj.pk if obj is not None else None), obj


def valid_body(route_name, method, tenant, livemode=False):
    """A request body that succeeds for a caller who holds the route's scope (for the public sign-in
    routes: a well-formed body, whose credentials are wrong); None for methods that take none."""
    resource = resource_of(route_name)
    if method == "PATCH":
        return dict(resource.update)
    if method != "POST":
        return None
    if route_name in resource.bodies:
        return resource.bodies[route_name](tenant, livemode)
    return resource.create(tenant, livemode)


def list_row(route_name, tenant, livemode=False):
    """One row the list-shaped route lists for the tenant and mode: (the list's URL, the row's key)."""
    route, resource = ROUTES[route_name], resource_of(route_name)
    obj = resource.make(tenant, livemode)
    if not route.takes_id:
        return route.url(), obj.pk
    return route.url(obj.pk), resource.rows[route_name].add(obj)


def row_key(route_name, row):
    """The key of a row of the route's list, as list_row returns it."""
    rows = resource_of(route_name).rows.get(route_name)
    return rows.key(row) if rows is not None else row["id"]
