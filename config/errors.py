"""One error shape for every failure: {"error": {"type", "code", "message", "request_id"}}.

Nothing from an exception (traceback, SQL, settings, input values) is copied into a response; unexpected
errors are logged with the request id and answered with a generic 500.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from rest_framework import exceptions, status
from rest_framework.views import set_rollback

from core.context import current_request_context

logger = logging.getLogger("openpaas.errors")

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
PERMISSION = "permission_error"
RATE_LIMIT = "rate_limit_error"
API = "api_error"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def _request_id(request):
    return getattr(request, "request_id", None)


def error_response(status_code, type_, code, message, *, request=None, details=None, headers=None, **extra):
    context = current_request_context()
    request_id = _request_id(request) if request is not None else (context.request_id if context else None)
    body = {"type": type_, "code": code, "message": message, "request_id": request_id}
    if details is not None:
        body["details"] = details
    body.update(extra)
    response = JsonResponse({"error": body}, status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# DRF messages that quote the value sent, by error code, and what is said instead: a response never
# repeats input (which may be a secret pasted into the wrong field, or 100k characters).
_QUOTING_MESSAGES = {"invalid_choice": "Not a valid choice."}


def _plain(detail):
    """ErrorDetail trees to plain JSON (strings, lists, dicts)."""
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, (list, tuple)):
        return [_plain(v) for v in detail]
    return _QUOTING_MESSAGES.get(getattr(detail, "code", None), str(detail))


def _first_message(details, path=""):
    if isinstance(details, dict):
        for key, value in details.items():
            name = key if key != "non_field_errors" else ""
            return _first_message(value, f"{path}.{name}".strip(".") if name else path)
    if isinstance(details, list) and details:
        return _first_message(details[0], path)
    return f"{path}: {details}" if path else str(details)


_TYPE_BY_STATUS = {401: AUTHENTICATION, 403: PERMISSION, 429: RATE_LIMIT}


def api_exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, SuspiciousOperation):
        # Django's own answer to these (too many query parameters, a body over the limit) is a 4xx;
        # raised inside a DRF view they would otherwise be an unhandled 500.
        logging.getLogger(f"django.security.{exc.__class__.__name__}").warning("%s", exc)
        set_rollback()
        if isinstance(exc, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return error_response(413, INVALID_REQUEST, "request_too_large",
                                  f"The request body is larger than the limit of {limit} bytes.", request=request)
        return error_response(400, INVALID_REQUEST, "bad_request", "The request could not be understood.",
                              request=request)

    if not isinstance(exc, exceptions.APIException):
        logger.exception("Unhandled error in %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"))
        set_rollback()
        response = error_response(500, API, "internal_error", "An unexpected error occurred. Quote the request id when reporting it.", request=request)
        # Logged just above, with the traceback and (by the log filter) the request id. Without this
        # Django's handler would log it again, after the request context is gone: a line with no id.
        response._has_been_logged = True
        return response

    set_rollback()
    status_code = exc.status_code
    type_ = _TYPE_BY_STATUS.get(status_code, INVALID_REQUEST)
    headers = {}
    extra = {}
    details = None

    if isinstance(exc, exceptions.ValidationError):
        details = _plain(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
        code = "parameter_invalid"
        message = _first_message(details)
    elif isinstance(exc, exceptions.NotFound):
        code = "resource_missing"
        message = "No such resource." if exc.detail == exceptions.NotFound.default_detail else str(exc.detail)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else exc.default_detail

    if getattr(exc, "scope", None):  # api.permissions.MissingScope
        extra["required_scope"] = exc.scope
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait) if exc.wait is not None and exc.wait >= 1 else 1
        headers["Retry-After"] = str(wait)
        code = code if code not in ("throttled", "error") else "rate_limited"  # keep e.g. account_locked
        # A throttle may say what is being held back ("wrong codes"); the wait is always stated.
        template = getattr(exc, "wait_message", "Too many requests. Retry after {wait}.")
        message = template.format(wait=f"{wait} second{'s' if wait != 1 else ''}")
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        authenticate_header = context["view"].get_authenticate_header(request) if context.get("view") else None
        if authenticate_header:
            headers["WWW-Authenticate"] = authenticate_header
    return error_response(status_code, type_, code, message, request=request, details=details, headers=headers, **extra)


# Django-level handlers for what never reaches a DRF view (unknown URLs, errors in middleware): JSON for
# programs (the API and OAuth endpoints), a plain page for people.
_PAGE_MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Forbidden", "You do not have permission to see this page."),
    404: ("Not found", "There is no such page."),
    500: ("Something went wrong", "An unexpected error occurred. Quote the request id when reporting it."),
}


# Paths that programs call: the API, the OAuth endpoints and their metadata, the health probes, and the
# roots of the first three without their slash (/oauth is the OAuth issuer).
PROGRAM_PREFIXES = ("/api/", "/oauth/", "/.well-known/", "/healthz", "/readyz")
PROGRAM_ROOTS = ("/api", "/oauth", "/.well-known")


def for_programs(request):
    return request.path.startswith(PROGRAM_PREFIXES) or request.path in PROGRAM_ROOTS


def _page(request, status_code, message=None):
    title, default_message = _PAGE_MESSAGES[status_code]
    message = message or default_message
    html = render_to_string("error.html", {"title": title, "message": message,
                                           "request_id": getattr(request, "request_id", "")})
    return HttpResponse(html, status=status_code)


def handler404(request, exception=None):
    if not for_programs(request):
        return _page(request, 404)
    return error_response(404, INVALID_REQUEST, "resource_missing", "No such resource.", request=request)


def handler500(request):
    if not for_programs(request):
        return _page(request, 500)
    return error_response(500, API, "internal_error", "An unexpected error occurred. Quote the request id when reporting it.", request=request)


def handler400(request, exception=None):
    if not for_programs(request):
        return _page(request, 400)
    return error_response(400, INVALID_REQUEST, "bad_request", "The request could not be understood.", request=request)


def handler403(request, exception=None):
    if not for_programs(request):
        return _page(request, 403)
    return error_response(403, PERMISSION, "forbidden", "You do not have permission to perform this action.", request=request)


# Forms that people send are the only requests CSRF protection refuses: the API and the OAuth endpoints
# programs call are exempt. The consent form (/oauth/authorize/) is a person's page under a program prefix.
CSRF_FORM_UNDER_PROGRAM_PREFIX = "/oauth/authorize/"
CSRF_FAILURE_MESSAGE = ("The form could not be accepted: it was open too long or came from another site. "
                        "Go back, reload the page and send it again.")


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the 403 page (the JSON 403 on a program path, such as a POST to /healthz), under
    the Content-Security-Policy, unlike Django's page with its inline style. The reason is for the log only:
    CsrfViewMiddleware logs it (django.security.csrf) with the request id."""
    if for_programs(request) and not request.path.startswith(CSRF_FORM_UNDER_PROGRAM_PREFIX):
        return handler403(request)
    return _page(request, 403, CSRF_FAILURE_MESSAGE)
