"""OpenAPI generation that states, for each operation, the scope it requires, the three ways to present a
credential (API key, OAuth 2.0 token, JWT), the query parameters it takes, that request bodies take no
unknown fields, and the errors it can answer, all in the one error shape (core.errors).

Errors are documented per operation from what it is, not listed by hand: any operation can be refused
for its credential (401), its scope or another permission rule (403) and its rate (429); one that takes
a body or query parameters can be invalid (400); one with a path parameter can miss its object (404); a
write can conflict (409). A new operation, or a new error code under one of these statuses (such as a 403
``livemode_required``), needs no edit here.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter

from api.permissions import ANY_PRINCIPAL, required_scope
from core.scopes import SCOPES
from core import errors
from api.idempotency import MAX_KEY_LENGTH, is_one_time_secret

# As api.idempotency's check: printable ASCII, no space at either end.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~](?:[ -~]{0,%d}[!-~])?$" % (MAX_KEY_LENGTH - 2)


def _operation_scope(auto_schema):
    scope = required_scope(auto_schema.view, auto_schema.method)
    return None if scope == ANY_PRINCIPAL else scope


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER, required=False,
    description="Up to 255 printable ASCII characters. A repeat with the same key and the same request within "
                "24 hours returns the first response (with `Idempotent-Replayed: true`) without running again; "
                "the same key with another request is a 409. A one-time secret in that response is returned "
                "only to the credential that made the first request; to any other it is null, and "
                "`Idempotent-Secret-Withheld` names it.")

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error, whatever its status.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message", "param", "doc_url", "request_id"],
            "properties": {
                "type": {"type": "string", "enum": [errors.INVALID_REQUEST, errors.AUTHENTICATION, errors.PERMISSION,
                                                    errors.RATE_LIMIT, errors.API]},
                "code": {"type": "string", "description": "What went wrong, for programs: `parameter_invalid`, "
                                                          "`missing_scope`, `resource_missing`, ..."},
                "message": {"type": "string", "description": "What went wrong, for people."},
                "param": {"type": "string", "nullable": True,
                          "description": "The field or query parameter at fault (dotted for a nested field), "
                                         "`id` for a missing object, or null."},
                "doc_url": {"type": "string", "format": "uri",
                            "description": "The code's entry in the error reference (`/docs/errors`)."},
                "request_id": {"type": "string", "nullable": True, "description": "As in `X-Request-ID`."},
                "details": {"type": "object", "additionalProperties": True,
                            "description": "On a 400 `parameter_invalid`: the messages per field."},
                "required_scope": {"type": "string", "description": "On a 403 `missing_scope`: the scope needed."},
            },
        },
    },
}

RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "required": True,
                               "description": "Seconds to wait before retrying."}}

# On every answer to an authenticated request (core.middleware, from core.gate.headers).
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer", "minimum": 1},
                          "description": "Requests allowed in the window of the budget closest to running out "
                                         "(the credential's, or the organization's in this mode)."},
    "X-RateLimit-Remaining": {"schema": {"type": "integer", "minimum": 0},
                              "description": "Requests left in that window."},
    "X-RateLimit-Reset": {"schema": {"type": "integer"},
                          "description": "When that window ends, in seconds since the Unix epoch."},
}

# status: (description, applies to the operation?) in the order they are listed.
ERROR_RESPONSES = {
    "400": "Invalid request: `parameter_invalid` (a body or query value; `details` names the fields, and unknown "
           "or read-only body fields are refused), `parameter_unknown` (a query parameter the operation does not "
           "take), `parse_error` (not JSON), `idempotency_key_invalid`, or `bad_request`.",
    "401": "No credential (`missing_credentials`), or one that is refused: `invalid_api_key` (no such key), "
           "`api_key_malformed`, `api_key_checksum_invalid` (mistyped), `api_key_revoked`, `api_key_expired`, "
           "`api_key_inactive`, `invalid_token` (an OAuth token or JWT), `authorization_scheme_invalid` "
           "(not `Bearer`), `credentials_in_url`.",
    "403": "The credential may not do this: `missing_scope` (with `required_scope`), `livemode_required` (an "
           "organization-wide change asked with a test-mode credential), or another rule its code names.",
    "404": "No such object, or one of another organization or mode: `resource_missing`.",
    "409": "Conflicts with the current state of the object (`conflict`), or an `Idempotency-Key` used with "
           "another request (`idempotency_key_reused`) or still in use (`idempotency_key_in_use`).",
    "413": "The request body is larger than the limit: `request_too_large`.",
    "415": "The request body is not JSON (`application/json`, UTF-8): `unsupported_media_type`.",
    "429": "Too many requests: retry after `Retry-After` seconds (`rate_limited`).",
    "503": "The sign-in limits cannot be checked (their store is unreachable), so no attempt is taken: "
           "`service_unavailable`; retry after `Retry-After` seconds.",
}

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")


class ScopedAutoSchema(AutoSchema):
    def _postprocess_serializer_schema(self, schema, serializer, direction):
        from api.views import StrictSerializerMixin

        schema = super()._postprocess_serializer_schema(schema, serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializerMixin) and "properties" in schema:
            schema["additionalProperties"] = False  # unknown and read-only fields are a 400 (StrictSerializerMixin)
        if direction == "response":
            for name, member in schema.get("properties", {}).items():
                if is_one_time_secret(name):
                    member["nullable"] = True
                    member["description"] = (
                        f"{member.get('description', '')} Shown once. Null in an idempotent replay to any "
                        "credential but the one that made the first request (`Idempotent-Secret-Withheld`)."
                    ).strip()
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # DRF refuses an empty list when allow_empty=False; drf-spectacular does not say so.
        if schema.get("type") == "array" and getattr(field, "allow_empty", True) is False:
            schema["minItems"] = max(schema.get("minItems", 0), 1)

    def get_override_parameters(self):
        from api.idempotent_views import IdempotentViewMixin

        parameters = list(super().get_override_parameters())
        action = getattr(self.view, "action", None) or self.method.lower()
        declared = getattr(self.view, "query_parameters", {}).get(action, ())
        parameters.extend(declared)
        if self.method == "POST" and isinstance(self.view, IdempotentViewMixin):
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _error_statuses(self, operation):
        from api.views import QueryParametersMixin

        authenticated = bool(self.view.get_authenticators())
        has_body = "requestBody" in operation
        takes_query = isinstance(self.view, QueryParametersMixin) or any(
            parameter["in"] == "query" for parameter in operation.get("parameters", []))
        applies = {
            "400": has_body or takes_query or self.method == "POST",
            "401": True,
            "403": authenticated,
            "404": any(parameter["in"] == "path" for parameter in operation.get("parameters", [])),
            "409": authenticated and self.method in WRITE_METHODS,
            "413": self.method in BODY_METHODS,
            "415": self.method in BODY_METHODS,
            "429": True,
            # sign-in doors fail closed without the cache their limit is counted in
            "503": any(getattr(throttle, "fails_closed", False) for throttle in self.view.throttle_classes),
        }
        return [status for status in ERROR_RESPONSES if applies[status]]

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        if not self.view.get_authenticators():
            note = "No credential: this operation hands them out."
            scope = None
        else:
            scope = _operation_scope(self)
            note = f"Required scope: `{scope}`." if scope else "Any valid credential."
        operation["x-required-scope"] = scope
        operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()

        error = ResolvedComponent(name=ERROR_COMPONENT, type=ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA,
                                  object=ERROR_COMPONENT)
        registry.register_on_missing(error)
        for status in self._error_statuses(operation):
            response = {"description": ERROR_RESPONSES[status], "content": {"application/json": {"schema": error.ref}}}
            if status in ("429", "503"):
                response["headers"] = RETRY_AFTER
            operation["responses"].setdefault(status, response)
        if self.view.get_authenticators():
            for status, response in operation["responses"].items():
                if status not in ("401", "413"):  # answered before any budget is counted
                    response["headers"] = {**response.get("headers", {}), **RATE_LIMIT_HEADERS}
        return operation


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.auth.authentication.BearerAuthentication"
    name = ["apiKey", "oauth2", "jwt"]

    def get_security_requirement(self, auto_schema):
        scope = _operation_scope(auto_schema)
        return [{"apiKey": []}, {"oauth2": [scope] if scope else []}, {"jwt": []}]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer",
             "description": "An API key: `Authorization: Bearer sk_live_...` or `sk_test_...`. Its scopes, "
                            "within its holder's role, decide which operations it may call."},
            {"type": "oauth2",
             "description": "An OAuth 2.0 access token (`oat_...`) of an application of the organization.",
             "flows": {
                 "authorizationCode": {"authorizationUrl": "/oauth/authorize/", "tokenUrl": "/oauth/token/",
                                       "refreshUrl": "/oauth/token/", "scopes": SCOPES},
                 "clientCredentials": {"tokenUrl": "/oauth/token/", "scopes": SCOPES},
             }},
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
             "description": "A JWT from `POST /api/v1/auth/token`."},
        ]
