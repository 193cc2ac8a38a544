"""One error shape for every failure: {"error": {"type", "code", "message", "param", "doc_url", "request_id"}}.

Nothing from an exception (traceback, SQL, settings, input values) is copied into a response; unexpected
errors are logged with the request id and answered with a generic 500.
"""

import logging
import re

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


# Every code an error can carry, with what it means: served at /docs/errors (each error's doc_url points
# to its entry) and checked against the codes the source raises (tests/test_error_codes.py).
ERROR_CODES = {
    "parameter_invalid": "A body field or query parameter has a value the operation does not take. `param` "
                         "names it (dotted for a nested field) and `details` lists every field's messages.",
    "parameter_unknown": "A query parameter the operation does not take (a misspelt filter is not ignored). "
                         "`param` names it.",
    "parse_error": "The body is not valid JSON.",
    "unsupported_media_type": "The body is not JSON: send `Content-Type: application/json` (UTF-8).",
    "request_too_large": "The body is larger than the limit.",
    "invalid_content_length": "The `Content-Length` header is not a number.",
    "invalid_header": "A header holds a NUL character.",
    "invalid_path": "The URL path holds a NUL character.",
    "invalid_client_credentials": "The client credentials (HTTP Basic) hold a NUL character.",
    "bad_request": "The request could not be understood (a malformed host, too many parameters).",
    "resource_missing": "No such object in this organization and mode, or no such URL. The message names "
                        "the id, and says so when the id exists in the organization's other mode.",
    "method_not_allowed": "The URL exists but does not take this HTTP method.",
    "not_acceptable": "The `Accept` header asks for a format other than JSON.",
    "conflict": "The request conflicts with the object's current state.",
    "idempotency_key_invalid": "The `Idempotency-Key` header is empty, too long or not printable.",
    "idempotency_key_reused": "The `Idempotency-Key` was used with a different request: send a new key.",
    "idempotency_key_in_use": "A request with this `Idempotency-Key` is still running: retry later.",
    "missing_credentials": "No credential: send `Authorization: Bearer <API key or token>`.",
    "invalid_api_key": "No API key like this one exists: check that it was copied whole.",
    "api_key_malformed": "Not an API key: keys are sk_live_ or sk_test_ followed by 49 letters and digits.",
    "api_key_checksum_invalid": "The key's last 6 characters (a checksum) do not match the rest: it was "
                                "mistyped or cut short.",
    "api_key_revoked": "The API key was revoked: use another.",
    "api_key_expired": "The API key has expired (a rolled key expires when its grace period ends): use another.",
    "api_key_inactive": "The API key cannot be used now.",
    "authorization_scheme_invalid": "The Authorization header is not `Bearer <credential>` (an API key may "
                                    "also be HTTP Basic's user name, with no password).",
    "invalid_token": "The OAuth access token or JWT is not valid, or is revoked or expired.",
    "credentials_in_url": "A credential was sent in the URL, where logs keep it: send it in the "
                          "`Authorization` header, and roll it.",
    "invalid_credentials": "The email, password or organization given to `POST /api/v1/auth/token` is wrong.",
    "not_authenticated": "The request needs a credential.",
    "authentication_failed": "The credential could not be checked.",
    "mfa_required": "This account has a second factor: send its current code (`otp`).",
    "mfa_enrollment_required": "This organization requires a second factor: enrol one at /account/security.",
    "mfa_invalid": "The second-factor code is wrong or was used already.",
    "mfa_backing_off": "Too many wrong second-factor codes: wait before the next try.",
    "account_locked": "Too many failed sign-ins for this account: wait before trying again.",
    "missing_scope": "The credential lacks the scope the operation needs; `required_scope` names it.",
    "livemode_required": "The change reaches the whole organization, live mode included: use a live-mode "
                         "credential.",
    "permission_denied": "The credential may not do this.",
    "forbidden": "The credential may not do this.",
    "rate_limited": "Too many requests: wait `Retry-After` seconds. `X-RateLimit-*` headers tell what is left.",
    "service_unavailable": "A store the request needs cannot be reached: retry after `Retry-After` seconds.",
    "internal_error": "Something went wrong on our side: quote the `request_id` when reporting it.",
    "error": "An error without a more precise code.",
}


# Names quoted back in an error (a field or query parameter): short and plain. Anything else is not repeated
# (a response never echoes arbitrary input, which may be a secret pasted into the wrong place).
QUOTABLE_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")


def _public_url(path):
    return f"{settings.OPENPAAS_PUBLIC_URL.rstrip('/')}{path}"


def doc_url(code):
    """Where the served docs explain ``code``."""
    return _public_url(f"/docs/errors#{code}" if code in ERROR_CODES else "/docs/errors")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def _request_id(request):
    return getattr(request, "request_id", None)


def error_response(status_code, type_, code, message, *, request=None, param=None, details=None, headers=None,
                   **extra):
    context = current_request_context()
    request_id = _request_id(request) if request is not None else (context.request_id if context else None)
    body = {"type": type_, "code": code, "message": message, "param": param, "doc_url": doc_url(code),
            "request_id": request_id}
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


def _first_error(details, path=""):
    """(dotted name, message) of the first error in ``details``; the name is "" for the whole body. The
    message (``name: message``) and ``param`` both come from here, so they always name the same field."""
    if isinstance(details, dict) and details:
        key, value = next(iter(details.items()))
        name = "" if key == "non_field_errors" else key
        return _first_error(value, f"{path}.{name}".strip(".") if name else path)
    if isinstance(details, list) and details:
        if isinstance(details[0], (dict, list)):
            # Errors of a list's items, by position ({} for a valid one): the first item at fault.
            index, item = next(((i, item) for i, item in enumerate(details) if item), (0, details[0]))
            return _first_error(item, f"{path}.{index}".strip("."))
        return _first_error(details[0], path)
    return path, str(details)


def _first_message(details):
    name, message = _first_error(details)
    return f"{name}: {message}" if name else message


_TYPE_BY_STATUS = {401: AUTHENTICATION, 403: PERMISSION, 429: RATE_LIMIT}
INTERNAL_ERROR_MESSAGE = "An unexpected error occurred. Quote the request id when reporting it."
BAD_REQUEST_MESSAGE = "The request could not be understood."


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: translate the exception to a status, type and code, describe it (message,
    details, headers), and answer in the one error shape. The view's transaction is always rolled back."""
    request = context.get("request")
    exc = _as_api_exception(exc)
    _log(exc, request)
    set_rollback()
    status_code, type_, code = _translate(exc)
    details = _details(exc)
    response = error_response(status_code, type_, code, _message(exc, details), request=request,
                              param=_param(exc, details), details=details, headers=_headers(exc, context),
                              **_extra(exc))
    if _is_unexpected(exc):
        # Logged by _log, with the traceback and (by the log filter) the request id. Without this Django's
        # handler would log it again, after the request context is gone: a line with no id.
        response._has_been_logged = True
    return response


# -- translation: which exception is which error (status, type, code) ------------------------------------

def _as_api_exception(exc):
    """Django's 404 and 403 as DRF's, so that they are answered like any other API error."""
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def _is_unexpected(exc):
    """Neither an API error nor a SuspiciousOperation: a bug, answered with a generic 500. (Django's own
    answer to a SuspiciousOperation, such as too many query parameters, is a 4xx, and so is ours.)"""
    return not isinstance(exc, (exceptions.APIException, SuspiciousOperation))


def _translate(exc):
    """(status, type, code) for any exception a view raises."""
    if isinstance(exc, RequestDataTooBig):
        return 413, INVALID_REQUEST, "request_too_large"
    if isinstance(exc, SuspiciousOperation):
        return 400, INVALID_REQUEST, "bad_request"
    if _is_unexpected(exc):
        return 500, API, "internal_error"
    return exc.status_code, _TYPE_BY_STATUS.get(exc.status_code, INVALID_REQUEST), _api_code(exc)


def _api_code(exc):
    if isinstance(exc, exceptions.ValidationError):
        return "parameter_invalid"
    if isinstance(exc, exceptions.NotFound):
        return "resource_missing"
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else "error"
    if isinstance(exc, exceptions.Throttled) and code in ("throttled", "error"):
        return "rate_limited"  # a throttle's own code is kept (e.g. account_locked)
    return code


def _log(exc, request):
    if isinstance(exc, SuspiciousOperation):
        logging.getLogger(f"django.security.{exc.__class__.__name__}").warning("%s", exc)
    elif _is_unexpected(exc):
        logger.exception("Unhandled error in %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"))


# -- description: what the answer says (message, details, headers, extra fields) ------------------------

def _message(exc, details):
    if isinstance(exc, RequestDataTooBig):
        return f"The request body is larger than the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    if isinstance(exc, SuspiciousOperation):
        return BAD_REQUEST_MESSAGE
    if _is_unexpected(exc):
        return INTERNAL_ERROR_MESSAGE
    if isinstance(exc, exceptions.ValidationError):
        return _first_message(details)
    if isinstance(exc, exceptions.NotFound):
        return "No such resource." if exc.detail == exceptions.NotFound.default_detail else str(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        # A throttle may say what is being held back ("wrong codes"); the wait is always stated.
        wait = _retry_after(exc)
        template = getattr(exc, "wait_message", "Too many requests. Retry after {wait}.")
        return template.format(wait=f"{wait} second{'s' if wait != 1 else ''}")
    return str(exc.detail) if not isinstance(exc.detail, (dict, list)) else exc.default_detail


def _details(exc):
    """Every field's errors, for a validation error; None otherwise."""
    if not isinstance(exc, exceptions.ValidationError):
        return None
    return _plain(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})


def _param(exc, details):
    """The field or query parameter at fault: a validation error's first field, or what the exception
    names (``param``: an unknown query parameter, the id of a missing object)."""
    param = _first_error(details)[0] if details is not None else getattr(exc, "param", None)
    return param if param and QUOTABLE_NAME.fullmatch(param) else None


def _retry_after(throttled):
    """The throttle's wait in whole seconds, at least one."""
    return int(throttled.wait) if throttled.wait is not None and throttled.wait >= 1 else 1


def _headers(exc, context):
    headers = {}
    if isinstance(exc, exceptions.Throttled):
        headers["Retry-After"] = str(_retry_after(exc))
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        view = context.get("view")
        authenticate_header = view.get_authenticate_header(context.get("request")) if view else None
        if authenticate_header:
            headers["WWW-Authenticate"] = authenticate_header
    return headers


def _extra(exc):
    """The scope that was missing (api.permissions.MissingScope), as its own field."""
    if isinstance(exc, exceptions.APIException) and getattr(exc, "scope", None):
        return {"required_scope": exc.scope}
    return {}


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
    if request.path.startswith("/api/"):
        # No such route (the path is not repeated: it may hold anything): doc_url is the API reference.
        return error_response(404, INVALID_REQUEST, "resource_missing",
                              "No such resource. The API reference at doc_url lists every route.", request=request,
                              doc_url=_public_url("/api/v1/docs"))
    return error_response(404, INVALID_REQUEST, "resource_missing", "No such resource.", request=request)


def handler500(request):
    if not for_programs(request):
        return _page(request, 500)
    return error_response(500, API, "internal_error", INTERNAL_ERROR_MESSAGE, request=request)


def handler400(request, exception=None):
    if not for_programs(request):
        return _page(request, 400)
    return error_response(400, INVALID_REQUEST, "bad_request", BAD_REQUEST_MESSAGE, request=request)


def handler403(request, exception=None):
    if not for_programs(request):
        return _page(request, 403)
    return error_response(403, PERMISSION, "forbidden", "You do not have permission to perform this action.", request=request)


# Forms that people send are the only requests CSRF protection refuses: the API and the OAuth endpoints
# programs call are exempt. The consent form (/oauth/authorize/) is a person's page under a program prefix.
CSRF_FORM_UNDER_PROGRAM_PREFIX = "/oauth/authorize/"
CSRF_FAILURE_MESSAGE = ("The form could not be accepted: it was open too long or came from another site. "
                        "Go back, reload the page and send it again.")


def error_codes_page(request):
    """/docs/errors: what each error code means (every error's ``doc_url`` points into it). Public: it
    describes the API, nothing of anyone's data."""
    codes = [(code, meaning.replace("`", "")) for code, meaning in ERROR_CODES.items()]  # plain text here
    html = render_to_string("docs/errors.html", {"codes": codes})
    return HttpResponse(html)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the 403 page (the JSON 403 on a program path, such as a POST to /healthz), under
    the Content-Security-Policy, unlike Django's page with its inline style. The reason is for the log only:
    CsrfViewMiddleware logs it (django.security.csrf) with the request id."""
    if for_programs(request) and not request.path.startswith(CSRF_FORM_UNDER_PROGRAM_PREFIX):
        return handler403(request)
    return _page(request, 403, CSRF_FAILURE_MESSAGE)
