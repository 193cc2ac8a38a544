"""Every POST route of the v1 API honours Idempotency-Key, read from the URL conf like the permission
table, so a new endpoint is covered (or must say why not, in the resource registry) the day it is added."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import resolve

from api.idempotent_views import IdempotentViewMixin
from idempotency.models import IdempotencyKey
from tests.idempotency.helpers import assert_error, assert_replay_of
from tests.resources import RESOURCES, ROUTES, is_organization_wide, make_object, valid_body
from tests.support.state import row_counts

# POST routes that ignore the header, and why (tests/resources.py: ``not_idempotent``).
EXEMPT = {route: reason for resource in RESOURCES for route, reason in resource.not_idempotent.items()}

POST_ROUTES = sorted(name for name, route in ROUTES.items() if "POST" in route.methods and name not in EXEMPT)


def view_class(route):
    callback = resolve(route.url("x_any" if route.takes_id else None)).func
    return getattr(callback, "cls", None) or callback.view_class


def test_every_post_route_is_idempotent_or_exempt_with_a_reason():
    assert POST_ROUTES, "the URL conf was read"
    for name in POST_ROUTES:
        assert issubclass(view_class(ROUTES[name]), IdempotentViewMixin), f"{name} ignores Idempotency-Key"
    for name in set(EXEMPT) & set(ROUTES):
        assert not issubclass(view_class(ROUTES[name]), IdempotentViewMixin), f"{name} is exempt but idempotent"


def request(client, route_name, tenant, key, object_id=None, body=None):
    route = ROUTES[route_name]
    return client.post(route.url(object_id), body, format="json", HTTP_IDEMPOTENCY_KEY=key)


# Organization-wide routes refuse test-mode credentials before anything runs (tests/security/test_livemode.py).
MODE_CASES = [(route_name, livemode) for route_name in POST_ROUTES for livemode in (False, True)
              if livemode or not is_organization_wide(route_name, "POST")]


@pytest.mark.parametrize("route_name,livemode", MODE_CASES,
                         ids=[f"{name}-{'live' if live else 'test'}" for name, live in MODE_CASES])
def test_every_post_route_replays_and_runs_once(tenant, route_name, livemode):
    route = ROUTES[route_name]
    client = tenant.client("admin", livemode=livemode)
    object_id = make_object(route_name, tenant, livemode).pk if route.takes_id else None
    body = valid_body(route_name, "POST", tenant, livemode)

    first = request(client, route_name, tenant, "key-1", object_id, body)
    assert 200 <= first.status_code < 300, first.content
    before = row_counts()

    replay = request(client, route_name, tenant, "key-1", object_id, body)
    assert_replay_of(replay, first)
    assert row_counts() == before, "the replay created or deleted nothing"

    assert_error(request(client, route_name, tenant, "key-1", object_id, {**body, "unexpected": 1}),
                 409, "idempotency_key_reused")
    assert_error(request(client, route_name, tenant, "", object_id, body), 400, "idempotency_key_invalid")
    assert row_counts() == before
    assert IdempotencyKey.unscoped.filter(livemode=livemode).count() == 1


@pytest.mark.parametrize("route_name", POST_ROUTES)
def test_every_post_route_replays_its_validation_errors(tenant, route_name):
    route = ROUTES[route_name]
    client = tenant.client("admin", livemode=True)
    object_id = make_object(route_name, tenant, True).pk if route.takes_id else None
    body = {"not_a_field": True}
    first = request(client, route_name, tenant, "bad", object_id, body)
    assert first.status_code == 400, first.content
    before = row_counts()
    assert_replay_of(request(client, route_name, tenant, "bad", object_id, body), first)
    assert row_counts() == before


def test_bandit_finds_nothing_in_the_idempotency_app():
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", "idempotency", "-f", "json"],
                            cwd=root, capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    assert [f"{r['filename']}:{r['line_number']} {r['test_id']}" for r in report["results"]] == []
    assert not report["errors"]
