"""The registry of connector types. Each type names a serializer for its config and one for its
credentials; a connector's body is validated against them."""

from dataclasses import dataclass

from rest_framework import serializers

from api.views import StrictSerializer
from core.credentials import credential_in_url, is_credential_name, looks_like_credential

MAX_HEADERS = 20


class HttpsURLField(serializers.URLField):
    default_error_messages = {"https": "Must be an https URL."}

    def to_internal_value(self, data):
        url = super().to_internal_value(data)
        if not url.lower().startswith("https://"):
            self.fail("https")
        return url


def carries_credential(name, value):
    """Whether a header carries a credential, by its name or by its value's form."""
    return is_credential_name(name) or looks_like_credential(value)


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


class QueryField(serializers.DictField):
    """Query parameters added to every request: at most MAX_HEADERS, names of 1 to 128 characters."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(max_length=1024, allow_blank=True, trim_whitespace=False),
                         **kwargs)

    def to_internal_value(self, data):
        params = super().to_internal_value(data)
        if len(params) > MAX_HEADERS:
            raise serializers.ValidationError(f"At most {MAX_HEADERS} query parameters.")
        if any(not name or len(name) > 128 for name in params):
            raise serializers.ValidationError("Query parameter names are 1 to 128 characters.")
        return params


# Where a credential goes instead of config, which is readable by anyone who may read connectors.
PUT_IN_CREDENTIALS = ("put it in credentials (token, headers or query), which are encrypted and never shown "
                      "(config is readable by anyone who may read connectors).")


class HTTPConfig(StrictSerializer):
    base_url = HttpsURLField(max_length=2048)
    headers = HeadersField(required=False, default=dict)

    def validate_base_url(self, url):
        found = credential_in_url(url)
        if found:  # said without repeating it
            raise serializers.ValidationError(f"The URL carries a credential ({found}): {PUT_IN_CREDENTIALS}")
        return url

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
    that carries a secret) are sent as they are; ``query`` (``api_key=...`` for APIs that take a key in
    the URL) is added to every request's query string."""

    token = serializers.CharField(max_length=4096, required=False, trim_whitespace=False)
    headers = HeadersField(required=False, trim_values=False)
    query = QueryField(required=False)


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
