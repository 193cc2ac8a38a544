"""Fixtures: the real platform (migrated once per session, one organization), clients on its keys, and
a recorder in place of the SDK's backoff sleep."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import openpaas_sdk.client
from openpaas_sdk import OpenPaaSClient
from servers import Platform, enrol_owner, manage, platform_env, start_platform, stop_platform


@pytest.fixture(scope="session")
def platform_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[str, object]]:
    """A migrated temp database with one organization, shared by every server the tests start."""
    workdir = tmp_path_factory.mktemp("platform")
    env = platform_env(workdir)
    manage(env, "migrate", "--no-input")
    org = json.loads(manage(env, "create_org", "SDK Tests", "--owner-email", "owner@sdk-tests.example"))
    return workdir, env, org


@pytest.fixture(scope="session")
def platform(platform_setup: tuple[Path, dict[str, str], dict[str, object]]) -> Iterator[Platform]:
    workdir, env, org = platform_setup
    server = start_platform(workdir, env, org, "platform")
    if "backup_codes" not in org:
        enrol_owner(server)  # the owner is an Admin, and Admins sign in with a second factor
    yield server
    stop_platform(server)


@pytest.fixture(scope="session")
def rate_limited_platform(platform_setup: tuple[Path, dict[str, str], dict[str, object]]) -> Iterator[Platform]:
    """The same database behind a second server that allows each key 2 requests per second."""
    workdir, env, org = platform_setup
    server = start_platform(workdir, {**env, "OPENPAAS_RATE_PER_CREDENTIAL": "2/s"}, org, "rate-limited")
    yield server
    stop_platform(server)


@pytest.fixture
def client(platform: Platform) -> Iterator[OpenPaaSClient]:
    """The organization owner's (an Admin's) test-mode key."""
    with OpenPaaSClient(api_key=platform.test_key, base_url=platform.base_url) as sdk:
        yield sdk


@pytest.fixture
def live_client(platform: Platform) -> Iterator[OpenPaaSClient]:
    """The owner's live-mode key: members and roles belong to the organization, and test-mode keys may
    read them but not change them (403 livemode_required)."""
    with OpenPaaSClient(api_key=platform.live_key, base_url=platform.base_url) as sdk:
        yield sdk


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the SDK would have slept between retries; nothing actually sleeps."""
    recorded: list[float] = []
    monkeypatch.setattr(openpaas_sdk.client, "_sleep", recorded.append)
    return recorded
