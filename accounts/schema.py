"""OpenAPI generation that states, for each operation, the scope it requires and the three ways to
present a credential (API key, OAuth 2.0 token, JWT)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from accounts.permissions import ANY_PRINCIPAL, required_scope
from accounts.scopes import SCOPES
from idempotency.store import is_one_time_secret


def _operation_scope(auto_schema):
    scope = required_scope(auto_schema.view, auto_schema.method)
    return None if scope == ANY_PRINCIPAL else scope


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Up to 255 printable ASCII characters. A repeat with the same key and the same request within "
                "24 hours returns the first response (with `Idempotent-Replayed: true`) without running again; "
                "the same key with another request is a 409.")


class ScopedAutoSchema(AutoSchema):
    def _postprocess_serializer_schema(self, schema, serializer, direction):
        schema = super()._postprocess_serializer_schema(schema, serializer, direction)
        if direction == "response":
            for name, member in schema.get("properties", {}).items():
                if is_one_time_secret(name):
                    member["nullable"] = True
                    member["description"] = (
                        f"{member.get('description', '')} Shown once. Null in an idempotent replay to any "
                        "credential but the one that made the first request (`Idempotent-Secret-Withheld`)."
                    ).strip()
        return schema

    def get_override_parameters(self):
        from idempotency.mixins import IdempotentViewMixin

        parameters = list(super().get_override_parameters())
        if self.method == "POST" and isinstance(self.view, IdempotentViewMixin):
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

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
        return operation


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerAuthentication"
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
