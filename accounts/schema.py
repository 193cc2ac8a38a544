"""OpenAPI generation that states, for each operation, the scope it requires."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from accounts.permissions import ANY_PRINCIPAL, required_scope


class ScopedAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        scope = required_scope(self.view, method)
        if scope == ANY_PRINCIPAL:
            note = "Any valid credential."
        else:
            note = f"Required scope: `{scope}`."
        operation["x-required-scope"] = None if scope == ANY_PRINCIPAL else scope
        operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
        return operation


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer sk_live_...` or `sk_test_...`. "
                           "Its scopes, within its holder's role, decide which operations it may call.",
        }
