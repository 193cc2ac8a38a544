"""Request context (id and client address), body size limit, NUL characters refused, and the headers every
response carries."""

import base64
import binascii
import ipaddress
import secrets
from urllib.parse import unquote_plus

from django.conf import settings
from django.http import JsonResponse
from django.middleware import common as django_common

from core import gate
from core.context import RequestContext, set_request_context, reset_request_context
from core.errors import INVALID_REQUEST, error_response, for_programs, handler400, handler404, handler500


def _trusted_proxy_networks():
    return [ipaddress.ip_network(net, strict=False) for net in settings.OPENPAAS_TRUSTED_PROXIES]


def _parse_ip(value):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(meta) -> str | None:
    """The caller's address: the socket peer, or, when the peer is a trusted proxy, the nearest
    untrusted address in X-Forwarded-For. A header from anyone else is ignored (spoofable)."""
    peer = _parse_ip(meta.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    trusted = _trusted_proxy_networks()

    def is_trusted(addr):
        return any(addr in net for net in trusted)

    if not trusted or not is_trusted(peer):
        return str(peer)
    hops = [_parse_ip(part) for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    client = peer
    for hop in reversed(hops):
        if hop is None:
            break
        client = hop
        if not is_trusted(hop):
            break
    return str(client)


def client_ip_of_request(request) -> str | None:
    """client_ip() for code that has the request (django-axes)."""
    return client_ip(request.META)


def _program_error_in_debug(request, response):
    """With DEBUG on, Django answers an unknown URL (and an error outside any view) with its technical page,
    which lists every URL pattern, instead of the handler404/handler500 of the URL conf. Programs (the API
    and the OAuth endpoints) get their JSON error in every mode; people get Django's page in development."""
    if (settings.DEBUG and for_programs(request) and response.status_code in (404, 500)
            and response.get("Content-Type", "").startswith("text/html")):
        return handler404(request) if response.status_code == 404 else handler500(request)
    return response


class CommonMiddleware(django_common.CommonMiddleware):
    """Django's, except for a program's write (POST, PUT, PATCH, DELETE) to a path that exists only with a
    trailing slash: a JSON 404 saying so, in every mode. Django would redirect it (301), which clients
    follow with a GET and without the body, or, with DEBUG on, raise (a 500). Reads are still redirected."""

    def process_response(self, request, response):
        if (response.status_code == 404 and request.method not in ("GET", "HEAD") and for_programs(request)
                and self.should_redirect_with_slash(request)):
            return error_response(404, INVALID_REQUEST, "resource_missing",
                                  "No such resource. The path of this endpoint ends with a slash.", request=request)
        return super().process_response(request, response)


class RequestContextMiddleware:
    """Gives every request an id (echoed as X-Request-ID) and keeps API responses out of caches."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Always our own id: a client-chosen one could forge or inject log lines.
        request_id = "req_" + secrets.token_hex(12)
        context = RequestContext(
            request_id=request_id,
            client_ip=client_ip(request.META),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        )
        request.request_id = request_id
        request.client_ip = context.client_ip
        token = set_request_context(context)
        try:
            response = self.get_response(request)
        finally:
            reset_request_context(token)
        response = _program_error_in_debug(request, response)
        response["X-Request-ID"] = request_id
        if request.path.startswith("/api/"):
            response["Request-Id"] = request_id  # Stripe's name, which its clients read
            response.setdefault("Cache-Control", "no-store")
            # The rate-limit budgets this request was counted against (set by authentication; none before).
            for name, value in gate.headers(getattr(request, "openpaas_rate_counts", None)).items():
                response[name] = value
        # XFrameOptionsMiddleware sits inside the body size limit and CommonMiddleware's host check, so
        # their early answers (413, 400) would otherwise go out without it.
        if not getattr(response, "xframe_options_exempt", False):
            response.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS.upper())
        return response


class BodySizeLimitMiddleware:
    """Answers 413 for a declared body over DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads it.

    DRF parses from the request stream, which bypasses Django's own check on request.body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            return error_response(400, "invalid_request_error", "invalid_content_length",
                                  "The Content-Length header is not a valid length.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return error_response(413, "invalid_request_error", "request_too_large",
                                  f"The request body is larger than the limit of {limit} bytes.")
        return self.get_response(request)


NUL = "\x00"
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NUL_REFUSED = "Must not contain NUL characters."


def _nul_parameter(request):
    """The name of the first parameter (query string, form body) holding a NUL character, or None."""
    sources = [request.GET]
    # The API reads JSON bodies only: its parser refuses NUL itself, and a form body there is refused unread.
    if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES and not request.path.startswith("/api/"):
        try:
            sources.append(request.POST)  # a malformed body raises what the view would have met (a 400)
        except OSError:  # the client went away mid-body (UnreadablePostError), as CsrfViewMiddleware allows
            pass
    for params in sources:
        for name, values in params.lists():
            if NUL in name or any(NUL in value for value in values):
                return name.replace(NUL, "\ufffd")
    return None


def _nul_in_basic_credentials(request):
    """Whether HTTP Basic credentials hold a NUL, as sent or percent-decoded (as OAuth clients encode them,
    RFC 6749 section 2.3.1)."""
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip()).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return False  # not credentials at all: refused as such where they are read
    return NUL in decoded or NUL in unquote_plus(decoded)


# Headers that answer a NUL their own way: the API's 401 for a malformed Authorization (Basic credentials
# are checked by _nul_in_basic_credentials), the Idempotency-Key's 400 idempotency_key_invalid on the routes
# that read it (ignored elsewhere); cookies are checked by value, once parsed.
_HEADERS_CHECKED_ELSEWHERE = ("HTTP_AUTHORIZATION", "HTTP_IDEMPOTENCY_KEY", "HTTP_COOKIE")


def _nul_header(request):
    """The name of the first request header, or cookie, holding a NUL character, or None. A cookie's value
    can hold one without any NUL on the wire: Django decodes the octal escape \\000 in quoted values."""
    for key, value in request.META.items():
        if key.startswith("HTTP_") and key not in _HEADERS_CHECKED_ELSEWHERE and NUL in value:
            return key[5:].replace("_", "-").title() + " header"
    for name, value in request.COOKIES.items():
        if NUL in name or NUL in value:
            return "Cookie header"
    return None


class RefuseNulMiddleware:
    """Answers 400 for a NUL character in the URL path, a header or cookie, the query string, a form body
    or HTTP Basic credentials.

    PostgreSQL cannot store NUL in text, so such a value reaching a query fails there (a 500), and no
    legitimate value holds one. Refused once here, for every view: django-oauth-toolkit's endpoints, the
    console's object URLs, the session store (its key is the cookie's value), django-axes (which stores
    the User-Agent) and the pages pass these values to the database as sent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # request.path is percent-decoded: %00 arrives here as NUL.
        if NUL in request.path:
            return self.refuse(request, "The URL path", "invalid_path")
        header = _nul_header(request)
        if header is not None:
            return self.refuse(request, f"The {header}", "invalid_header")
        name = _nul_parameter(request)
        if name is not None:
            return self.refuse(request, f"The {name} parameter", "parameter_invalid", parameter=name)
        # The API answers any malformed Authorization header with its own 401: only elsewhere.
        if not request.path.startswith("/api/") and _nul_in_basic_credentials(request):
            return self.refuse(request, "The client credentials", "invalid_client_credentials")
        return self.get_response(request)

    @staticmethod
    def refuse(request, where, code, parameter=None):
        message = f"{where} must not contain NUL characters."
        if request.path.startswith(("/oauth/", "/.well-known/")):
            # The OAuth endpoints' own error shape (RFC 6749 section 5.2), not the API's.
            response = JsonResponse({"error": "invalid_request", "error_description": message}, status=400)
            response["Cache-Control"] = "no-store"
            return response
        if for_programs(request):
            if parameter is None:
                return error_response(400, INVALID_REQUEST, code, message, request=request)
            return error_response(400, INVALID_REQUEST, code, f"{parameter}: {NUL_REFUSED}", param=parameter,
                                  request=request, details={parameter: [NUL_REFUSED]})
        return handler400(request)
