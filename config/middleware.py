"""Request context (id and client address), body size limit, and the headers every response carries."""

import ipaddress
import secrets

from django.conf import settings

from config.context import RequestContext, set_request_context, reset_request_context
from config.errors import error_response


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
        response["X-Request-ID"] = request_id
        if request.path.startswith("/api/"):
            response.setdefault("Cache-Control", "no-store")
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
