"""The OpenAPI schema and docs: generated from the code, with the security scheme and every
operation's scope, served without any CDN."""

import re

import pytest
from django.urls import reverse

from tests.routes import ROUTES

DOC_ROUTES = {"schema", "docs"}
PUBLIC_ROUTES = {"auth-token", "auth-token-refresh", "auth-token-revoke"}


@pytest.fixture
def schema(tenant):
    response = tenant.client("viewer").get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def openapi_path(route):
    path = reverse(route.name, kwargs={"id": "ID"} if route.takes_id else None)
    return path.replace("ID", "{id}")


def test_every_operation_is_documented_with_its_scope(schema):
    assert schema["openapi"].startswith("3.")
    for route in ROUTES.values():
        if route.name in DOC_ROUTES:
            continue
        operations = schema["paths"][openapi_path(route)]
        for method in route.methods:
            operation = operations[method.lower()]
            view_scope = operation["x-required-scope"]
            assert view_scope is None or view_scope in {
                "connectors:read", "connectors:write", "data:read", "data:write", "webhooks:manage", "org:admin", "audit:read"}
            if route.name in PUBLIC_ROUTES:
                assert view_scope is None and "security" not in operation
                continue
            if view_scope:
                assert f"Required scope: `{view_scope}`" in operation["description"]
            assert operation["security"] == [{"apiKey": []}, {"oauth2": [view_scope] if view_scope else []}, {"jwt": []}]


def test_the_three_credential_schemes_are_declared(schema):
    schemes = schema["components"]["securitySchemes"]
    assert (schemes["apiKey"]["type"], schemes["apiKey"]["scheme"]) == ("http", "bearer")
    assert set(schemes["oauth2"]["flows"]) == {"authorizationCode", "clientCredentials"}
    assert "connectors:write" in schemes["oauth2"]["flows"]["clientCredentials"]["scopes"]
    assert schemes["jwt"]["bearerFormat"] == "JWT"


def test_secrets_appear_in_no_response_schema_but_the_one_time_ones(schema):
    for name, component in schema["components"]["schemas"].items():
        properties = component.get("properties", {})
        if name.endswith("Request"):
            continue
        assert "credentials" not in properties, name
        if "secret" in properties:
            assert name in {"APIKeyWithSecret", "WebhookEndpointWithSecret"}, name


def test_the_schema_and_docs_need_a_credential_unless_made_public(anon, settings):
    assert anon.get("/api/v1/schema").status_code == 401
    assert anon.get("/api/v1/docs").status_code == 401
    settings.OPENPAAS_PUBLIC_DOCS = True
    assert anon.get("/api/v1/schema").status_code == 200


def test_the_docs_page_loads_nothing_from_the_internet(tenant):
    response = tenant.client("viewer").get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "docs must not load from a CDN"


def test_every_tenant_post_documents_the_idempotency_key_header(schema):
    posts = [(path, ops["post"]) for path, ops in schema["paths"].items() if "post" in ops and not path.startswith("/api/v1/auth/")]
    assert posts
    for path, operation in posts:
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert "Idempotency-Key" in headers, path
