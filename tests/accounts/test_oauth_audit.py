"""What an organization's audit log says about its OAuth applications' tokens beyond their issue:
revocations (RFC 7009), a code presented twice, a revoked refresh token presented again."""

import hashlib

import pytest

from audit.models import AuditEvent
from tests.support.oauth import (
    authorization_code, browser_for, code_flow, exchange, make_application, person, pkce_pair, refresh, revoke,
)
from tests.support.refusals import next_minute

pytestmark = pytest.mark.django_db


def events(action, application):
    return list(AuditEvent.unscoped.filter(action=action, target_id=application.id))


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_a_revocation_is_audited_with_the_kind_of_token(tenant, kind):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    token = code_flow(browser_for(developer.user), application, secret)
    assert revoke(application, secret, token[kind], kind).status_code == 200
    [event] = events("oauth.token_revoked", application)
    assert event.organization_id == tenant.org.id and event.livemode == application.livemode
    assert event.metadata == {"token_type": kind, "user": developer.user_id}
    assert token[kind] not in str(event.metadata)

    assert revoke(application, secret, token[kind], kind).status_code == 200  # already revoked: nothing new
    assert len(events("oauth.token_revoked", application)) == 1


def test_revoking_an_unknown_or_another_applications_token_writes_nothing(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    other, other_secret = make_application(tenant, name="Other")
    token = code_flow(browser_for(developer.user), application, secret)
    assert revoke(other, other_secret, token["access_token"]).status_code == 200
    assert revoke(application, secret, "oat_" + "x" * 40).status_code == 200
    assert not AuditEvent.unscoped.filter(action="oauth.token_revoked").exists()


def redeemed_code(tenant):
    """(developer, application, secret, code, verifier): a code a developer approved, exchanged once."""
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser_for(developer.user), application, challenge=challenge)
    assert exchange(application, secret, code, verifier).status_code == 200
    return developer, application, secret, code, verifier


def test_a_code_presented_twice_is_audited(tenant):
    _, application, secret, code, verifier = redeemed_code(tenant)
    assert not events("oauth.code_reused", application)
    assert exchange(application, secret, code, verifier).status_code == 400
    [event] = events("oauth.code_reused", application)
    assert event.organization_id == tenant.org.id and code not in str(event.metadata)


def test_a_revoked_refresh_token_presented_again_is_audited(tenant):
    developer = person(tenant, "developer")
    application, secret = make_application(tenant)
    first = code_flow(browser_for(developer.user), application, secret)
    assert refresh(application, secret, first["refresh_token"]).status_code == 200
    assert not events("oauth.refresh_token_reused", application)
    assert refresh(application, secret, first["refresh_token"]).status_code == 400
    [event] = events("oauth.refresh_token_reused", application)
    assert event.organization_id == tenant.org.id


def test_an_unknown_refresh_token_writes_nothing(tenant):
    application, secret = make_application(tenant)
    assert refresh(application, secret, "ort_" + "x" * 40).status_code == 400
    assert not AuditEvent.unscoped.filter(action="oauth.refresh_token_reused").exists()


def test_a_code_or_refresh_token_replayed_is_one_event_a_minute_with_the_count(tenant):
    developer, application, secret, code, verifier = redeemed_code(tenant)
    first = code_flow(browser_for(developer.user), application, secret)
    assert refresh(application, secret, first["refresh_token"]).status_code == 200
    for _ in range(5):
        assert exchange(application, secret, code, verifier).status_code == 400
        assert refresh(application, secret, first["refresh_token"]).status_code == 400
    for action in ("oauth.code_reused", "oauth.refresh_token_reused"):
        [event] = events(action, application)
        assert event.metadata == {"count": 1}
    next_minute(f"oauth.code_reused:{hashlib.sha256(code.encode()).hexdigest()}")
    next_minute(f"oauth.refresh_token_reused:{hashlib.sha256(first['refresh_token'].encode()).hexdigest()}")
    exchange(application, secret, code, verifier)
    refresh(application, secret, first["refresh_token"])
    for action in ("oauth.code_reused", "oauth.refresh_token_reused"):
        counts = [event.metadata["count"] for event in sorted(events(action, application), key=lambda e: e.created_at)]
        assert counts == [1, 5]  # four held back, and this one
