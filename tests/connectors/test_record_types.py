"""Record filters and ordering over every pair of JSON types, with the same answers on SQLite and
PostgreSQL: a filter value compares only with values of its own JSON type (``true`` is not ``"true"``,
not ``1``; ``1`` is ``1.0``), a record without the field matches no filter, and ordering by a field puts
numbers, strings, false, true, arrays, objects in that order, null and missing last. The expected answers
come from a reference written here in Python, independent of the SQL under test."""

import json
import operator
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.models import Dataset
from tests.support.api import error

MISSING = object()

# One record per value, in this order (seq 1, 2, ...): every JSON type, and look-alikes across types.
VALUES = [
    1, 0, -5, 2.5, 1.0, 10**15, -0.5,  # numbers, integer and float
    2**63, -(2**63) - 2048, 2**63 - 1,  # beyond 64 bits (doubles SQLite holds exactly), and the edge
    "1", "0", "true", "false", "null", "", "a", "B", "é", "10", "[1]",  # strings
    True, False,
    None,
    [1], [], ["true"],  # arrays
    {"a": 1}, {},  # objects
    MISSING,  # a record without the field
]
RECORDS = [{"other": 1} if value is MISSING else {"v": value, "other": 1} for value in VALUES]

# Filter values as a client writes them in the query string (read as JSON when they parse).
FILTER_VALUES = ["1", "1.0", "0", "-5", "2.5", "1000000000000000", '"1"', '"true"', '"false"', '"null"', '""',
                 "a", '"B"', "é", "true", "false", "null", "10", "-0.5", "9223372036854775807", "-9223372036854775808",
                 "1e18", "9.007199254740993e15", "0.1"]
IN_VALUES = ["true,1", '"true",true', "false,0,\"false\"", "1.0,\"1\"", "null,\"null\"", 'a,"B",é', "2.5,-5",
             '"",0']
REFUSED_VALUES = ["[1]", "{}", '{"a":1}']
# Whole numbers beyond 64 bits, however written: SQLite would compare them as doubles and PostgreSQL as
# decimals (2**63 is the double 9.223372036854776e18 but not that decimal), so the answers would differ.
BEYOND_64_BITS = ["9223372036854775808", "-9223372036854775809", "99999999999999999999", "1e19",
                  "9.223372036854776e18", "-1e300"]


# -- the reference ------------------------------------------------------------------------------------------


def kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def parsed(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def equal(a, b):
    return kind(a) == kind(b) and a == b


RANGES = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def matches(value, op, raw):
    if value is MISSING:
        return False
    if op == "in":
        return any(equal(value, parsed(part)) for part in raw.split(","))
    expected = parsed(raw)
    if op == "eq":
        return equal(value, expected)
    if op == "ne":
        return not equal(value, expected)
    return kind(value) == kind(expected) and kind(value) in ("number", "string") and RANGES[op](value, expected)


def expected_seqs(op, raw):
    return [seq for seq, value in enumerate(VALUES, 1) if matches(value, op, raw)]


RANK = {"number": 0, "string": 1, "boolean": 2, "array": 4, "object": 5}


def sort_key(seq):
    value = VALUES[seq - 1]
    rank = RANK[kind(value)] + (1 if value is True else 0)
    return (rank, value if kind(value) == "number" else 0, value if kind(value) == "string" else "", seq)


def expected_order(descending):
    """Ties by seq; null and missing last in both directions (by seq, reversed when descending)."""
    valued = [seq for seq, value in enumerate(VALUES, 1) if value is not None and value is not MISSING]
    nullish = [seq for seq, value in enumerate(VALUES, 1) if value is None or value is MISSING]
    return sorted(valued, key=sort_key, reverse=descending) + sorted(nullish, reverse=descending)


# -- the tests ----------------------------------------------------------------------------------------------


@pytest.fixture
def dataset(tenant, dev):
    dataset = Dataset.unscoped.create(organization=tenant.org, livemode=False, name="Types")
    response = dev.post(f"/api/v1/datasets/{dataset.id}/records", {"records": RECORDS}, format="json")
    assert response.status_code == 201, response.content
    return dataset


def seqs(client, dataset, **params):
    response = client.get(f"/api/v1/datasets/{dataset.id}/records?{urlencode({**params, 'limit': 100})}")
    assert response.status_code == 200, response.content
    return [record["seq"] for record in response.json()["data"]]


CASES = [(op, raw) for op in ("eq", "ne", "gt", "gte", "lt", "lte") for raw in FILTER_VALUES
         if op in ("eq", "ne") or parsed(raw) is not None and not isinstance(parsed(raw), bool)]
CASES += [("in", raw) for raw in IN_VALUES + FILTER_VALUES]


@pytest.mark.parametrize("op,raw", CASES, ids=[f"{op}:{raw}" for op, raw in CASES])
def test_a_filter_matches_only_values_of_its_own_type(dev, dataset, op, raw):
    param = "v" if op == "eq" else f"v__{op}"
    assert seqs(dev, dataset, **{param: raw}) == expected_seqs(op, raw)


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
@pytest.mark.parametrize("raw", ["true", "false", "null"])
def test_ordering_operators_refuse_values_that_have_no_order(dev, dataset, op, raw):
    body = error(dev.get(f"/api/v1/datasets/{dataset.id}/records?v__{op}={raw}"), 400)
    assert list(body["details"]) == [f"v__{op}"]


@pytest.mark.parametrize("op", ["", "__ne", "__in", "__gt"])
@pytest.mark.parametrize("raw", REFUSED_VALUES)
def test_arrays_and_objects_are_not_filter_values(dev, dataset, op, raw):
    body = error(dev.get(f"/api/v1/datasets/{dataset.id}/records?{urlencode({f'v{op}': raw})}"), 400)
    assert list(body["details"]) == [f"v{op}"]


@pytest.mark.parametrize("op", ["", "__ne", "__gt", "__gte", "__lt", "__lte", "__in"])
@pytest.mark.parametrize("raw", BEYOND_64_BITS)
def test_whole_numbers_beyond_64_bits_are_not_filter_values(dev, dataset, op, raw):
    query = urlencode({f"v{op}": f"1,{raw}" if op == "__in" else raw})
    body = error(dev.get(f"/api/v1/datasets/{dataset.id}/records?{query}"), 400)
    assert list(body["details"]) == [f"v{op}"]
    assert "64-bit" in body["details"][f"v{op}"][0]


def test_the_newcomers_dataset(dev, tenant):
    """The report: in 1, true, "true", "1", false, 0, "false", booleans and strings were mixed on SQLite."""
    dataset = Dataset.unscoped.create(organization=tenant.org, livemode=False, name="Mixed")
    values = [1, True, "true", "1", False, 0, "false"]
    dev.post(f"/api/v1/datasets/{dataset.id}/records", {"records": [{"v": v} for v in values]}, format="json")

    def found(**params):
        return [values[seq - 1] for seq in seqs(dev, dataset, **params)]

    assert found(v="true") == [True]
    assert found(v='"true"') == ["true"]
    assert found(v="false") == [False]
    assert found(v='"false"') == ["false"]
    assert found(v="1") == [1]
    assert found(v='"1"') == ["1"]
    assert found(v__ne="true") == [1, "true", "1", False, 0, "false"]
    assert found(v__ne='"true"') == [1, True, "1", False, 0, "false"]
    assert found(v__in="true,1") == [1, True]
    assert found(v__in='"true","1"') == ["true", "1"]


@pytest.mark.parametrize("order_by", ["v", "-v"])
def test_ordering_by_a_field_over_every_type(dev, dataset, order_by):
    assert seqs(dev, dataset, order_by=order_by) == expected_order(order_by.startswith("-"))


# -- what is refused ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("param", ["v__foo", "v__", "__gt", "__", "v__eq", "v__ne__", "v__IN", "v___gt", "_v__gtx"])
def test_a_malformed_operator_is_a_400_naming_the_parameter(dev, dataset, param):
    body = error(dev.get(f"/api/v1/datasets/{dataset.id}/records?{urlencode({param: '1'})}"), 400)
    assert list(body["details"]) == [param], body


@pytest.mark.parametrize("order_by", ["nosuchfield", "-nosuchfield", "V", "othe"])
def test_ordering_by_a_field_no_record_has_is_a_400(dev, dataset, order_by):
    body = error(dev.get(f"/api/v1/datasets/{dataset.id}/records?order_by={order_by}"), 400)
    assert list(body["details"]) == ["order_by"]
    assert order_by.lstrip("-") in body["details"]["order_by"][0]


def test_ordering_by_a_field_only_some_records_have(dev, tenant):
    """Records without the field come first in seq order and fill whole pages: still a field of the dataset."""
    dataset = Dataset.unscoped.create(organization=tenant.org, livemode=False, name="Sparse")
    records = [{"a": i} for i in range(30)] + [{"late": 1}]
    dev.post(f"/api/v1/datasets/{dataset.id}/records", {"records": records}, format="json")
    assert seqs(dev, dataset, order_by="late")[0] == 31
    assert seqs(dev, dataset, order_by="-late", a__lt=5) == [1, 2, 3, 4, 5][::-1]  # none of them has it
    cursor = dev.get(f"/api/v1/datasets/{dataset.id}/records?order_by=late&limit=10").json()["next_cursor"]
    page = dev.get(f"/api/v1/datasets/{dataset.id}/records?order_by=late&limit=10&cursor={cursor}")
    assert [r["seq"] for r in page.json()["data"]] == list(range(10, 20))


def test_a_dataset_without_records_accepts_any_field_to_order_by(dev, tenant):
    dataset = Dataset.unscoped.create(organization=tenant.org, livemode=False, name="Empty")
    assert seqs(dev, dataset, order_by="amount") == []


def test_the_field_check_costs_no_query_when_the_page_shows_the_field(dev, dataset):
    url = f"/api/v1/datasets/{dataset.id}/records"
    dev.get(url)  # warm: the key's first use writes its last-used time
    with CaptureQueriesContext(connection) as by_seq:
        assert dev.get(f"{url}?order_by=seq").status_code == 200
    with CaptureQueriesContext(connection) as by_field:
        assert dev.get(f"{url}?order_by=v").status_code == 200
    assert len(by_field) == len(by_seq)
