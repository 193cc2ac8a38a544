"""The v1 API's routes, read from the URL conf, so that a new endpoint is covered the day it is added."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse

API_PREFIX = "api/v1/"


@dataclass(frozen=True)
class Route:
    name: str
    takes_id: bool
    methods: tuple
    model: type | None  # the tenant model a TenantViewSet serves
    view_class: type = None

    @property
    def mode_scoped(self):
        """Whether its objects belong to one mode (test or live); members belong to both."""
        return self.model is not None and any(f.name == "livemode" for f in self.model._meta.fields)

    def url(self, object_id=None):
        return reverse(self.name, kwargs={"id": object_id} if self.takes_id else None)


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def api_routes():
    routes = []
    for path, pattern in _walk(get_resolver().url_patterns):
        if not path.startswith(API_PREFIX):
            continue
        callback = pattern.callback
        view_class = getattr(callback, "cls", None) or callback.view_class
        handlers = getattr(callback, "actions", None) or {m: m for m in view_class.http_method_names if hasattr(view_class, m)}
        methods = tuple(sorted(m.upper() for m in handlers if m in view_class.http_method_names and m != "options"))
        routes.append(Route(pattern.name, "(?P<id>" in path, methods, getattr(view_class, "model", None), view_class))
    return routes


ROUTES = {route.name: route for route in api_routes()}
