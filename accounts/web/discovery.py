"""OAuth 2.0 and OpenID Connect discovery documents that say exactly what this server does.

- OpenID Connect discovery at ``/oauth/.well-known/openid-configuration`` (django-oauth-toolkit's, corrected:
  only RS256 is advertised for ID tokens, the grants offered are named, and the revocation and
  introspection endpoints are listed).
- RFC 8414 authorization server metadata. The issuer is ``<host>/oauth`` (the OpenID issuer, the ``iss``
  of ID tokens and of authorization responses, RFC 9207), so the RFC 8414 location of its document is
  ``/.well-known/oauth-authorization-server/oauth``; it is also served at the host's root
  ``/.well-known/oauth-authorization-server`` and under the issuer (``/oauth/.well-known/...``), where
  clients look first. Every copy names the same issuer: one that named another (django-oauth-toolkit
  derives it from the URL) would not match the ``iss`` of the authorization responses, and a client
  following RFC 9207 would refuse them.
"""

import json

from django.http import JsonResponse
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import ConnectDiscoveryInfoView
from oauth2_provider.views.metadata import OAuthServerMetadataView

# ID tokens are signed with the server's RSA key only: applications are created with RS256
# (accounts.actions.oauth_applications.create_oauth_application), never HS256 under a client secret (which is stored hashed).
ID_TOKEN_SIGNING_ALGORITHMS = ["RS256"]


def _json(data, template):
    """A JSON response with ``data`` and the headers django-oauth-toolkit gave ``template`` (CORS)."""
    response = JsonResponse(data)
    for name in ("Access-Control-Allow-Origin",):
        if name in template:
            response[name] = template[name]
    return response


def _grant_types_supported():
    return list(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED)


class OpenIDConfigurationView(ConnectDiscoveryInfoView):
    """OpenID Provider Metadata (OpenID Connect Discovery 1.0, section 3)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["id_token_signing_alg_values_supported"] = ID_TOKEN_SIGNING_ALGORITHMS
        # Without it, OpenID Connect's default is ["authorization_code", "implicit"]: implicit is refused here.
        data["grant_types_supported"] = _grant_types_supported()
        data["revocation_endpoint"] = self._get_endpoint_url(request, "revoke-token", required=True)
        data["introspection_endpoint"] = self._get_endpoint_url(request, "introspect", required=True)
        return _json(data, response)


class AuthorizationServerMetadataView(OAuthServerMetadataView):
    """RFC 8414 authorization server metadata, naming the same issuer wherever it is served."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["issuer"] = oauth2_settings.oidc_issuer(request)
        data["grant_types_supported"] = _grant_types_supported()
        # The same as the OpenID document: public clients (PKCE, no secret) use "none".
        data["token_endpoint_auth_methods_supported"] = oauth2_settings.OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED
        if oauth2_settings.OIDC_ENABLED:
            data["userinfo_endpoint"] = self._get_endpoint_url(request, "user-info", required=True)
            data["id_token_signing_alg_values_supported"] = ID_TOKEN_SIGNING_ALGORITHMS
        return _json(data, response)
