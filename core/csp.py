"""The Content-Security-Policy (settings.CONTENT_SECURITY_POLICY, django-csp): its middleware, and what it
allows beyond its defaults, page by page."""

import re
from functools import lru_cache, wraps
from urllib.parse import urlsplit

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What a view or decorator may set on a response to change its policy (django-csp's decorators).
_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt",
                 "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro", "_csp_exempt_ro")


@lru_cache(maxsize=1)
def _settings_policy():
    return build_policy()


@receiver(setting_changed)
def _forget_policy(setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policy.cache_clear()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the settings' policy built once: django-csp builds it again for every
    response (about 0.1 ms here), though it differs only for a response that uses the request's nonce or
    has a policy of its own, and those still go through django-csp."""

    def process_response(self, request, response):
        excluded = tuple(settings.CONTENT_SECURITY_POLICY.get("EXCLUDE_URL_PREFIXES", ()))
        if (getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, a) for a in _PER_RESPONSE)
                or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
                or (settings.DEBUG and response.status_code in (404, 500))
                or (excluded and request.path_info.startswith(excluded))):
            return super().process_response(request, response)
        if HEADER not in response:
            response[HEADER] = _settings_policy()
        # As django-csp does: a nonce asked for after the header is written would be in no policy.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


# A host, or host:port, or a bracketed IPv6 address: nothing that could end a CSP source expression or
# directive (spaces, ";", ","), and no user information.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def origin_source(uri):
    """The CSP source expression for ``uri``'s origin (``https://app.example.com:8443``), or None."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("https", "http") or not _HOST.match(parts.netloc or ""):
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def consent_form_action(view):
    """The OAuth consent page's form posts here and is answered with a redirect to the application's
    redirect URI; browsers apply ``form-action`` to that redirect too (Chromium does), so ``'self'`` alone
    would stop the person at their own consent. The page's policy also names the origin of the redirect URI
    it shows, once the application is known to have registered it (django-oauth-toolkit has already
    checked it against the registered URIs to render the form, and it is checked again here)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        context = getattr(response, "context_data", None) or {}
        application, redirect_uri = context.get("application"), context.get("redirect_uri")
        if application is not None and redirect_uri and application.redirect_uri_allowed(redirect_uri):
            source = origin_source(redirect_uri)
            if source is not None:
                response._csp_update = {"form-action": [source]}
        return response

    return wrapped
