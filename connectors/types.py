"""The registry of connector types. Each type names a serializer for its config and one for its
credentials; a connector's body is validated against them."""

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


class HTTPConfig(StrictSerializer):
    base_url = HttpsURLField(max_length=2048)
    headers = serializers.DictField(child=serializers.CharField(max_length=1024, allow_blank=True),
                                    required=False, default=dict)

    def validate_headers(self, headers):
        if len(headers) > MAX_HEADERS:
            raise serializers.ValidationError(f"At most {MAX_HEADERS} headers.")
        for name, value in headers.items():
            if not name or len(name) > 128 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
                raise serializers.ValidationError("Header names are letters, digits, '-' and '_', at most 128.")
            # CR and LF would let a value add headers of its own (header injection).
            if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
                raise serializers.ValidationError("Header values cannot contain line breaks or control characters.")
        return headers


class HTTPCredentials(StrictSerializer):
    token = serializers.CharField(max_length=4096, required=False, trim_whitespace=False)


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
