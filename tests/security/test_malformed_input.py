"""Malformed input never breaks the API.

Whatever a client sends (broken or hostile JSON, the wrong content type, an oversized body, junk in the
query string or the URL), the answer is a 4xx in the one error shape
``{"error": {"type", "code", "message", "request_id"}}``, never a 500, and it reveals nothing of the
server (no traceback, SQL, module paths or secrets). Fields the client may not set are refused by name,
and a refused write changes nothing.

Every body case runs over every route and method that takes a body, read from the URL conf, so a new
endpoint is covered the day it is added. Run this file on SQLite and on PostgreSQL: PostgreSQL refuses
NUL characters in text and jsonb, which SQLite stores silently.
"""

import base64
import json
import zlib
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings

from accounts.models import APIKey
from audit.models import AuditEvent
from connectors.models import Dataset
from tests.resources import ROUTES, declared, make_object, resource_of, target_url, valid_body
from tests.support.factories import make_connector, make_dataset
from tests.support.state import snapshot

BODY_ROUTES = declared(lambda route, method: method in ("POST", "PATCH"))
LIST_ROUTES = sorted(name for name, route in ROUTES.items() if route.is_list)
ID_ROUTES = sorted(name for name, route in ROUTES.items() if route.takes_id)
PATCH_ROUTES = sorted(name for name, method in BODY_ROUTES if method == "PATCH")
CREATE_ROUTES = sorted(name for name, method in BODY_ROUTES if method == "POST" and name.endswith("-list"))

# What a response must never contain, whatever went wrong.
LEAK_MARKERS = ("Traceback", 'File "', "SELECT ", "django.")

HUGE = "x" * 100_000
DEEP = 10_000


def admin_for(tenant, route_name):
    """An Admin's client for the route: live-mode where the route makes organization-wide changes, which
    test-mode credentials may not (tests/security/test_livemode.py); test mode elsewhere."""
    return tenant.client("admin", livemode=bool(resource_of(route_name).organization_wide))


def route_target(tenant, route_name):
    """The route's URL, and the object it addresses (None for collection routes)."""
    return target_url(route_name, tenant)


def send(client, method, url, body, content_type="application/json", **extra):
    """A request with exactly these body bytes."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return client.generic(method, url, body, content_type=content_type, **extra)


def send_json(client, method, url, value):
    # json.dumps escapes every non-ASCII character, so lone surrogates and NUL arrive as \\ud800, \\u0000.
    return send(client, method, url, json.dumps(value))


def assert_no_leak(response):
    text = response.content.decode("utf-8", errors="replace")
    for marker in LEAK_MARKERS:
        assert marker not in text, f"response reveals {marker!r}: {text[:300]}"
    assert settings.SECRET_KEY not in text


def assert_error(response, status, code=None, type_="invalid_request_error"):
    """The one error shape, with a request id matching the X-Request-ID header."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert {"type", "code", "message", "request_id"} <= set(error), error
    assert error["type"] == type_
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    if code is not None:
        assert error["code"] == code, error
    assert_no_leak(response)
    return error


def assert_invalid(response, *fields):
    """A 400 whose per-field details name each of these fields."""
    error = assert_error(response, 400, "parameter_invalid")
    assert isinstance(error.get("details"), dict) and error["details"], error
    for field in fields:
        assert field in error["details"], (field, error["details"])
    return error


def assert_parse_error(response):
    return assert_error(response, 400, "parse_error")


def nested_list(depth):
    return "[" * depth + "]" * depth


def nested_object(depth):
    return '{"a":' * depth + "1" + "}" * depth


# --- bodies that are not JSON, or JSON no database can store --------------------------------------

UNPARSEABLE = {
    "truncated": b'{"name": ',
    "single quotes": b"{'name': 'x'}",
    "trailing comma": b'{"name": "x",}',
    "empty object then junk": b"{} {}",
    "whitespace only": b"   ",
    "invalid utf-8": b'{"name": "\xff\xfe"}',
    "utf-8 encoded surrogate": b'{"name": "\xed\xa0\x80"}',
    "byte order mark": "\ufeff{}".encode("utf-8"),
    "NaN": b'{"name": NaN}',
    "Infinity": b'{"name": -Infinity}',
    "1e400": b'{"name": 1e400}',
    "-1e400 in a list": b'{"name": [1, -1e400]}',
    "10**5000": b'{"name": 1' + b"0" * 5000 + b"}",
    "raw NUL byte in a string": b'{"name": "a\x00b"}',
    "raw newline in a string": b'{"name": "a\nb"}',
    "escaped NUL in a value": b'{"name": "a\\u0000b"}',
    "escaped NUL in a key": b'{"na\\u0000me": "x"}',
    "escaped NUL deep inside": b'{"name": {"a": [{"b": "\\u0000"}]}}',
    "lone surrogate in a value": b'{"name": "\\ud800"}',
    "lone surrogate in a key": b'{"\\udfff": "x"}',
    "lone surrogate in a list": b'{"name": ["ok", "\\udbff"]}',
    f"{DEEP} nested lists": nested_list(DEEP).encode(),
    f"{DEEP} nested objects": nested_object(DEEP).encode(),
    f"{DEEP} nested lists inside a field": b'{"name": ' + nested_list(DEEP).encode() + b"}",
    "33 nested lists": nested_list(33).encode(),
    "33 nested objects": nested_object(33).encode(),
}


@pytest.mark.parametrize("case", sorted(UNPARSEABLE))
@pytest.mark.parametrize("route_name,method", BODY_ROUTES)
def test_a_body_that_is_not_storable_json_is_a_400_parse_error(tenant, route_name, method, case):
    url, _ = route_target(tenant, route_name)
    assert_parse_error(send(admin_for(tenant, route_name), method, url, UNPARSEABLE[case]))


def test_a_string_with_a_lone_surrogate_is_refused_but_a_real_astral_character_is_kept(tenant):
    """\\ud83d\\ude00 is one character (an emoji) written as a surrogate pair; only a lone half is refused."""
    client = tenant.client("admin")
    response = send(client, "POST", "/api/v1/datasets", b'{"name": "smile \\ud83d\\ude00"}')
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "smile \U0001F600"
    assert_parse_error(send(client, "POST", "/api/v1/datasets", b'{"name": "smile \\ud83d"}'))


def test_nesting_up_to_the_limit_is_accepted(tenant):
    """32 levels is the documented depth; records may nest that deep."""
    dataset = make_dataset(tenant)
    # {"records": [ {"v": [[...]]} ]}: three levels around the innermost lists.
    body = '{"records": [{"v": ' + nested_list(29) + "}]}"
    response = send(tenant.client("admin"), "POST", f"/api/v1/datasets/{dataset.pk}/records", body)
    assert response.status_code == 201, response.content


# --- JSON that is not an object ------------------------------------------------------------------

NOT_AN_OBJECT = {"list": "[]", "list of an object": '[{"name": "x"}]', "string": '"name"', "number": "42",
                 "null": "null", "true": "true"}


@pytest.mark.parametrize("case", sorted(NOT_AN_OBJECT))
@pytest.mark.parametrize("route_name,method", BODY_ROUTES)
def test_json_that_is_not_an_object_is_a_400(tenant, route_name, method, case):
    url, obj = route_target(tenant, route_name)
    before = snapshot(obj) if obj is not None else None
    error = assert_invalid(send(admin_for(tenant, route_name), method, url, NOT_AN_OBJECT[case]))
    assert list(error["details"]) == ["non_field_errors"]
    if obj is not None:
        assert snapshot(obj) == before


# --- wrong types, unknown fields, huge strings ---------------------------------------------------

WRONG_TYPES = {"object": {"nested": "object"}, "list": [[1]], "boolean": True}


def body_cases(tenant, route_name, method):
    """Each top-level field of the route's valid body."""
    body = valid_body(route_name, method, tenant)
    return body, sorted(body)


@pytest.mark.parametrize("wrong", sorted(WRONG_TYPES))
@pytest.mark.parametrize("route_name,method", BODY_ROUTES)
def test_a_field_of_the_wrong_type_is_a_400_naming_it(tenant, route_name, method, wrong):
    url, obj = route_target(tenant, route_name)
    client = admin_for(tenant, route_name)
    body, fields = body_cases(tenant, route_name, method)
    for field in fields:
        before = snapshot(obj) if obj is not None else None
        assert_invalid(send_json(client, method, url, {**body, field: WRONG_TYPES[wrong]}), field)
        if obj is not None:
            assert snapshot(obj) == before


@pytest.mark.parametrize("route_name,method", BODY_ROUTES)
def test_an_unknown_field_is_a_400_naming_it(tenant, route_name, method):
    url, obj = route_target(tenant, route_name)
    body, _ = body_cases(tenant, route_name, method)
    before = snapshot(obj) if obj is not None else None
    error = assert_invalid(send_json(admin_for(tenant, route_name), method, url, {**body, "colour": "red", "Name": "x"}),
                           "colour", "Name")
    assert error["details"]["colour"] == ["Unknown field."]
    if obj is not None:
        assert snapshot(obj) == before


@pytest.mark.parametrize("route_name,method", BODY_ROUTES)
def test_a_100k_character_string_is_a_400_naming_the_field_and_is_not_echoed(tenant, route_name, method):
    url, obj = route_target(tenant, route_name)
    client = admin_for(tenant, route_name)
    body, fields = body_cases(tenant, route_name, method)
    before = snapshot(obj) if obj is not None else None
    for field in fields:
        response = send_json(client, method, url, {**body, field: HUGE})
        assert_invalid(response, field)
        assert len(response.content) < 10_000, f"{field}: the error repeats the value sent"
    if obj is not None:
        assert snapshot(obj) == before


@pytest.mark.parametrize("route_name,method", BODY_ROUTES)
def test_a_100k_character_unknown_field_name_is_a_400(tenant, route_name, method):
    url, _ = route_target(tenant, route_name)
    body, _ = body_cases(tenant, route_name, method)
    assert_invalid(send_json(admin_for(tenant, route_name), method, url, {**body, HUGE: 1}))


NESTED_WRONG = [
    # (route, body, field named in details)
    ("connector-list", {"name": "CRM", "type": "csv", "config": {"delimiter": ";", "quote": '"'}}, "config"),
    ("connector-list", {"name": "CRM", "type": "csv", "config": {"delimiter": [";"]}}, "config"),
    ("connector-list", {"name": "API", "type": "http", "config": {"base_url": "https://a.example", "headers": {"X": {}}}},
     "config"),
    ("connector-list", {"name": "API", "type": "http", "config": {"base_url": "https://a.example"},
                        "credentials": {"token": ["t"]}}, "credentials"),
    ("connector-list", {"name": "DB", "type": "postgresql",
                        "config": {"host": "db", "database": "d", "user": "u", "port": 10**30}}, "config"),
    ("connector-list", {"name": "CRM", "type": HUGE, "config": {}}, "type"),
    ("dataset-records", {"records": [1]}, "records"),
    ("dataset-records", {"records": [{"k" * 129: 1}]}, "records"),
    ("dataset-records", {"records": [{}] * 1001}, "records"),
    ("api-key-list", {"name": "k", "scopes": ["connectors:read"], "expires_at": "9999-12-31T23:59:59-14:00"},
     "expires_at"),
    ("api-key-list", {"name": "k", "scopes": ["connectors:read"], "expires_at": "tomorrow"}, "expires_at"),
    ("api-key-list", {"name": "k", "scopes": ["connectors:read"], "member": {"id": "mem_x"}}, "member"),
    ("api-key-roll", {"expires_in": 10**40}, "expires_in"),
    ("api-key-roll", {"expires_in": -1}, "expires_in"),
    ("api-key-roll", {"expires_in": "1e3"}, "expires_in"),
    ("member-list", {"role": "service", "name": "n", "scopes": ["org:admin"]}, "scopes"),
    ("webhook-endpoint-list", {"url": "https://" + "a" * 3000 + ".example", "events": ["*"]}, "url"),
    ("webhook-endpoint-list", {"url": "javascript:alert(1)", "events": ["*"]}, "url"),
    ("workflow-list", {"name": "w", "connector": "conn_missing", "steps": []}, "connector"),
    ("workflow-list", {"name": "w", "connector": None, "steps": []}, "connector"),
]


@pytest.mark.parametrize("route_name,body,field", NESTED_WRONG,
                         ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(NESTED_WRONG)])
def test_wrong_values_inside_a_body_are_a_400_naming_the_field(tenant, route_name, body, field):
    url, _ = route_target(tenant, route_name)
    response = send_json(admin_for(tenant, route_name), "POST", url, body)
    assert_invalid(response, field)
    assert len(response.content) < 10_000


STEP_TYPES_NOT_A_STRING = [["select"], {"select": 1}]


@pytest.mark.parametrize("step_type", STEP_TYPES_NOT_A_STRING, ids=["list", "object"])
def test_a_workflow_step_type_that_is_not_a_string_is_a_400(tenant, step_type):
    connector = make_connector(tenant)
    response = send_json(tenant.client("admin"), "POST", "/api/v1/workflows",
                         {"name": "w", "connector": connector.pk, "steps": [{"type": step_type, "fields": ["a"]}]})
    assert_invalid(response, "steps")


def test_large_numbers_json_can_hold_are_stored(tenant):
    """Big integers (under Python's 4300-digit limit) and extreme floats are data, not errors.
    (PostgreSQL's jsonb keeps numbers as decimals, so the largest float may come back as an integer.)"""
    dataset = make_dataset(tenant)
    client = tenant.client("admin")
    big = 10**4000
    body = '{"records": [{"big": %d, "tiny": 1e-400, "max": 1.7976931348623157e308}]}' % big
    response = send(client, "POST", f"/api/v1/datasets/{dataset.pk}/records", body)
    assert response.status_code == 201, response.content
    rows = client.get(f"/api/v1/datasets/{dataset.pk}/records", {"order_by": "-seq", "limit": 1}).json()["data"]
    data = rows[0]["data"]
    assert data["big"] == big and data["tiny"] == 0
    assert float(data["max"]) == 1.7976931348623157e308


# --- content type, size, Content-Length ----------------------------------------------------------

MULTIPART = ("--BoUnDaRy\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--BoUnDaRy--\r\n")
WRONG_CONTENT_TYPES = {
    "text/plain": ("text/plain", '{"name": "x"}'),
    "form-encoded": ("application/x-www-form-urlencoded", "name=x&type=csv"),
    "multipart": ("multipart/form-data; boundary=BoUnDaRy", MULTIPART),
    "xml": ("application/xml", "<name>x</name>"),
    "none": ("", '{"name": "x"}'),
    "json with a utf-16 charset": ("application/json; charset=utf-16", '{"name": "x"}'.encode("utf-16")),
    "json with a latin-1 charset": ("application/json; charset=latin-1", '{"name": "\xe9"}'.encode("latin-1")),
    "json with a zlib 'charset'": ("application/json; charset=zlib", zlib.compress(b'{"name": "x"}')),
    "json with a rot13 'charset'": ("application/json; charset=rot13", '{"anzr": "k"}'),
    "json with an unknown charset": ("application/json; charset=no-such-charset", '{"name": "x"}'),
}


@pytest.mark.parametrize("case", sorted(WRONG_CONTENT_TYPES))
@pytest.mark.parametrize("route_name,method", BODY_ROUTES)
def test_a_body_that_is_not_utf8_json_is_a_415(tenant, route_name, method, case):
    url, obj = route_target(tenant, route_name)
    content_type, body = WRONG_CONTENT_TYPES[case]
    before = snapshot(obj) if obj is not None else None
    assert_error(send(admin_for(tenant, route_name), method, url, body, content_type=content_type), 415,
                 "unsupported_media_type")
    if obj is not None:
        assert snapshot(obj) == before


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json; charset=UTF-8",
                                          "application/json;charset=utf8", "application/json"])
def test_json_declared_as_utf8_is_accepted(tenant, content_type):
    response = send(tenant.client("admin"), "POST", "/api/v1/datasets", '{"name": "Caf\u00e9"}',
                    content_type=content_type)
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Caf\u00e9"


@pytest.mark.parametrize("route_name,method", BODY_ROUTES)
def test_a_body_over_the_size_limit_is_a_413(tenant, route_name, method):
    url, obj = route_target(tenant, route_name)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps({"name": "x" * limit})
    assert len(body) > limit
    before = snapshot(obj) if obj is not None else None
    error = assert_error(send(tenant.client("admin"), method, url, body), 413, "request_too_large")
    assert str(limit) in error["message"]
    if obj is not None:
        assert snapshot(obj) == before


def test_the_size_limit_is_checked_before_authentication(anon):
    body = b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert_error(send(anon, "POST", "/api/v1/connectors", body), 413, "request_too_large")


def test_a_body_exactly_at_the_size_limit_is_read(tenant):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    prefix, suffix = '{"name": "', '"}'
    body = prefix + "x" * (limit - len(prefix) - len(suffix)) + suffix
    assert len(body) == limit
    # Read and parsed (so not 413); refused by the field's max_length.
    assert_invalid(send(tenant.client("admin"), "POST", "/api/v1/datasets", body), "name")


def test_a_declared_length_over_the_limit_is_a_413_whatever_the_body(tenant):
    response = send(tenant.client("admin"), "POST", "/api/v1/datasets", '{"name": "x"}',
                    CONTENT_LENGTH=str(10**12))
    assert_error(response, 413, "request_too_large")


@pytest.mark.parametrize("content_length", ["abc", "-1", "1.5", "0x10", " ", "1" * 5000])
def test_an_invalid_content_length_is_a_400(tenant, content_length):
    response = send(tenant.client("admin"), "POST", "/api/v1/datasets", '{"name": "x"}',
                    CONTENT_LENGTH=content_length)
    assert_error(response, 400, "invalid_content_length")
    assert not Dataset.unscoped.exists()


# --- fields a client may not set ------------------------------------------------------------------

def forbidden_fields(route_name, other_tenant):
    fields = {"organization": other_tenant.org.pk, "livemode": True, "id": "x_chosen_by_client",
              "created_at": "2000-01-01T00:00:00Z", "updated_at": "2000-01-01T00:00:00Z", "is_staff": True,
              "object": "member"}
    if resource_of(route_name).name != "member":
        fields["role"] = "admin"
    return fields


@pytest.mark.parametrize("route_name", PATCH_ROUTES)
def test_patch_refuses_fields_a_client_may_not_set_and_changes_nothing(tenant, other_tenant, route_name):
    url, obj = route_target(tenant, route_name)
    client = admin_for(tenant, route_name)
    body = valid_body(route_name, "PATCH", tenant)
    before = snapshot(obj)
    audit_count = AuditEvent.unscoped.count()
    for field, value in forbidden_fields(route_name, other_tenant).items():
        # Alone, and next to a change that would be valid: neither is applied.
        assert_invalid(send_json(client, "PATCH", url, {field: value}), field)
        assert_invalid(send_json(client, "PATCH", url, {**body, field: value}), field)
        assert snapshot(obj) == before, field
    assert AuditEvent.unscoped.count() == audit_count


@pytest.mark.parametrize("route_name", CREATE_ROUTES)
def test_create_refuses_fields_a_client_may_not_set_and_creates_nothing(tenant, other_tenant, route_name):
    url, _ = route_target(tenant, route_name)
    client = admin_for(tenant, route_name)
    model = ROUTES[route_name].model
    for field, value in forbidden_fields(route_name, other_tenant).items():
        body = valid_body(route_name, "POST", tenant)  # may create a connector (workflows): count after
        count = model.unscoped.count()
        assert_invalid(send_json(client, "POST", url, {**body, field: value}), field)
        assert model.unscoped.count() == count, field
    assert not model.objects.filter(organization=other_tenant.org).exists()


def test_a_test_mode_key_cannot_create_a_live_key(tenant):
    response = send_json(tenant.client("admin"), "POST", "/api/v1/api-keys",
                         {"name": "k", "scopes": ["connectors:read"], "livemode": True})
    assert_invalid(response, "livemode")
    assert not APIKey.unscoped.filter(livemode=True).exists()


def test_a_member_cannot_be_given_another_organization_or_a_person_s_role(tenant, other_tenant):
    member = make_object("member-detail", tenant)
    client = tenant.client("admin", livemode=True)
    before = snapshot(member)
    url = f"/api/v1/members/{member.pk}"
    assert_invalid(send_json(client, "PATCH", url, {"organization": other_tenant.org.pk}), "organization")
    assert_invalid(send_json(client, "PATCH", url, {"role": "admin"}), "role")
    assert_invalid(send_json(client, "PATCH", url, {"email": "x@example.com"}), "email")
    assert snapshot(member) == before


# --- query strings ---------------------------------------------------------------------------------

def b64(value):
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_LIMITS = ["0", "101", "-1", "abc", "1.5", "", " 5", "1e2", "\u00b2", "\u0663", "9" * 5000, "0x10"]
BAD_CURSORS = {
    "garbage": "garbage",
    "not base64": "!!!***",
    "non-ascii": "\u00e9\u00e9\u00e9",
    "NUL": "\x00",
    "base64 of junk bytes": b64(b"\xff\xfe\x00junk"),
    "base64 of a JSON object": b64({"a": 1}),
    "base64 of a string": b64("x"),
    "base64 of null": b64(None),
    "base64 of the wrong length": b64([1, 2, 3]),
    "base64 of wrong types": b64([["x"], {"y": 1}]),
    "base64 of a naive datetime": b64(["2024-01-01T00:00:00", "x_1"]),
    "base64 of a date": b64(["2024-01-01", "x_1"]),
    "base64 of an overflowing datetime": b64(["9999-12-31T23:59:59-14:00", "x_1"]),
    "base64 of an underflowing datetime": b64(["0001-01-01T00:00:00+14:00", "x_1"]),
    "base64 of a NUL id": b64(["2024-01-01T00:00:00+00:00", "conn_\u0000"]),
    "base64 of a lone surrogate id": b64(["2024-01-01T00:00:00+00:00", "conn_\ud800"]),
    "base64 of a 10k character id": b64(["2024-01-01T00:00:00+00:00", "x" * 10_000]),
    "base64 of deep nesting": b64(nested_list(DEEP).encode()),
    "base64 of 10**5000": b64(b"[1" + b"0" * 5000 + b"]"),
    "base64 of NaN": b64(b"[NaN, NaN]"),
    "very long": "A" * 100_000,
}
# The records list pages by seq (one integer) or, ordered by a field, by offset.
BAD_RECORD_CURSORS = {
    "seq overflows a bigint": ("seq", b64([10**30])),
    "seq below a bigint": ("-seq", b64([-(10**30)])),
    "seq is infinite": ("seq", b64(b"[1e400]")),
    "seq is a string": ("seq", b64(["one"])),
    "offset for another ordering": ("amount", b64({"order_by": "-amount", "offset": 10})),
    "negative offset": ("amount", b64({"order_by": "amount", "offset": -1})),
    "huge offset": ("amount", b64({"order_by": "amount", "offset": 10**30})),
    "offset is a string": ("amount", b64({"order_by": "amount", "offset": "10"})),
    "offset is a list": ("amount", b64({"order_by": "amount", "offset": [1]})),
    "not an object": ("amount", b64([1])),
}


def list_url(tenant, route_name):
    url, _ = route_target(tenant, route_name)
    return url


@pytest.mark.parametrize("limit", BAD_LIMITS, ids=[f"limit={v[:10]!r}" for v in BAD_LIMITS])
@pytest.mark.parametrize("route_name", LIST_ROUTES)
def test_a_limit_outside_1_to_100_is_a_400(tenant, route_name, limit):
    url = list_url(tenant, route_name)
    error = assert_invalid(tenant.client("admin").get(url + "?" + urlencode({"limit": limit})), "limit")
    assert error["details"]["limit"] == ["Must be an integer from 1 to 100."]


@pytest.mark.parametrize("limit", ["1", "100", "007"])
@pytest.mark.parametrize("route_name", LIST_ROUTES)
def test_a_limit_from_1_to_100_is_accepted(tenant, route_name, limit):
    response = tenant.client("admin").get(list_url(tenant, route_name), {"limit": limit})
    assert response.status_code == 200, response.content
    assert response.json()["object"] == "list"


@pytest.mark.parametrize("case", sorted(BAD_CURSORS))
@pytest.mark.parametrize("route_name", LIST_ROUTES)
def test_a_cursor_the_server_did_not_issue_is_a_400(tenant, route_name, case):
    url = list_url(tenant, route_name)
    response = tenant.client("admin").get(url + "?" + urlencode({"cursor": BAD_CURSORS[case]}))
    assert_invalid(response, "cursor")


@pytest.mark.parametrize("case", sorted(BAD_RECORD_CURSORS))
def test_a_records_cursor_the_server_did_not_issue_is_a_400(tenant, case):
    dataset = make_dataset(tenant)
    order_by, cursor = BAD_RECORD_CURSORS[case]
    response = tenant.client("admin").get(f"/api/v1/datasets/{dataset.pk}/records",
                                          {"order_by": order_by, "cursor": cursor})
    assert_invalid(response, "cursor")


@pytest.mark.parametrize("route_name", LIST_ROUTES)
def test_cursors_the_server_issued_page_through_every_object_once(tenant, route_name):
    """The happy path next to all the refusals: issued cursors keep working."""
    client = tenant.client("admin")
    url, obj = route_target(tenant, route_name)
    for _ in range(3):
        if obj is not None:  # the rows of one object (a dataset's records)
            resource_of(route_name).rows[route_name].add(obj)
        else:
            make_object(route_name, tenant)
    seen, cursor = [], None
    for _ in range(50):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, params).json()
        seen += [row.get("id", row.get("seq")) for row in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) >= 3


def test_too_many_query_parameters_is_a_400(tenant):
    query = "&".join(f"p{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    assert_error(tenant.client("admin").get("/api/v1/connectors?" + query), 400)


@pytest.mark.parametrize("action", ["a%00b", "nope", "x" * 500])
def test_an_unknown_audit_action_filter_is_a_400(tenant, action):
    assert_invalid(tenant.client("admin").get(f"/api/v1/audit-events?action={action}"), "action")


# Record filters: ``field=value``, ``field__op=value``; 10 at most.
BAD_RECORD_FILTERS = {
    "unknown operator": "amount__bogus=1",
    "two operators": "a__b__c=1",
    "order_by a dash": "order_by=-",
    "order_by a double underscore": "order_by=__x",
    "order_by a lookup": "order_by=amount__gt",
    "order_by a space": "order_by=%20",
    "order_by a 65 character name": "order_by=" + "a" * 65,
    "eleven filters": "&".join(f"f{i}=1" for i in range(11)),
    "an object value": "status=" + quote('{"a":1}'),
    "a list value": "status=" + quote("[1,2]"),
    "an object with ne": "status__ne=" + quote('{"a":1}'),
    "a field name with a digit first": "1st=1",
    "a non-ASCII field name": quote("caf\u00e9") + "=1",
    "a field name with a dot": "a.b=1",
    "a field name of 65 characters": "a" * 65 + "=1",
    "an empty field name": "=1",
    "an operator only": "__gt=1",
}


@pytest.mark.parametrize("case", sorted(BAD_RECORD_FILTERS))
def test_a_malformed_record_filter_is_a_400(tenant, case):
    dataset = make_dataset(tenant)
    response = tenant.client("admin").get(f"/api/v1/datasets/{dataset.pk}/records?{BAD_RECORD_FILTERS[case]}")
    assert_error(response, 400, "parameter_invalid")


# Odd but well-formed filters. The API may answer them (with exactly the matching records) or refuse them
# (a 400 naming the parameter); what it may not do is pass them to the database unchecked and fail there.
ODD_RECORD_FILTERS = {
    # case: (query, the parameter a refusal names, the record ids an answer holds)
    "empty in": ("status__in=", "status__in", set()),
    "in with an object": ("status__in=" + quote('{"a":1}'), "status__in", set()),
    "in with empty parts": ("amount__in=" + quote(",10,,"), "amount__in", {1}),
    "ten filters": ("amount__gte=0&amount__lte=100&amount__ne=5&amount__gt=-1&amount__lt=1000"
                    "&id__gte=1&id__lte=2&id__ne=3&id__in=1,2&amount__in=10,20", None, {1, 2}),
    "a value that is null": ("amount=null", "amount", set()),
    "a value that is a string of a number": ("amount=" + quote('"10"'), "amount", set()),
    "a big integer": ("amount=" + "9" * 30, "amount", set()),
    "a big integer with gt": ("amount__gt=" + "9" * 30, "amount__gt", set()),
    "a big negative integer with gt": ("amount__gt=-" + "9" * 30, "amount__gt", {1, 2}),
    "10**5000": ("amount=1" + "0" * 5000, "amount", set()),
    "1e400": ("amount__lt=1e400", "amount__lt", {1, 2}),
    "-1e400": ("amount__gt=-1e400", "amount__gt", {1, 2}),
    "1e400 for equality": ("amount=1e400", "amount", set()),
    "NaN": ("amount=NaN", "amount", set()),
    "Infinity": ("amount=Infinity", "amount", set()),
    "a raw NUL": ("status=a%00b", "status", set()),
    "a JSON-escaped NUL": ("status=" + quote('"a\\u0000b"'), "status", set()),
    "a NUL with gt": ("status__gt=a%00b", "status__gt", set()),
    "a NUL in in": ("status__in=a,b%00", "status__in", set()),
    "a JSON-escaped lone surrogate": ("status=" + quote('"\\ud800"'), "status", set()),
    "invalid UTF-8": ("status=%ff%fe", "status", set()),
    "a 100k character value": ("status=" + "x" * 100_000, "status", set()),
    "order by a missing field": ("order_by=nothing", "order_by", {1, 2}),
    "order by two dashes": ("order_by=--amount", "order_by", {1, 2}),
    "a field named like a lookup": ("contains=1", "contains", set()),
}


@pytest.mark.parametrize("case", sorted(ODD_RECORD_FILTERS))
def test_an_odd_record_filter_is_answered_or_refused_never_a_server_error(tenant, case):
    dataset = make_dataset(tenant)  # records {"id": 1, "amount": 10} and {"id": 2, "amount": 20}
    query, param, expected_ids = ODD_RECORD_FILTERS[case]
    response = tenant.client("admin").get(f"/api/v1/datasets/{dataset.pk}/records?{query}&limit=100")
    if response.status_code == 400:
        assert_invalid(response, *([param] if param else []))
    else:
        assert response.status_code == 200, response.content[:500]
        assert {row["data"]["id"] for row in response.json()["data"]} == expected_ids


# --- junk in the URL and headers -------------------------------------------------------------------

JUNK_IDS = {
    "dot dot slash": "..%2F",
    "dot dot": "..",
    "encoded slash": "conn_a%2Fb",
    "65 characters": "a" * 65,
    "64 characters": "a" * 64,
    "10k characters": "a" * 10_000,
    "unicode": quote("conn_\u00e9\u00e8"),
    "emoji": quote("\U0001F600"),
    # A NUL is refused before routing (400): tests/security/test_nul_in_paths.py
    "CRLF": "conn_%0D%0AX-Injected:%201",
    "invalid UTF-8": "conn_%ff",
    "SQL": quote("' OR 1=1 --"),
    "percent": "%25",
    "space": "conn%20x",
}


@pytest.mark.parametrize("case", sorted(JUNK_IDS))
@pytest.mark.parametrize("route_name", ID_ROUTES)
def test_a_junk_id_in_the_url_is_a_404(tenant, route_name, case):
    url = ROUTES[route_name].url("PLACEHOLDER").replace("PLACEHOLDER", JUNK_IDS[case])
    client = admin_for(tenant, route_name)
    for method in ROUTES[route_name].methods:
        response = send(client, method, url, b"{}" if method in ("POST", "PATCH") else b"")
        assert_error(response, 404, "resource_missing")
        assert "X-Injected" not in response


@pytest.mark.parametrize("path", ["/api/v1/connectors/..%2F..%2Fetc%2Fpasswd", "/api/v1/" + "a" * 10_000,
                                  "/api/v1/connectors%0D%0A", "/api/v1/datasets/ds_x/records/..", "/api/v2/me"])
def test_a_junk_path_under_the_api_is_a_json_404(tenant, path):
    assert_error(tenant.client("admin").get(path), 404, "resource_missing")


@pytest.mark.parametrize("header", ["Bearer " + "x" * 100_000, "Bearer sk_test_" + "\u00e9" * 49, "Bearer \x00",
                                    "Bearer sk_test_" + "A" * 49, "Basic dXNlcjpwYXNz", "Bearer", ""])
def test_a_malformed_authorization_header_is_a_401(anon, header):
    response = send(anon, "GET", "/api/v1/me", b"", HTTP_AUTHORIZATION=header)
    assert_error(response, 401, type_="authentication_error")


def test_a_host_the_server_does_not_serve_is_a_json_400(tenant):
    response = send(tenant.client("admin"), "GET", "/api/v1/me", b"", HTTP_HOST="evil.example\r\nX-Injected: 1")
    assert_error(response, 400)
