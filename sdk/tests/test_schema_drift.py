"""Every operation of the platform's OpenAPI document is reachable through an SDK method, or is listed here
as reached another way, with the reason: a route added to the API without its SDK method fails this test.

The SDK's requests are recorded (an httpx mock transport in place of the network) and matched to the
document's path templates; the document is the real platform's."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from openpaas_sdk import OpenPaaSClient
from openpaas_sdk.resources import Resource
from servers import Platform

ID = "obj_drift"

# Reached by the client's credential machinery rather than a resource method.
REACHED_OTHERWISE = {
    ("POST", "/api/v1/auth/token"): "OpenPaaSClient.login (tested against the real platform in test_real_oauth_jwt.py)",
    ("POST", "/api/v1/auth/token/refresh"): "a JWT client renews itself (test_real_oauth_jwt.py)",
    ("POST", "/api/v1/auth/token/revoke"): "not in the SDK yet: a JWT session ends when its refresh token expires; "
                                           "programs that must log out call it directly",
}

# Methods beyond the generic list/retrieve/create/update/delete, with arguments.
SPECIAL_CALLS: list[Callable[[OpenPaaSClient], Any]] = [
    lambda sdk: sdk.me(),
    lambda sdk: sdk.api_keys.revoke(ID),
    lambda sdk: sdk.api_keys.roll(ID),
    lambda sdk: sdk.invitations.resend(ID),
    lambda sdk: sdk.invitations.cancel(ID),
    lambda sdk: sdk.datasets.records(ID).append([{"a": 1}]),
    lambda sdk: list(sdk.datasets.records(ID).list()),
]


def recorded_operations(sdk: OpenPaaSClient) -> set[tuple[str, str]]:
    """(method, path) of every request every SDK method makes."""
    seen: set[tuple[str, str]] = set()

    def answer(request: httpx.Request) -> httpx.Response:
        seen.add((request.method, request.url.path))
        return httpx.Response(200, json={"object": "list", "data": [], "has_more": False, "next_cursor": None,
                                         "id": ID})

    sdk._http = httpx.Client(transport=httpx.MockTransport(answer), headers=sdk._http.headers)
    resources = [value for value in vars(sdk).values() if isinstance(value, Resource)]
    for resource in resources:
        generic = {"list": lambda r: list(r.list()), "retrieve": lambda r: r.retrieve(ID),
                   "create": lambda r: r.create(name="x"), "update": lambda r: r.update(ID, name="x"),
                   "delete": lambda r: r.delete(ID)}
        for name, call in generic.items():
            if hasattr(resource, name):
                call(resource)
    for call in SPECIAL_CALLS:
        call(sdk)
    return seen


def documented_operations(platform: Platform) -> dict[tuple[str, str], re.Pattern[str]]:
    response = httpx.get(f"{platform.base_url}/api/v1/schema", headers={
        "Authorization": f"Bearer {platform.live_key}", "Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200, response.text[:300]
    return {(method.upper(), path): re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for path, operations in response.json()["paths"].items() for method in operations
            if method in ("get", "post", "patch", "put", "delete")}


def test_every_documented_operation_has_an_sdk_method_or_a_reason(platform: Platform) -> None:
    documented = documented_operations(platform)
    with OpenPaaSClient(api_key=platform.test_key, base_url=platform.base_url) as sdk:
        recorded = recorded_operations(sdk)
    reached = {(method, template) for method, template in documented for seen_method, seen_path in recorded
               if seen_method == method and documented[(method, template)].match(seen_path)}
    missing = sorted(set(documented) - reached - set(REACHED_OTHERWISE))
    assert missing == [], f"operations without an SDK method: {missing}"


def test_the_sdk_calls_nothing_the_document_does_not_have(platform: Platform) -> None:
    documented = documented_operations(platform)
    with OpenPaaSClient(api_key=platform.test_key, base_url=platform.base_url) as sdk:
        recorded = recorded_operations(sdk)
    unknown = sorted((method, path) for method, path in recorded
                     if not any(method == documented_method and pattern.match(path)
                                for (documented_method, _), pattern in documented.items()))
    assert unknown == []


@pytest.mark.parametrize("operation", sorted(REACHED_OTHERWISE))
def test_what_is_reached_otherwise_is_still_documented(platform: Platform, operation: tuple[str, str]) -> None:
    assert operation in documented_operations(platform)  # else the entry is stale: remove it
