"""Every route of the site, read from the URL conf (which holds the console's URLs for every model of the
admin site's registry): the browser pages, the console under /admin/, the OAuth endpoints, the API. A new
page is covered by the tables that read this the day it is added.

Each route gets an example path that resolves to it (a placeholder in each URL parameter), checked by
resolving it back."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve

# The value put in each URL parameter of an example path, by parameter name; anything else gets "x".
PLACEHOLDERS = {"object_id": "x_none", "app_label": "accounts", "url": "no-such-page", "verb": "revoke"}


@dataclass(frozen=True)
class SiteRoute:
    route: str  # the URL conf's pattern, e.g. "admin/accounts/member/<path:object_id>/change/"
    name: str  # the namespaced URL name ("admin:accounts_member_change"), or the route if it has none
    callback: object
    methods: tuple  # the HTTP methods its view answers (OPTIONS and HEAD aside)

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

    def path(self, default=None, **values):
        """An example path of this route: ``values`` in its parameters, else ``default``, else placeholders."""
        values = {**({} if default is not None else PLACEHOLDERS), **values}
        return "/" + _fill(self.route, values, "x" if default is None else default)


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

