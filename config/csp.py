"""What the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY, django-csp) allows beyond its defaults,
page by page."""

import re
from functools import wraps
from urllib.parse import urlsplit

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
