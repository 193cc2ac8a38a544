"""The OpenAPI schema and docs: generated from the code, with the security scheme and every
operation's scope, served without any CDN."""

import re

import pytest

from tests.resources import ROUTES, resource_of
from tests.support.openapi import conforms

DOC_ROUTES = {name for name in ROUTES if resource_of(name).schema_view}
PUBLIC_ROUTES = {name for name in ROUTES if resource_of(name).public}


@pytest.fixture
def schema(tenant):
    response = tenant.client("viewer").get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_every_operation_is_documented_with_its_scope(schema):
    assert schema["openapi"].startswith("3.")
    for route in ROUTES.values():
        if route.name in DOC_ROUTES:
            continue
        operations = schema["paths"][route.openapi_path()]
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


# --- errors and strictness -----------------------------------------------------------------------------

WRITES = {"post", "patch", "delete"}


def operations_of(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_operation_documents_its_errors_in_the_one_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["type", "code", "message", "param", "doc_url", "request_id"]
    for path, method, operation in operations_of(schema):
        public = path.startswith("/api/v1/auth/")
        responses = operation["responses"]
        expected = {"401", "429"}
        if not public:
            expected.add("403")
        if "{" in path:
            expected.add("404")
        if method in WRITES and not public:
            expected.add("409")
        expected.add("400")  # a body, a query parameter (even an unknown one) or an Idempotency-Key
        if method in {"post", "patch"}:
            expected |= {"413", "415"}
        if path in ("/api/v1/auth/token", "/api/v1/auth/token/refresh"):
            expected.add("503")  # the sign-in limit fails closed without its cache
        errors = {code for code in responses if code >= "400"}
        assert errors == expected, (method, path, sorted(errors))
        for code in errors:
            assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_request_bodies_say_that_unknown_fields_are_refused(schema):
    requests = [name for name in schema["components"]["schemas"] if name.endswith("Request")]
    assert "ConnectorRequest" in requests and "PatchedConnectorRequest" in requests
    for name in requests:
        assert schema["components"]["schemas"][name]["additionalProperties"] is False, name


@pytest.fixture
def operations(schema):
    import schemathesis

    return schemathesis.openapi.from_dict(schema)


def test_the_errors_the_api_answers_are_the_ones_documented(tenant, anon, operations, settings):
    from tests.support.factories import make_connector

    admin = tenant.client("admin")
    connector = make_connector(tenant)
    cases = [
        ("GET", "/api/v1/connectors", anon.get("/api/v1/connectors"), 401),
        ("GET", "/api/v1/api-keys", tenant.client("viewer").get("/api/v1/api-keys"), 403),
        ("GET", "/api/v1/connectors/{id}", admin.get("/api/v1/connectors/conn_missing"), 404),
        ("POST", "/api/v1/connectors", admin.post("/api/v1/connectors", {"name": 1}, format="json"), 400),
        ("PATCH", "/api/v1/connectors/{id}", admin.patch(f"/api/v1/connectors/{connector.pk}", {"owner": "x"}, format="json"), 400),
        ("GET", "/api/v1/audit-events", admin.get("/api/v1/audit-events?actoin=x"), 400),
        ("POST", "/api/v1/datasets", admin.post("/api/v1/datasets", "x", content_type="text/plain"), 415),
    ]
    admin.post("/api/v1/datasets", {"name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    cases.append(("POST", "/api/v1/datasets",
                  admin.post("/api/v1/datasets", {"name": "B"}, format="json", HTTP_IDEMPOTENCY_KEY="k"), 409))
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "credential": "1/m"}}
    limited = tenant.client("developer")
    limited.get("/api/v1/datasets")
    cases.append(("GET", "/api/v1/datasets", limited.get("/api/v1/datasets"), 429))
    for method, path, response, status in cases:
        assert response.status_code == status, (method, path, response.content)
        conforms(operations, method, path, response)
