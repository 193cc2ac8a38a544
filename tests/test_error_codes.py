"""Errors that teach: every error names its code's entry in the served reference (`doc_url`) and the field
or query parameter at fault (`param`), and every code the source can answer has an entry."""

import ast
import inspect
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework import exceptions

from core.errors import ERROR_CODES
from tests.support.factories import make_connector

ROOT = Path(__file__).resolve().parent.parent
SOURCE = [path for folder in ("core", "api", "accounts", "connectors", "webhooks", "audit", "idempotency", "keystore",
                              "console") for path in (ROOT / folder).rglob("*.py") if "migrations" not in path.parts]


def _codes_in_source():
    """``default_code = "..."`` of our exceptions, and the literal code of every error_response(...) call."""
    codes = {}
    for path in SOURCE:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "default_code" for t in node.targets)
                    and isinstance(node.value, ast.Constant)):
                codes[node.value.value] = path.relative_to(ROOT)
            # error_response(status, type, code, ...) and RefuseNulMiddleware.refuse(request, where, code)
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in (
                    "error_response", "refuse") and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant)
                    and isinstance(node.args[2].value, str)):
                codes[node.args[2].value] = path.relative_to(ROOT)
    return codes


def test_every_code_the_source_answers_has_an_entry_in_the_reference():
    codes = _codes_in_source()
    assert len(codes) > 20  # the scan sees the source
    # DRF's own exceptions reach clients through the same handler, with their own codes (but for those the
    # handler renames: parameter_invalid, resource_missing, rate_limited).
    renamed = (exceptions.ValidationError, exceptions.NotFound, exceptions.Throttled)
    codes.update({cls.default_code: "rest_framework" for _, cls in inspect.getmembers(exceptions, inspect.isclass)
                  if issubclass(cls, exceptions.APIException) and not issubclass(cls, renamed)})
    missing = {code: str(where) for code, where in codes.items() if code not in ERROR_CODES}
    assert not missing, f"codes without an entry in core.errors.ERROR_CODES: {missing}"


def test_the_reference_is_served_to_anyone_with_an_anchor_per_code(anon):
    response = anon.get("/docs/errors")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert all(f'id="{code}"' in page for code in ERROR_CODES)
    assert anon.post("/docs/errors").status_code == 405


@pytest.mark.parametrize("request_, param", [
    # a nested field: the first list item at fault, by position
    (("post", "/api/v1/workflows", {"name": "W", "steps": [{"type": "select", "fields": ["a"]}, {"type": "nope"}]}),
     "steps.1.type"),
    (("post", "/api/v1/connectors", {"name": "x", "type": "http", "config": {"base_url": 5}}), "config.base_url"),
    (("get", "/api/v1/connectors?colour=red", None), "colour"),  # an unknown query parameter
    (("get", "/api/v1/connectors/con_missing", None), "id"),  # a missing object
    (("get", "/api/v1/nowhere", None), None),  # no such route: nothing to point at
])
def test_an_error_names_the_parameter_at_fault(tenant, request_, param):
    method, path, body = request_
    client = tenant.client("admin")
    if "workflows" in path:
        body["connector"] = make_connector(tenant).id
    response = getattr(client, method)(path, body, format="json") if body else getattr(client, method)(path)
    error = response.json()["error"]
    assert response.status_code in (400, 404), error
    assert error["param"] == param, error
    reference = "/api/v1/docs" if path == "/api/v1/nowhere" else f"/docs/errors#{error['code']}"  # no such route
    assert error["doc_url"] == f"{settings.OPENPAAS_PUBLIC_URL}{reference}"


@pytest.mark.parametrize("path, body, param, message", [
    ("/api/v1/connectors", {"name": "x", "type": "HTTP"}, "type", "Not one of csv, http, postgresql: 'HTTP'."),
    ("/api/v1/connectors", {"name": "x", "type": 7}, "type", "Not one of csv, http, postgresql: 7."),
    # a long or odd value is described, never repeated (it may be a secret pasted into the wrong field)
    ("/api/v1/connectors", {"name": "x", "type": "htp"}, "type", "Not one of csv, http, postgresql: 'htp'."),
    # a value unlike every choice, or like a credential, is described, never repeated (it may be a secret
    # pasted into the wrong field)
    ("/api/v1/connectors", {"name": "x", "type": "hunter2"}, "type",
     "Not one of csv, http, postgresql: a value that is not one of them."),
    ("/api/v1/connectors", {"name": "x", "type": "AKIAIOSFODNN7EXAMPLE"}, "type",
     "Not one of csv, http, postgresql: a value that is not one of them."),
    ("/api/v1/oauth-applications", {"name": "x", "client_type": "secret", "grant_types": ["client-credentials"],
                                    "allowed_scopes": ["connectors:read"]}, "client_type",
     "Not one of confidential, public: a value that is not one of them."),
    ("/api/v1/members", {"role": "Admin", "email": "a@example.com"}, "role",
     "Not one of viewer, developer, admin: 'Admin'."),
])
def test_a_choice_error_lists_the_choices_and_names_the_value(tenant, path, body, param, message):
    response = tenant.client("admin", livemode=True).post(path, body, format="json")
    error = response.json()["error"]
    assert response.status_code == 400 and error["param"] == param, error
    assert error["details"][param] == [message] and error["message"] == f"{param}: {message}"
