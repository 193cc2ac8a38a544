"""Every route of the site, read from the URL conf (which holds the console's URLs for every model of the
admin site's registry): the browser pages, the console under /admin/, the OAuth endpoints, the API. A new
page or endpoint is covered by the tables that read this the day it is added; the API's routes must also
be described by the resource registry (tests/resources.py).

Each route gets an example path that resolves to it (a placeholder in each URL parameter), checked by
resolving it back."""

import re
from dataclasses import dataclass, field
from functools import cache

from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

API_PREFIX = "api/v1/"

# The value put in each URL parameter of an example path, by parameter name; anything else gets "x".
PLACEHOLDERS = {"object_id": "x_none", "app_label": "accounts", "url": "no-such-page", "verb": "revoke"}


@dataclass(frozen=True)
class SiteRoute:
    route: str  # the URL conf's pattern, e.g. "admin/accounts/member/<path:object_id>/change/"
    name: str  # the namespaced URL name ("admin:accounts_member_change"), or the route if it has none
    callback: object = field(repr=False)
    methods: tuple  # the HTTP methods its view answers (OPTIONS and HEAD aside)

    def __str__(self):
        return self.name

    @property
    def family(self):
        """Who calls it: "api" and "oauth" (programs: the API's JSON errors, OAuth's), "admin" (the console)
        or "page" (people)."""
        for prefix, family in (("api/", "api"), ("healthz", "api"), ("readyz", "api"), ("oauth/", "oauth"),
                               (".well-known/", "oauth"), ("admin/", "admin")):
            if self.route.startswith(prefix):
                return family
        return "page"

    @property
    def takes_parameters(self):
        return "<" in self.route or "(?P<" in self.route

    @property
    def view_class(self):
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    def path(self, default=None, **values):
        """An example path of this route: ``values`` in its parameters, else ``default``, else placeholders."""
        values = {**({} if default is not None else PLACEHOLDERS), **values}
        return "/" + _fill(self.route, values, "x" if default is None else default)


@dataclass(frozen=True)
class Route:
    """A route of the v1 API."""

    name: str  # its URL name: "connector-list", "dataset-records", "me"
    takes_id: bool
    methods: tuple
    model: type | None = field(repr=False)  # the tenant model a TenantViewSet serves
    view_class: type = field(default=None, repr=False)

    def __str__(self):
        return self.name

    @property
    def mode_scoped(self):
        """Whether its objects belong to one mode (test or live); members belong to both."""
        return self.model is not None and any(f.name == "livemode" for f in self.model._meta.fields)

    @property
    def is_list(self):
        """Whether its GET answers a list (``{"object": "list", "data": [...]}``), as the OpenAPI schema
        documents it: the router's list routes and any @action that returns a list."""
        return "GET" in self.methods and self.name in list_shaped_routes()

    def url(self, object_id=None):
        return reverse(self.name, kwargs={"id": object_id} if self.takes_id else None)

    def openapi_path(self):
        return reverse(self.name, kwargs={"id": "ID"} if self.takes_id else None).replace("ID", "{id}")


def _fill(route, values, default):
    # re_path() groups: (?P<app_label>accounts|axes)  (?P<url>.*)  (?P<id>[A-Za-z0-9_]{1,64})
    filled = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values.get(m.group(1), default)), route)
    # path() converters: <str:key_id>, <path:object_id>
    filled = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), default)), filled)
    return filled.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")


def _methods(callback):
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    actions = getattr(callback, "actions", None)  # DRF viewsets
    if actions:
        names = actions
    elif view_class is not None:
        names = [m for m in view_class.http_method_names if hasattr(view_class, m)]
    else:
        names = ["get", "post"]  # function views: the console's answer both (the health probes refuse POST)
    return tuple(sorted(m.upper() for m in names if m not in ("options", "head")))


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            name = f"{namespace}:{pattern.name}".strip(":") if pattern.name else route
            yield SiteRoute(route, name, pattern.callback, _methods(pattern.callback))


def site_routes():
    routes = list(_walk(get_resolver().url_patterns))
    for route in routes:
        match = resolve(route.path())
        assert match.func is route.callback, f"{route.path()} does not resolve to {route.name}"
    return routes


def api_routes():
    """{name: Route} for every route of the v1 API."""
    routes = {}
    for site_route in _walk(get_resolver().url_patterns):
        if not site_route.route.startswith(API_PREFIX):
            continue
        view_class = site_route.view_class
        # Methods the view itself refuses (a viewset without PUT) are not served.
        methods = tuple(m for m in site_route.methods if m.lower() in view_class.http_method_names)
        routes[site_route.name] = Route(site_route.name, "(?P<id>" in site_route.route, methods,
                                        getattr(view_class, "model", None), view_class)
    return routes


@cache
def list_shaped_routes():
    """The API routes whose GET the OpenAPI schema documents as a list: an array, or the list envelope
    (an object whose ``data`` is an array)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    by_path = {route.openapi_path(): name for name, route in api_routes().items()}
    found = set()
    for path, operations in schema["paths"].items():
        response = operations.get("get", {}).get("responses", {}).get("200", {})
        body = response.get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" in body:
            body = components[body["$ref"].rsplit("/", 1)[-1]]
        if body.get("type") == "array" or body.get("properties", {}).get("data", {}).get("type") == "array":
            found.add(by_path[path])
    return frozenset(found)
