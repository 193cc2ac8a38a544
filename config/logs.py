"""Log filters and formatter: every line names its request, no line carries a credential, and one record
stays one line."""

import logging
import re
import traceback

from core.context import current_request_context


class RequestIDLogFilter(logging.Filter):
    """Adds the current request id to every log record."""

    def filter(self, record):
        context = current_request_context()
        record.request_id = context.request_id if context else "-"
        return True


REDACTED = "[redacted]"

# What a credential looks like wherever it turns up in a message or a traceback: this platform's keys,
# secrets and tokens, JWTs, HTTP authentication values, credential query parameters in a URL (a key put
# in a URL is refused, but the request line was already written), and the token in an invitation link.
CREDENTIAL_PATTERNS = [
    (re.compile(r"\b(sk_live_|sk_test_|whsec_|oat_|ort_)[0-9A-Za-z+/=_-]{8,}"), rf"\1{REDACTED}"),
    (re.compile(r"\beyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic|digest|token)(\s+)[\w.~+/=-]{8,}"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)([?&;](?:api_?key|key|token|access_token|refresh_token|id_token|code|code_verifier|"
                r"client_secret|secret|password|passwd|session|sessionid|sig|signature)=)[^&;#\s\"'<>]+"),
     rf"\1{REDACTED}"),
    (re.compile(r"(/invitations/)[^/?#\s\"'<>]+"), rf"\1{REDACTED}"),
]


def redact(text):
    for pattern, replacement in CREDENTIAL_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _strings_in(value):
    """Every str among SQL parameters (which may be nested: executemany, arrays, dicts); bytes as None."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        yield None
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings_in(item)


def _masked(value):
    if isinstance(value, str):
        return "?"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "?"
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_masked(item) for item in value)
    return value


SQL_STRING = re.compile(r"(?:\b[EeXx])?'(?:[^']|'')*'")


def _masked_sql(sql, params):
    """The executed SQL with its string parameters (session keys, tokens, digests, ciphertexts) shown as
    '?': replaced where the database quoted them in; where that cannot be found for sure, every string
    literal."""
    found = set(_strings_in(params))
    strings = sorted(found - {None}, key=len, reverse=True)
    for value in strings:
        for quoted in ("'%s'" % value.replace("'", "''"), "E'%s'" % value.replace("\\", "\\\\").replace("'", "''")):
            sql = sql.replace(quoted, "'?'")
    if None in found or any(len(value) >= 4 and value in sql for value in strings):
        sql = SQL_STRING.sub("'?'", sql)
    return sql


class CredentialLogFilter(logging.Filter):
    """Keeps credentials out of every line, at every level (``LOG_LEVEL=DEBUG`` included):

    - SQL (logged under ``DEBUG``) keeps its shape; its string parameters become '?';
    - django.template's DEBUG line about a missing variable keeps its message, not its traceback, whose
      text is the whole template context (a new key's secret, backup codes, the CSRF token);
    - oauthlib's DEBUG lines are dropped: they quote codes and tokens as they are issued and checked;
    - every message and traceback is masked for what a credential looks like (CREDENTIAL_PATTERNS)."""

    def filter(self, record):
        if record.name.startswith("oauthlib") and record.levelno < logging.INFO:
            return False
        if record.name == "django.db.backends" and hasattr(record, "sql") and hasattr(record, "params"):
            record.msg = "(%.3f) %s; args=%s; alias=%s"
            record.args = (getattr(record, "duration", 0.0) or 0.0, _masked_sql(str(record.sql), record.params),
                           _masked(record.params), getattr(record, "alias", ""))
            record.sql, record.params = record.args[1], record.args[2]
        if record.name.startswith("django.template") and record.exc_info:
            record.exc_info, record.exc_text = None, None
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: the handler reports it as logging does
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class OneLineFormatter(logging.Formatter):
    """CR and LF inside messages (and tracebacks) are escaped, so input that reaches a log message
    cannot forge a second entry."""

    def format(self, record):
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")
