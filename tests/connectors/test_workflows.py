"""What a user of /api/v1/workflows relies on: a workflow names a connector of its own organization and
mode (any other id is simply "No such connector."), its steps are validated one by one and kept in
order; and what connectors.steps.apply_steps does with each step, whatever the types of the values."""

import itertools

import pytest

from audit.models import AuditEvent
from connectors.models import Workflow
from connectors.steps import MAX_FIELDS_PER_STEP, MAX_STEPS, StepListField, apply_steps
from tests.connectors.helpers import keyed_client
from tests.support.api import error
from tests.support.factories import make_connector, make_workflow
from tests.support.state import snapshot

URL = "/api/v1/workflows"

ALL_KINDS = [
    {"type": "filter", "field": "status", "op": "in", "value": ["paid", "open"]},
    {"type": "rename", "fields": {"email": "contact"}},
    {"type": "mask", "fields": ["contact"]},
    {"type": "select", "fields": ["id", "contact"]},
]
# As stored and returned: defaults filled in.
ALL_KINDS_NORMALIZED = [
    {"type": "filter", "field": "status", "op": "in", "value": ["paid", "open"]},
    {"type": "rename", "fields": {"email": "contact"}},
    {"type": "mask", "fields": ["contact"], "keep_last": 0},
    {"type": "select", "fields": ["id", "contact"]},
]


def detail(workflow_id):
    return f"{URL}/{workflow_id}"


# -- create, read, update, delete ----------------------------------------------------------------------


def test_crud(tenant, dev):
    connector = make_connector(tenant)
    created = dev.post(URL, {"name": "Sync", "connector": connector.id, "steps": ALL_KINDS}, format="json")
    assert created.status_code == 201, created.content
    workflow = created.json()
    assert workflow["id"].startswith("wf_")
    assert workflow["object"] == "workflow"
    assert workflow["connector"] == connector.id
    assert workflow["steps"] == ALL_KINDS_NORMALIZED
    assert workflow["livemode"] is False

    assert dev.get(detail(workflow["id"])).json() == workflow
    assert [w["id"] for w in dev.get(URL).json()["data"]] == [workflow["id"]]

    updated = dev.patch(detail(workflow["id"]), {"name": "Nightly"}, format="json")
    assert updated.status_code == 200
    assert updated.json()["steps"] == ALL_KINDS_NORMALIZED  # untouched by a PATCH that does not name them

    assert dev.delete(detail(workflow["id"])).status_code == 204
    assert not Workflow.unscoped.filter(pk=workflow["id"]).exists()
    assert AuditEvent.unscoped.filter(target_id=workflow["id"]).count() == 3


def test_steps_default_to_empty(tenant, dev):
    response = dev.post(URL, {"name": "Noop", "connector": make_connector(tenant).id}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["steps"] == []


def test_defaults_are_filled_in(tenant, dev):
    steps = [{"type": "filter", "field": "a", "value": 1}, {"type": "mask", "fields": ["b"]}]
    response = dev.post(URL, {"name": "D", "connector": make_connector(tenant).id, "steps": steps}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["steps"] == [{"type": "filter", "field": "a", "op": "eq", "value": 1},
                                        {"type": "mask", "fields": ["b"], "keep_last": 0}]


def test_order_of_steps_is_preserved(tenant, dev):
    connector = make_connector(tenant)
    steps = [{"type": "select", "fields": [f"f{i}"]} for i in range(MAX_STEPS)]
    created = dev.post(URL, {"name": "Many", "connector": connector.id, "steps": steps}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["steps"] == steps
    assert Workflow.unscoped.get(pk=created.json()["id"]).steps == steps

    reordered = list(reversed(ALL_KINDS))
    response = dev.patch(detail(created.json()["id"]), {"steps": reordered}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["steps"] == list(reversed(ALL_KINDS_NORMALIZED))
    assert dev.get(detail(created.json()["id"])).json()["steps"] == list(reversed(ALL_KINDS_NORMALIZED))


# -- the connector: same organization, same mode ----------------------------------------------------


def _refusal(response):
    body = error(response, 400)
    assert body["details"] == {"connector": ["No such connector."]}, body
    return {k: v for k, v in body.items() if k != "request_id"}


def test_connector_of_another_organization_or_mode_is_no_such_connector(tenant, other_tenant, dev):
    other_org = make_connector(other_tenant)
    other_org_live = make_connector(other_tenant, livemode=True)
    other_mode = make_connector(tenant, livemode=True)
    refusals = []
    for connector_id in (other_org.id, other_org_live.id, other_mode.id, "conn_doesnotexist", "x" * 300):
        response = dev.post(URL, {"name": "X", "connector": connector_id, "steps": []}, format="json")
        refusals.append(_refusal(response))
    # The same answer whichever the reason: nothing tells whether the id exists elsewhere.
    assert all(r == refusals[0] for r in refusals)
    assert not Workflow.unscoped.exists()


def test_live_key_cannot_use_test_connector(tenant):
    live = keyed_client(tenant, "developer", livemode=True)
    test_connector = make_connector(tenant, livemode=False)
    _refusal(live.post(URL, {"name": "X", "connector": test_connector.id}, format="json"))
    live_connector = make_connector(tenant, livemode=True)
    response = live.post(URL, {"name": "X", "connector": live_connector.id}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["livemode"] is True


def test_patch_to_a_foreign_connector_is_refused_and_changes_nothing(tenant, other_tenant, dev):
    workflow = make_workflow(tenant)
    before = snapshot(workflow)
    for connector in (make_connector(other_tenant), make_connector(tenant, livemode=True)):
        _refusal(dev.patch(detail(workflow.id), {"connector": connector.id}, format="json"))
    assert snapshot(workflow) == before
    mine = make_connector(tenant)
    response = dev.patch(detail(workflow.id), {"connector": mine.id}, format="json")
    assert response.status_code == 200 and response.json()["connector"] == mine.id


@pytest.mark.parametrize("value", [None, 3, ["conn_x"], {"id": "conn_x"}])
def test_connector_must_be_an_id_string(tenant, dev, value):
    body = error(dev.post(URL, {"name": "X", "connector": value}, format="json"), 400)
    assert "connector" in body["details"]


def test_connector_is_required(dev):
    assert "connector" in error(dev.post(URL, {"name": "X"}, format="json"), 400)["details"]


def test_workflows_of_other_tenants_are_404(tenant, other_tenant, dev):
    theirs = make_workflow(other_tenant)
    other_mode = make_workflow(tenant, livemode=True)
    for workflow in (theirs, other_mode):
        assert dev.get(detail(workflow.id)).status_code == 404
        assert dev.patch(detail(workflow.id), {"name": "x"}, format="json").status_code == 404
        assert dev.delete(detail(workflow.id)).status_code == 404
    assert dev.get(URL).json()["data"] == []


# -- step validation ----------------------------------------------------------------------------------

SELECT = {"type": "select", "fields": ["a"]}

INVALID_STEPS = {
    "unknown type": ([{"type": "sort", "fields": ["a"]}], {"0": ["type"]}),
    "no type": ([{"fields": ["a"]}], {"0": ["type"]}),
    "type not a string": ([{"type": ["select"], "fields": ["a"]}], {"0": ["type"]}),
    "type an object": ([{"type": {"select": 1}, "fields": ["a"]}], {"0": ["type"]}),
    "type null": ([{"type": None}], {"0": ["type"]}),
    "step not an object": ([SELECT, "select"], {"1": None}),
    "select without fields": ([{"type": "select"}], {"0": ["fields"]}),
    "select empty fields": ([{"type": "select", "fields": []}], {"0": ["fields"]}),
    "select fields not a list": ([{"type": "select", "fields": "a"}], {"0": ["fields"]}),
    "select field too long": ([{"type": "select", "fields": ["a" * 129]}], {"0": ["fields"]}),
    "select too many fields": ([{"type": "select", "fields": [f"f{i}" for i in range(MAX_FIELDS_PER_STEP + 1)]}],
                               {"0": ["fields"]}),
    "unknown member": ([{"type": "select", "fields": ["a"], "where": "x"}], {"0": ["where"]}),
    "filter without field": ([{"type": "filter", "value": 1}], {"0": ["field"]}),
    "filter without value": ([{"type": "filter", "field": "a"}], {"0": ["value"]}),
    "filter bad operator": ([{"type": "filter", "field": "a", "op": "like", "value": "x"}], {"0": ["op"]}),
    "filter in needs a list": ([{"type": "filter", "field": "a", "op": "in", "value": "x"}], {"0": ["value"]}),
    "filter in with an object": ([{"type": "filter", "field": "a", "op": "in", "value": {"x": 1}}], {"0": ["value"]}),
    "filter gt with null": ([{"type": "filter", "field": "a", "op": "gt", "value": None}], {"0": ["value"]}),
    "filter lt with a boolean": ([{"type": "filter", "field": "a", "op": "lt", "value": True}], {"0": ["value"]}),
    "filter gte with a list": ([{"type": "filter", "field": "a", "op": "gte", "value": [1]}], {"0": ["value"]}),
    "rename without fields": ([{"type": "rename"}], {"0": ["fields"]}),
    "rename empty": ([{"type": "rename", "fields": {}}], {"0": ["fields"]}),
    "rename not a mapping": ([{"type": "rename", "fields": ["a", "b"]}], {"0": ["fields"]}),
    "rename to a long name": ([{"type": "rename", "fields": {"a": "b" * 129}}], {"0": ["fields"]}),
    "rename from a long name": ([{"type": "rename", "fields": {"a" * 129: "b"}}], {"0": ["fields"]}),
    "rename from an empty name": ([{"type": "rename", "fields": {"": "b"}}], {"0": ["fields"]}),
    "rename two to one": ([{"type": "rename", "fields": {"a": "c", "b": "c"}}], {"0": ["fields"]}),
    "rename too many": ([{"type": "rename", "fields": {f"f{i}": f"g{i}" for i in range(MAX_FIELDS_PER_STEP + 1)}}],
                        {"0": ["fields"]}),
    "mask without fields": ([{"type": "mask"}], {"0": ["fields"]}),
    "mask keep_last too big": ([{"type": "mask", "fields": ["a"], "keep_last": 9}], {"0": ["keep_last"]}),
    "mask keep_last negative": ([{"type": "mask", "fields": ["a"], "keep_last": -1}], {"0": ["keep_last"]}),
    "errors name their position": ([SELECT, SELECT, {"type": "select"}, SELECT, {"type": "nope"}],
                                   {"2": ["fields"], "4": ["type"]}),
}


@pytest.mark.parametrize("name", sorted(INVALID_STEPS))
def test_invalid_steps_are_400_naming_the_step_and_field(tenant, dev, name):
    steps, expected = INVALID_STEPS[name]
    connector = make_connector(tenant)
    body = error(dev.post(URL, {"name": "X", "connector": connector.id, "steps": steps}, format="json"), 400)
    assert list(body["details"]) == ["steps"], body
    errors = body["details"]["steps"]
    assert sorted(errors) == sorted(expected), errors
    for index, fields in expected.items():
        if fields is not None:
            assert sorted(errors[index]) == sorted(fields), errors
    assert not Workflow.unscoped.exists()

    workflow = make_workflow(tenant)
    before = snapshot(workflow)
    body = error(dev.patch(detail(workflow.id), {"steps": steps}, format="json"), 400)
    assert list(body["details"]) == ["steps"]
    assert snapshot(workflow) == before


@pytest.mark.parametrize("steps", [None, "select", {"type": "select", "fields": ["a"]}, 3,
                                   [SELECT] * (MAX_STEPS + 1)],
                         ids=["null", "string", "object", "number", "too many"])
def test_steps_must_be_a_bounded_list(tenant, dev, steps):
    body = error(dev.post(URL, {"name": "X", "connector": make_connector(tenant).id, "steps": steps},
                          format="json"), 400)
    assert list(body["details"]) == ["steps"]


def test_too_many_invalid_steps_is_one_short_error(tenant, dev):
    steps = [{"type": "nope"}] * (MAX_STEPS * 20)
    body = error(dev.post(URL, {"name": "X", "connector": make_connector(tenant).id, "steps": steps},
                          format="json"), 400)
    assert len(str(body["details"])) < 500  # one message about the length, not a thousand about the items


@pytest.mark.parametrize("value", [None, 0, "", False, {"k": [1, None]}, [1, "a", None]])
def test_filter_values_of_any_json_type_are_accepted_for_equality(tenant, dev, value):
    step = {"type": "filter", "field": "a", "op": "eq", "value": value}
    response = dev.post(URL, {"name": "X", "connector": make_connector(tenant).id, "steps": [step]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["steps"] == [step]


def test_exists_needs_no_value(tenant, dev):
    step = {"type": "filter", "field": "a", "op": "exists"}
    response = dev.post(URL, {"name": "X", "connector": make_connector(tenant).id, "steps": [step]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["steps"] == [step]


# -- apply_steps: one step type at a time ----------------------------------------------------------------

RECORDS = [
    {"id": 1, "status": "paid", "amount": 10, "email": "ann@example.com", "tags": ["a", "b"]},
    {"id": 2, "status": "open", "amount": 2.5, "email": None},
    {"id": 3, "status": "void", "amount": "10"},
    {"id": 4, "amount": True, "email": "bo@example.com"},
]


def validated(steps):
    return StepListField().run_validation(steps)


def run(steps, records=RECORDS):
    return list(apply_steps(validated(steps), records))


def ids(steps, records=RECORDS):
    return [r["id"] for r in run(steps, records)]


def test_no_steps_returns_copies():
    result = run([])
    assert result == RECORDS
    result[0]["id"] = 99
    assert RECORDS[0]["id"] == 1


def test_select_keeps_only_the_listed_fields_in_their_order():
    assert run([{"type": "select", "fields": ["email", "id", "missing"]}]) == [
        {"email": "ann@example.com", "id": 1}, {"email": None, "id": 2}, {"id": 3}, {"email": "bo@example.com", "id": 4},
    ]
    assert list(run([{"type": "select", "fields": ["email", "id"]}])[0]) == ["email", "id"]


@pytest.mark.parametrize("step,expected", [
    ({"op": "eq", "field": "status", "value": "paid"}, [1]),
    ({"op": "ne", "field": "status", "value": "paid"}, [2, 3]),  # a record without the field never matches
    ({"op": "eq", "field": "amount", "value": 10}, [1]),  # not "10", not true
    ({"op": "eq", "field": "amount", "value": 10.0}, [1]),
    ({"op": "eq", "field": "amount", "value": "10"}, [3]),
    ({"op": "eq", "field": "amount", "value": True}, [4]),
    ({"op": "eq", "field": "email", "value": None}, [2]),
    ({"op": "ne", "field": "email", "value": None}, [1, 4]),
    ({"op": "gt", "field": "amount", "value": 2.5}, [1]),
    ({"op": "gte", "field": "amount", "value": 2.5}, [1, 2]),
    ({"op": "lt", "field": "amount", "value": 10}, [2]),
    ({"op": "lte", "field": "amount", "value": 10}, [1, 2]),
    ({"op": "gt", "field": "status", "value": "open"}, [1, 3]),
    ({"op": "lt", "field": "status", "value": "paid"}, [2]),
    ({"op": "in", "field": "status", "value": ["paid", "void", "x"]}, [1, 3]),
    ({"op": "in", "field": "amount", "value": [10, True]}, [1, 4]),
    ({"op": "in", "field": "email", "value": [None]}, [2]),
    ({"op": "in", "field": "amount", "value": []}, []),
    ({"op": "contains", "field": "email", "value": "@example"}, [1, 4]),
    ({"op": "contains", "field": "tags", "value": "b"}, [1]),
    ({"op": "contains", "field": "status", "value": "ai"}, [1]),
    ({"op": "exists", "field": "email"}, [1, 2, 4]),
    ({"op": "exists", "field": "status"}, [1, 2, 3]),
    ({"op": "eq", "field": "nothing", "value": None}, []),
])
def test_filter(step, expected):
    assert ids([{"type": "filter", **step}]) == expected


def test_rename():
    assert run([{"type": "rename", "fields": {"email": "contact", "missing": "x"}}])[0] == {
        "id": 1, "status": "paid", "amount": 10, "contact": "ann@example.com", "tags": ["a", "b"]}


def test_rename_swaps_and_overwrites():
    records = [{"a": 1, "b": 2, "c": 3}]
    assert run([{"type": "rename", "fields": {"a": "b", "b": "a"}}], records) == [{"b": 1, "a": 2, "c": 3}]
    # The renamed field wins over a field that already has the new name, wherever it stands.
    assert run([{"type": "rename", "fields": {"a": "c"}}], records) == [{"c": 1, "b": 2}]
    assert run([{"type": "rename", "fields": {"c": "a"}}], records) == [{"b": 2, "a": 3}]


@pytest.mark.parametrize("value,keep_last,expected", [
    ("ann@example.com", 0, "*" * 15),
    ("4111111111111111", 4, "*" * 12 + "1111"),
    ("abcd", 4, "****"),  # never the whole value
    ("abc", 4, "***"),
    ("", 2, ""),
    (4111111111111111, 4, "*" * 12 + "1111"),
    (2.5, 1, "**5"),
    (True, 0, "****"),
    ({"k": "secret"}, 0, "*" * len('{"k": "secret"}')),
])
def test_mask(value, keep_last, expected):
    assert run([{"type": "mask", "fields": ["v"], "keep_last": keep_last}], [{"v": value, "w": "x"}]) == [
        {"v": expected, "w": "x"}]


def test_mask_leaves_null_and_missing_fields_alone():
    assert run([{"type": "mask", "fields": ["v", "missing"]}], [{"v": None}]) == [{"v": None}]


def test_steps_run_in_order():
    steps = [
        {"type": "filter", "field": "email", "op": "contains", "value": "@"},
        {"type": "rename", "fields": {"email": "contact"}},
        {"type": "mask", "fields": ["contact"], "keep_last": 8},
        {"type": "select", "fields": ["id", "contact"]},
    ]
    assert run(steps) == [{"id": 1, "contact": "*" * 7 + "mple.com"}, {"id": 4, "contact": "*" * 6 + "mple.com"}]
    # A filter on the old name after the rename finds nothing.
    assert run([{"type": "rename", "fields": {"status": "state"}},
                {"type": "filter", "field": "status", "op": "exists"}]) == []
    assert ids([{"type": "select", "fields": ["id"]}, {"type": "filter", "field": "status", "op": "exists"}]) == []


def test_apply_steps_is_lazy_and_accepts_any_iterable():
    records = ({"id": i} for i in itertools.count())
    result = apply_steps(validated([{"type": "filter", "field": "id", "op": "gte", "value": 5}]), records)
    assert next(result) == {"id": 5}


# -- apply_steps: values of mixed types never raise, and compare as JSON values ------------------------

VALUES = [0, 1, -1, 1.0, 2.5, True, False, None, "", "1", "a", "b", [], [1], [True], ["a"], [[1]], {}, {"a": 1},
          {"a": True}, [{"a": 1}]]
OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]


def _valid_value(op, value):
    if op == "in":
        return isinstance(value, list)
    if op in ("gt", "gte", "lt", "lte"):
        return isinstance(value, (int, float, str)) and not isinstance(value, bool)
    return True


@pytest.mark.parametrize("op", OPERATORS)
def test_no_comparison_raises_whatever_the_types(op):
    records = [{"v": value} for value in VALUES] + [{}]
    for value in VALUES:
        if not _valid_value(op, value):
            continue
        step = {"type": "filter", "field": "v", "op": op, "value": value}
        list(apply_steps(validated([step]), records))  # must not raise


def keeps(op, actual, expected):
    step = {"type": "filter", "field": "v", "op": op, "value": expected}
    return bool(run([step], [{"v": actual}]))


@pytest.mark.parametrize("op,actual,expected,result", [
    # Booleans are not numbers.
    ("eq", True, 1, False), ("eq", 1, True, False), ("eq", False, 0, False), ("eq", 0, False, False),
    ("ne", True, 1, True), ("ne", 0, False, True),
    ("in", True, [1], False), ("in", 1, [True], False), ("in", 0, [False, None], False),
    ("in", True, [True], True), ("in", 1.0, [1], True),
    ("contains", [True], 1, False), ("contains", [1], True, False), ("contains", [1.0], 1, True),
    ("gt", True, 0, False), ("gte", True, 1, False), ("lt", False, 1, False), ("lte", 0, 0.0, True),
    ("gt", 2, 1.5, True),
    # ... also inside arrays and objects.
    ("eq", [1], [True], False), ("eq", {"a": 1}, {"a": True}, False), ("eq", {"a": [0]}, {"a": [False]}, False),
    ("eq", {"a": [1.0]}, {"a": [1]}, True), ("in", [1], [[True]], False), ("in", {"a": 1}, [{"a": 1}], True),
    # Numbers and strings do not compare.
    ("eq", "1", 1, False), ("gt", "2", 1, False), ("lt", 1, "2", False), ("gte", "a", "a", True),
    ("lt", "B", "a", True),
    # Null compares to nothing but equality.
    ("gt", None, 0, False), ("lt", None, 0, False), ("lte", None, "", False), ("eq", None, None, True),
    # Containment: substrings of strings, elements of arrays, keys of objects.
    ("contains", "abc", "b", True), ("contains", "abc", 1, False), ("contains", 123, 1, False),
    ("contains", None, "a", False), ("contains", {"a": 1}, "a", True), ("contains", {"a": 1}, ["a"], False),
    ("contains", [[1]], [1], True), ("contains", [{"a": 1}], {"a": 1}, True), ("contains", [{"a": 1}], {"a": True}, False),
    # Arrays and objects are not ordered.
    ("gt", [2], "1", False), ("lt", {"a": 1}, "b", False),
])
def test_comparisons_follow_json_types(op, actual, expected, result):
    assert keeps(op, actual, expected) is result
