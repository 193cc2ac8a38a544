import pytest

from tests.accounts.browser_helpers import Clock


@pytest.fixture
def clock(monkeypatch):
    """time.time() and timezone.now() together, moved forward with clock.advance(seconds)."""
    return Clock(monkeypatch)
