"""Fixtures for the connectors, workflows and datasets tests."""

import pytest

from tests.connectors.helpers import keyed_client


@pytest.fixture
def dev(tenant):
    """The tenant's Developer, with a test-mode key."""
    return keyed_client(tenant, "developer")
