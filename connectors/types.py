"""The registry of connector types. Each type names a serializer for its config and one for its
credentials; a connector's body is validated against them."""

import re
from dataclasses import dataclass

from rest_framework import serializers

from accounts.api import StrictSerializer

MAX_HEADERS = 20


class HttpsURLField(serializers.URLField):
    default_error_messages = {"https": "Must be an https URL."}

    def to_internal_value(self, data):
        url = super().to_internal_value(data)
        if not url.lower().startswith("https://"):
            self.fail("https")
        return url


# Header names that carry a credential. ``config`` is shown to anyone who may read connectors and stored
# in clear, so these go in ``credentials`` (encrypted, write-only). Names are compared lower-cased with
# '-' and '_' removed, so case and separator variants (X_API_KEY, xApiKey, Proxy-Authorization) match.
CREDENTIAL_HEADER_WORDS = (
    "authorization", "authorisation", "authentication", "cookie", "token", "secret", "password", "passwd",
    "passphrase", "credential", "apikey", "accesskey", "privatekey", "session",
)
# Whole words between separators: short enough to sit inside ordinary names (keyword, author, passenger).
CREDENTIAL_HEADER_SEGMENTS = {"key", "auth", "authn", "pass", "pwd", "pw", "jwt", "bearer", "sid", "sig"}
# A value in an authentication scheme's form (RFC 9110 11.4), a JWT, or one of this platform's own secrets
# is a credential whatever the header's name.
CREDENTIAL_VALUE = re.compile(
    r"^\s*(?i:bearer|basic|digest|negotiate|ntlm|token|apikey)\s+\S{8,}"
    r"|\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\."
    r"|\b(?:sk_live_|sk_test_|whsec_|oat_|ort_)[0-9A-Za-z]{16,}"
)


def is_credential_header(name):
    """Whether a header of this name carries a credential (Authorization, Cookie, X-Api-Key, *-Token...)."""
    lowered = name.strip().lower()
    compact = re.sub(r"[-_\s]", "", lowered)
    segments = set(re.split(r"[-_\s]+", lowered))
    return any(word in compact for word in CREDENTIAL_HEADER_WORDS) or bool(segments & CREDENTIAL_HEADER_SEGMENTS)


def carries_credential(name, value):
    """Whether a header carries a credential, by its name or by its value's form."""
    return is_credential_header(name) or bool(CREDENTIAL_VALUE.search(str(value)))


class HeadersField(serializers.DictField):
    """HTTP headers: at most MAX_HEADERS, token-like names, values without line breaks."""

    def __init__(self, trim_values=True, **kwargs):
        super().__init__(child=serializers.CharField(max_length=1024, allow_blank=True, trim_whitespace=trim_values),
                         **kwargs)

    def to_internal_value(self, data):
        headers = super().to_internal_value(data)
        if len(headers) > MAX_HEADERS:
            raise serializers.ValidationError(f"At most {MAX_HEADERS} headers.")
        for name, value in headers.items():
            if not name or len(name) > 128 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
                raise serializers.ValidationError("Header names are letters, digits, '-' and '_', at most 128.")
            # CR and LF would let a value add headers of its own (header injection).
            if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
                raise serializers.ValidationError("Header values cannot contain line breaks or control characters.")
        return headers


class HTTPConfig(StrictSerializer):
    base_url = HttpsURLField(max_length=2048)
    headers = HeadersField(required=False, default=dict)

    def validate_headers(self, headers):
        for name, value in headers.items():
            if carries_credential(name, value):
                # The message names the header, never its value.
                raise serializers.ValidationError(
                    f"{name!r} carries a credential: put it in credentials.headers, which are encrypted and never "
                    "shown (config is readable by anyone who may read connectors).")
        return headers


class HTTPCredentials(StrictSerializer):
    """``token`` is sent as ``Authorization: Bearer <token>``; ``headers`` (API keys, cookies, any header
    that carries a secret) are sent as they are."""

    token = serializers.CharField(max_length=4096, required=False, trim_whitespace=False)
    headers = HeadersField(required=False, trim_values=False)


class PostgreSQLConfig(StrictSerializer):
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, default=5432)
    database = serializers.CharField(max_length=63)
    user = serializers.CharField(max_length=63)


class PostgreSQLCredentials(StrictSerializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class CSVConfig(StrictSerializer):
    delimiter = serializers.CharField(min_length=1, max_length=1, default=",", trim_whitespace=False)

    def validate_delimiter(self, delimiter):
        if delimiter in '\r\n"':  # a line break or the quote character cannot separate fields
            raise serializers.ValidationError("The delimiter cannot be a line break or a double quote.")
        return delimiter


class NoCredentials(StrictSerializer):
    pass


@dataclass(frozen=True)
class ConnectorType:
    id: str
    description: str
    config: type
    credentials: type


CONNECTOR_TYPES = {
    t.id: t
    for t in (
        ConnectorType("http", "An HTTP API at an https base URL", HTTPConfig, HTTPCredentials),
        ConnectorType("postgresql", "A PostgreSQL database", PostgreSQLConfig, PostgreSQLCredentials),
        ConnectorType("csv", "CSV files uploaded as datasets", CSVConfig, NoCredentials),
    )
}
