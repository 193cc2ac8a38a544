"""What a user of /api/v1/datasets relies on: dataset CRUD; appending records in bounded batches with
contiguous sequence numbers; reading them back filtered by field values (compared as JSON values, the
same on SQLite and PostgreSQL), ordered by seq or by a field, one cursor page at a time, every record
exactly once."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from connectors.models import Dataset, Record
from connectors.serializers import MAX_FIELDS_PER_RECORD, MAX_RECORDS_PER_BATCH
from tests.connectors.helpers import keyed_client
from tests.support.api import error
from tests.support.factories import make_dataset
from tests.support.state import snapshot

URL = "/api/v1/datasets"


def detail(dataset_id):
    return f"{URL}/{dataset_id}"


def records_url(dataset_id):
    return f"{URL}/{dataset_id}/records"


@pytest.fixture
def dataset(tenant):
    return Dataset.unscoped.create(organization=tenant.org, livemode=False, name="Invoices")


def append(client, dataset_id, records):
    return client.post(records_url(dataset_id), {"records": records}, format="json")


def seqs(response):
    assert response.status_code == 200, response.content
    return [r["seq"] for r in response.json()["data"]]


# -- datasets -----------------------------------------------------------------------------------------


def test_dataset_crud(dev):
    created = dev.post(URL, {"name": "Leads", "description": "From the CRM"}, format="json")
    assert created.status_code == 201, created.content
    dataset = created.json()
    assert dataset["id"].startswith("ds_")
    assert dataset["object"] == "dataset"
    assert dataset["record_count"] == 0
    assert dataset["description"] == "From the CRM"
    assert dataset["livemode"] is False

    assert dev.get(detail(dataset["id"])).json() == dataset
    assert [d["id"] for d in dev.get(URL).json()["data"]] == [dataset["id"]]

    updated = dev.patch(detail(dataset["id"]), {"name": "Prospects", "description": ""}, format="json")
    assert updated.status_code == 200, updated.content
    assert (updated.json()["name"], updated.json()["description"]) == ("Prospects", "")

    assert append(dev, dataset["id"], [{"a": 1}, {"a": 2}]).status_code == 201
    assert dev.get(detail(dataset["id"])).json()["record_count"] == 2

    assert dev.delete(detail(dataset["id"])).status_code == 204
    assert not Dataset.unscoped.filter(pk=dataset["id"]).exists()
    assert not Record.unscoped.filter(dataset_id=dataset["id"]).exists()
    assert dev.get(records_url(dataset["id"])).status_code == 404
    actions = list(AuditEvent.unscoped.filter(target_id=dataset["id"]).order_by("created_at", "id")
                   .values_list("action", flat=True))
    assert sorted(actions) == sorted(["dataset.created", "dataset.updated", "dataset.records_appended",
                                      "dataset.deleted"])


@pytest.mark.parametrize("body,field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"name": "x", "description": "d" * 2001}, "description"),
    ({"name": "x", "record_count": 5}, "record_count"),
    ({"name": "x", "livemode": True}, "livemode"),
    ({"name": "x", "rows": []}, "rows"),
])
def test_dataset_validation(dev, body, field):
    assert field in error(dev.post(URL, body, format="json"), 400)["details"]
    assert not Dataset.unscoped.exists()


def test_record_count_cannot_be_patched(dev, dataset):
    before = snapshot(dataset)
    assert "record_count" in error(dev.patch(detail(dataset.id), {"record_count": 99}, format="json"), 400)["details"]
    assert snapshot(dataset) == before


def test_datasets_of_other_tenants_and_modes_are_404(tenant, other_tenant, dev):
    for dataset in (make_dataset(other_tenant), make_dataset(tenant, livemode=True)):
        assert dev.get(detail(dataset.id)).status_code == 404
        assert dev.get(records_url(dataset.id)).status_code == 404
        before = Record.unscoped.filter(dataset=dataset).count()
        assert append(dev, dataset.id, [{"a": 1}]).status_code == 404
        assert Record.unscoped.filter(dataset=dataset).count() == before
    assert dev.get(URL).json()["data"] == []


# -- appending records ----------------------------------------------------------------------------------


def test_append_returns_what_was_appended(dev, dataset):
    response = append(dev, dataset.id, [{"a": 1}, {"b": "two"}, {}])
    assert response.status_code == 201, response.content
    assert response.json() == {"object": "record_batch", "dataset": dataset.id, "appended": 3, "first_seq": 1,
                               "record_count": 3}

    response = append(dev, dataset.id, [{"c": [1, {"d": None}]}])
    assert response.json() == {"object": "record_batch", "dataset": dataset.id, "appended": 1, "first_seq": 4,
                               "record_count": 4}
    page = dev.get(records_url(dataset.id)).json()
    assert [(r["object"], r["seq"], r["data"]) for r in page["data"]] == [
        ("record", 1, {"a": 1}), ("record", 2, {"b": "two"}), ("record", 3, {}), ("record", 4, {"c": [1, {"d": None}]}),
    ]
    assert all(r["created_at"] for r in page["data"])


def test_seq_numbers_are_contiguous_across_batches_and_per_dataset(tenant, dev, dataset):
    other = Dataset.unscoped.create(organization=tenant.org, livemode=False, name="Other")
    expected_first = 1
    for size in (1, 7, 3, 25):
        response = append(dev, dataset.id, [{"i": i} for i in range(size)])
        assert response.json()["first_seq"] == expected_first
        expected_first += size
        assert append(dev, other.id, [{"x": 1}]).status_code == 201
    stored = list(Record.unscoped.filter(dataset=dataset).order_by("seq").values_list("seq", flat=True))
    assert stored == list(range(1, expected_first))
    assert Dataset.unscoped.get(pk=dataset.id).record_count == expected_first - 1
    assert list(Record.unscoped.filter(dataset=other).order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4]
    record = Record.unscoped.filter(dataset=dataset).first()
    assert (record.organization_id, record.livemode) == (tenant.org.id, False)


def test_live_records_are_live(tenant):
    live = keyed_client(tenant, "developer", livemode=True)
    dataset_id = live.post(URL, {"name": "Live"}, format="json").json()["id"]
    assert append(live, dataset_id, [{"a": 1}]).status_code == 201
    assert Record.unscoped.get(dataset_id=dataset_id).livemode is True


def test_batch_of_the_maximum_size_is_accepted(dev, dataset):
    response = append(dev, dataset.id, [{"i": i} for i in range(MAX_RECORDS_PER_BATCH)])
    assert response.status_code == 201, response.content
    assert response.json()["appended"] == MAX_RECORDS_PER_BATCH
    assert Record.unscoped.filter(dataset=dataset).count() == MAX_RECORDS_PER_BATCH


def test_record_with_the_maximum_number_of_fields_is_accepted(dev, dataset):
    record = {f"f{i}": i for i in range(MAX_FIELDS_PER_RECORD)}
    assert append(dev, dataset.id, [record]).status_code == 201


@pytest.mark.parametrize("body", [
    {"records": []},
    {"records": [{"i": i} for i in range(MAX_RECORDS_PER_BATCH + 1)]},
    {"records": [{"a": 1}, 1]},
    {"records": [{"a": 1}, "a"]},
    {"records": [{"a": 1}, None]},
    {"records": [{"a": 1}, [{"a": 1}]]},
    {"records": [{f"f{i}": i for i in range(MAX_FIELDS_PER_RECORD + 1)}]},
    {"records": [{"a" * 129: 1}]},
    {"records": {"a": 1}},
    {"records": "a"},
    {"records": None},
    {},
    {"records": [{"a": 1}], "mode": "replace"},
], ids=["empty", "too many", "number", "string", "null", "array", "too many fields", "long field name",
        "not a list", "string batch", "null batch", "missing", "unknown member"])
def test_invalid_batches_are_400_and_append_nothing(dev, dataset, body):
    append(dev, dataset.id, [{"a": 0}])
    body = error(dev.post(records_url(dataset.id), body, format="json"), 400)
    assert body["code"] == "parameter_invalid"
    assert Record.unscoped.filter(dataset=dataset).count() == 1
    assert Dataset.unscoped.get(pk=dataset.id).record_count == 1
    assert AuditEvent.unscoped.filter(action="dataset.records_appended").count() == 1


@pytest.mark.parametrize("record", [{"a": "x\u0000"}, {"x\u0000": 1}, {"a": "\ud800"}, {"a": [["\u0000"]]}],
                         ids=["nul value", "nul key", "lone surrogate", "nested nul"])
def test_strings_no_database_can_store_are_refused(dev, dataset, record):
    response = dev.post(records_url(dataset.id), json.dumps({"records": [{"ok": 1}, record]}),
                        content_type="application/json")
    error(response, 400)
    assert not Record.unscoped.filter(dataset=dataset).exists()


def test_append_is_audited_once(dev, dataset):
    response = append(dev, dataset.id, [{"a": 1}, {"a": 2}])
    events = list(AuditEvent.unscoped.filter(action="dataset.records_appended"))
    assert len(events) == 1
    assert events[0].target_id == dataset.id
    assert events[0].metadata == {"count": 2, "first_seq": 1}
    assert events[0].request_id == response["X-Request-ID"]
    assert events[0].credential_id == dev.api_key.id


# -- reading records: filters -----------------------------------------------------------------------------

ROWS = [
    {"name": "alpha", "amount": 10, "paid": True, "note": None, "contains": "x", "exact": 1, "has_key": "k"},  # 1
    {"name": "beta", "amount": 2.5, "paid": False, "note": "n"},  # 2
    {"name": "gamma", "amount": "10", "paid": 1},  # 3
    {"name": "delta", "amount": 1, "paid": 0, "note": None, "contains": "y"},  # 4
    {"name": "10", "amount": True, "exact": "1", "tags": ["a"]},  # 5
    {"amount": None, "paid": None, "tags": {"a": 1}},  # 6
    {"name": "epsilon", "amount": 10.0, "contains": ["x"]},  # 7
    {"other": 1},  # 8
]


@pytest.fixture
def rows(dev, dataset):
    assert append(dev, dataset.id, ROWS).status_code == 201
    return dataset


@pytest.mark.parametrize("query,expected", [
    ("", [1, 2, 3, 4, 5, 6, 7, 8]),
    # Strings, numbers, booleans and null, each equal only to itself.
    ("name=alpha", [1]),
    ("name=10", []),  # the number 10
    ('name="10"', [5]),  # the string "10"
    ("amount=10", [1, 7]),  # 10 and 10.0, not "10", not true
    ("amount=10.0", [1, 7]),
    ('amount="10"', [3]),
    ("amount=1", [4]),  # not true
    ("amount=true", [5]),
    ("paid=true", [1]),  # not 1
    ("paid=1", [3]),
    ("paid=false", [2]),  # not 0
    ("paid=0", [4]),
    ("note=null", [1, 4]),  # a null value, not a missing one
    ("amount=null", [6]),
    ('name="alpha"', [1]),
    ("name=Alpha", []),
    # Operators.
    ("name__ne=alpha", [2, 3, 4, 5, 7]),  # records without the field match no comparison
    ("amount__ne=10", [2, 3, 4, 5, 6]),
    ("paid__ne=true", [2, 3, 4, 6]),
    ("note__ne=null", [2]),
    ("amount__gt=2.5", [1, 7]),  # numbers only: not "10", not true
    ("amount__gte=2.5", [1, 2, 7]),
    ("amount__lt=10", [2, 4]),  # not true, not null
    ("amount__lte=10", [1, 2, 4, 7]),
    ("amount__gt=-9223372036854775808", [1, 2, 4, 7]),  # the widest bounds: 64 bits
    ("amount__lt=9223372036854775807", [1, 2, 4, 7]),
    ("paid__gte=0", [3, 4]),  # not false, not true
    ("name__gt=delta", [3, 7]),  # strings only
    ("name__lt=b", [1, 5]),
    ('amount__gte="1"', [3]),
    ('amount__gte="10"', [3]),
    ("name__gt=B", [1, 2, 3, 4, 7]),  # code point order: "B" < "a"
    ("name__in=alpha,beta,zeta", [1, 2]),
    ("amount__in=10,true", [1, 5, 7]),
    ('amount__in="10",null', [3, 6]),
    ("paid__in=1,false", [2, 3]),
    ("note__in=null", [1, 4]),
    ("amount__in=2.5", [2]),
    # Field names that are also Django lookups are plain keys.
    ("contains=x", [1]),
    ("contains__ne=x", [4, 7]),
    ("contains__in=x,y", [1, 4]),
    ("exact=1", [1]),
    ('exact="1"', [5]),
    ("has_key=k", [1]),
    ("contained_by=1", []),
    ("isnull=true", []),
    ("in=1", []),
    ("gt=1", []),
    # Several filters: all must hold.
    ("amount__gte=1&amount__lte=10&paid=false", [2]),
    ("name__ne=alpha&note=null", [4]),
    # Values that look special are plain strings.
    ("name=NaN", []),
    ("name=Infinity", []),
    ("name=%5B1", []),
])
def test_filters(dev, rows, query, expected):
    assert seqs(dev.get(f"{records_url(rows.id)}?{query}&limit=100")) == expected


@pytest.mark.parametrize("query,param", [
    ("amount__gt=null", "amount__gt"),
    ("amount__gt=true", "amount__gt"),
    ("amount__lte=false", "amount__lte"),
    ("amount__gt=%5B1%5D", "amount__gt"),
    ("amount__in=%5B1%5D,2", "amount__in"),
    ("amount=%5B1%5D", "amount"),
    ("amount=%7B%22a%22%3A1%7D", "amount"),
    ("amount__ne=%5B%5D", "amount__ne"),
    ("amount=1e999", "amount"),
    ("amount__gt=-1e999", "amount__gt"),
    ("amount__in=1,1e999", "amount__in"),
    ("amount__gt=1" + "0" * 400, "amount__gt"),  # an integer beyond a double
    ("amount__lte=-1" + "0" * 400, "amount__lte"),
    ("amount__gt=-1000000000000000000000000", "amount__gt"),  # beyond 64 bits: the databases differ
    ("amount__lt=100000000000000000000000000000", "amount__lt"),
    ("amount__lt=1e30", "amount__lt"),
    ("name=a%00", "name"),
    ("name__in=a,b%00", "name__in"),
    ("name__like=a", "name__like"),
    ("name__contains=a", "name__contains"),
    ("name__gt__lt=a", "name__gt__lt"),
    ("a-b=1", "a-b"),
    ("1a=1", "1a"),
    ("a.b=1", "a.b"),
    ("=1", ""),
    ("__gt=1", "__gt"),
    ("a" * 65 + "=1", "a" * 65),
])
def test_invalid_filters_are_400_naming_the_parameter(dev, rows, query, param):
    body = error(dev.get(f"{records_url(rows.id)}?{query}"), 400)
    assert list(body["details"]) == [param], body


def test_too_many_filters(dev, rows):
    query = "&".join(f"f{i}=1" for i in range(11))
    error(dev.get(f"{records_url(rows.id)}?{query}"), 400)
    query = "&".join(f"f{i}__ne=1" for i in range(10))
    assert seqs(dev.get(f"{records_url(rows.id)}?{query}")) == []


def test_filter_results_are_the_same_through_steps(dev, rows):
    """A record filter in the API and a filter step agree on what matches."""
    from connectors.steps import StepListField, apply_steps

    cases = [("amount", "eq", 10), ("amount", "ne", 10), ("paid", "eq", True), ("paid", "eq", 1),
             ("amount", "gt", 2.5), ("amount", "lte", 10), ("name", "gt", "delta"), ("note", "eq", None),
             ("amount", "in", [10, True]), ("note", "ne", None)]
    for field, op, value in cases:
        if op == "in":
            query = f"{field}__in=" + ",".join(json.dumps(v) for v in value)
        else:
            query = f"{field}{'' if op == 'eq' else '__' + op}={json.dumps(value)}"
        via_api = seqs(dev.get(f"{records_url(rows.id)}?{query}&limit=100"))
        steps = StepListField().run_validation([{"type": "filter", "field": field, "op": op, "value": value}])
        via_steps = [i + 1 for i, row in enumerate(ROWS) if list(apply_steps(steps, [row]))]
        assert via_api == via_steps, (query, via_api, via_steps)


# -- reading records: ordering ---------------------------------------------------------------------------

ORDERINGS = {
    "seq": [1, 2, 3, 4, 5, 6, 7, 8],
    "-seq": [8, 7, 6, 5, 4, 3, 2, 1],
    # Numbers, then strings, then false, true, then arrays, objects; null and missing last; ties by seq.
    "amount": [4, 2, 1, 7, 3, 5, 6, 8],
    # The reverse, except that records without a value stay last; ties by seq, descending.
    "-amount": [5, 3, 7, 1, 2, 4, 8, 6],
    "name": [5, 1, 2, 4, 7, 3, 6, 8],
    "-name": [3, 7, 4, 2, 1, 5, 8, 6],
    "paid": [4, 3, 2, 1, 5, 6, 7, 8],
    "-paid": [1, 2, 3, 4, 8, 7, 6, 5],
    "contains": [1, 4, 7, 2, 3, 5, 6, 8],
    "-contains": [7, 4, 1, 8, 6, 5, 3, 2],
    "tags": [5, 6, 1, 2, 3, 4, 7, 8],
    "-tags": [6, 5, 8, 7, 4, 3, 2, 1],
}


@pytest.mark.parametrize("order_by", sorted(ORDERINGS))
def test_ordering(dev, rows, order_by):
    assert seqs(dev.get(f"{records_url(rows.id)}?order_by={order_by}&limit=100")) == ORDERINGS[order_by]


def test_default_ordering_is_seq(dev, rows):
    assert seqs(dev.get(records_url(rows.id))) == ORDERINGS["seq"]


def test_ordering_with_filters(dev, rows):
    assert seqs(dev.get(f"{records_url(rows.id)}?order_by=-amount&amount__lte=10")) == [7, 1, 2, 4]
    assert seqs(dev.get(f"{records_url(rows.id)}?order_by=name&name__ne=alpha&limit=3")) == [5, 2, 4]


def test_string_ordering_is_by_code_point(dev, dataset):
    append(dev, dataset.id, [{"s": s} for s in ["b", "B", "a", "A", "é", "e", "Z", "_", "10", "9"]])
    ordered = [r["data"]["s"] for r in dev.get(f"{records_url(dataset.id)}?order_by=s").json()["data"]]
    assert ordered == sorted(["b", "B", "a", "A", "é", "e", "Z", "_", "10", "9"])
    assert seqs(dev.get(f"{records_url(dataset.id)}?s__gt=Z&order_by=s")) == [8, 3, 1, 6, 5]  # _ a b e é


def test_numbers_order_numerically(dev, dataset):
    values = [10, 9, -1, 2.5, 100, 0, 1e20, -3.75, 10**19]
    append(dev, dataset.id, [{"n": v} for v in values])
    ordered = [r["data"]["n"] for r in dev.get(f"{records_url(dataset.id)}?order_by=n").json()["data"]]
    assert ordered == sorted(values)
    ordered = [r["data"]["n"] for r in dev.get(f"{records_url(dataset.id)}?order_by=-n").json()["data"]]
    assert ordered == sorted(values, reverse=True)


@pytest.mark.parametrize("order_by", ["--amount", "-", "", "a-b", "amount,name", "seq__x", "a" * 65, "-+seq"])
def test_invalid_orderings_are_400(dev, rows, order_by):
    body = error(dev.get(f"{records_url(rows.id)}?order_by={order_by}"), 400)
    assert list(body["details"]) == ["order_by"]


# -- reading records: cursor pages --------------------------------------------------------------------------


def walk(client, url, limit):
    seen, cursor, pages = [], None, 0
    while True:
        page_url = f"{url}{'&' if '?' in url else '?'}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(page_url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["object"] == "list"
        assert len(body["data"]) <= limit
        seen.extend(r["seq"] for r in body["data"])
        pages += 1
        assert pages < 100
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return seen
        assert len(body["data"]) == limit
        cursor = body["next_cursor"]
        assert cursor


@pytest.mark.parametrize("order_by", sorted(ORDERINGS))
@pytest.mark.parametrize("limit", [1, 3, 8, 100])
def test_pages_walk_every_record_exactly_once(dev, rows, order_by, limit):
    seen = walk(dev, f"{records_url(rows.id)}?order_by={order_by}", limit)
    assert seen == ORDERINGS[order_by]
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize("order_by", ["seq", "-seq", "amount", "-amount", "name"])
def test_pages_with_a_filter(dev, rows, order_by):
    seen = walk(dev, f"{records_url(rows.id)}?order_by={order_by}&amount__lte=10", 2)
    full = seqs(dev.get(f"{records_url(rows.id)}?order_by={order_by}&amount__lte=10&limit=100"))
    assert seen == full and sorted(seen) == [1, 2, 4, 7]


def test_pages_with_many_ties(dev, dataset):
    append(dev, dataset.id, [{"k": i % 3} if i % 4 else {} for i in range(60)])
    for order_by in ("k", "-k", "seq", "-seq"):
        seen = walk(dev, f"{records_url(dataset.id)}?order_by={order_by}", 7)
        assert sorted(seen) == list(range(1, 61)), order_by
        assert len(set(seen)) == 60


def test_records_appended_while_paging_by_seq_are_neither_repeated_nor_skipped(dev, dataset):
    append(dev, dataset.id, [{"i": i} for i in range(5)])
    first = dev.get(f"{records_url(dataset.id)}?limit=3").json()
    append(dev, dataset.id, [{"i": i} for i in range(5, 7)])
    rest = walk(dev, f"{records_url(dataset.id)}?cursor={first['next_cursor']}", 3)
    assert [r["seq"] for r in first["data"]] + rest == list(range(1, 8))

    first = dev.get(f"{records_url(dataset.id)}?limit=3&order_by=-seq").json()
    append(dev, dataset.id, [{"i": 7}])
    rest = walk(dev, f"{records_url(dataset.id)}?order_by=-seq&cursor={first['next_cursor']}", 3)
    assert [r["seq"] for r in first["data"]] + rest == [7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize("first,second", [
    ("seq", "-seq"), ("-seq", "seq"), ("seq", "amount"), ("amount", "seq"), ("amount", "-amount"),
    ("-amount", "amount"), ("amount", "name"), ("-seq", "-name"),
])
def test_a_cursor_only_works_with_its_own_ordering(dev, rows, first, second):
    cursor = dev.get(f"{records_url(rows.id)}?order_by={first}&limit=2").json()["next_cursor"]
    assert cursor
    assert seqs(dev.get(f"{records_url(rows.id)}?order_by={first}&limit=2&cursor={cursor}")) == \
        ORDERINGS[first][2:4]
    body = error(dev.get(f"{records_url(rows.id)}?order_by={second}&cursor={cursor}"), 400)
    assert list(body["details"]) == ["cursor"]


@pytest.mark.parametrize("cursor", ["garbage", "e30", "W10", "WyJ4Il0", "eyJvcmRlcl9ieSI6InNlcSJ9", "bnVsbA",
                                    "eyJvcmRlcl9ieSI6ImFtb3VudCIsIm9mZnNldCI6LTF9", "MQ"])
@pytest.mark.parametrize("order_by", ["seq", "-seq", "amount"])
def test_bad_cursors_are_400(dev, rows, cursor, order_by):
    body = error(dev.get(f"{records_url(rows.id)}?order_by={order_by}&cursor={cursor}"), 400)
    assert list(body["details"]) == ["cursor"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "a", "1.5", ""])
def test_bad_limits_are_400(dev, rows, limit):
    body = error(dev.get(f"{records_url(rows.id)}?limit={limit}"), 400)
    assert list(body["details"]) == ["limit"]


def test_default_page_size_is_ten(dev, dataset):
    append(dev, dataset.id, [{"i": i} for i in range(15)])
    body = dev.get(records_url(dataset.id)).json()
    assert len(body["data"]) == 10 and body["has_more"] is True
    body = dev.get(f"{records_url(dataset.id)}?order_by=i").json()
    assert len(body["data"]) == 10 and body["has_more"] is True


# -- cost of a page ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("order_by", ["seq", "-seq", "n", "-n"])
def test_a_page_costs_the_same_number_of_queries_whatever_its_size(dev, dataset, order_by,
                                                                   django_assert_max_num_queries):
    append(dev, dataset.id, [{"n": i % 7, "s": str(i), "nested": {"a": [i]}} for i in range(120)])
    dev.get(records_url(dataset.id))  # the key's last use is written at most once a minute; not counted below

    counts = {}
    for limit in (1, 10, 100):
        with CaptureQueriesContext(connection) as queries:
            response = dev.get(f"{records_url(dataset.id)}?order_by={order_by}&limit={limit}&n__gte=0")
            assert len(response.json()["data"]) == limit
        counts[limit] = len(queries)
    assert len(set(counts.values())) == 1, counts

    with django_assert_max_num_queries(3):  # the key, the dataset, the records
        cursor = dev.get(f"{records_url(dataset.id)}?order_by={order_by}&limit=100").json()["next_cursor"]
    with django_assert_max_num_queries(3):
        dev.get(f"{records_url(dataset.id)}?order_by={order_by}&limit=100&cursor={cursor}")
