"""manage.py clear_expired: expired JWT refresh tokens and sign-in sessions, browser sessions and their
records, OAuth tokens and idempotency keys go, in batches; nothing that still works is touched."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import housekeeping
from accounts.models import TokenSession, UserSession
from tests.accounts.browser_helpers import signed_in
from tests.support.oauth import PASSWORD, person, sign_in
from tests.accounts.test_jwt import REFRESH, REVOKE, me, obtain, post

pytestmark = pytest.mark.django_db

REFRESH_LIFETIME = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]


def deletes_of(queries, model):
    table = model._meta.db_table
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE") and f'"{table}"' in q["sql"]
            and " IN (" in q["sql"]]


# JWT


def test_expired_refresh_tokens_go_in_batches_with_their_blacklist_entries(tenant):
    developer = person(tenant, "developer")
    pairs = [obtain(developer) for _ in range(5)]
    for pair in pairs[:2]:
        assert post(REFRESH, {"refresh": pair["refresh"]}).status_code == 200  # blacklists the old one
    assert BlacklistedToken.objects.count() == 2
    live = OutstandingToken.objects.order_by("-pk").first()

    later = timezone.now() + REFRESH_LIFETIME + timedelta(seconds=1)
    OutstandingToken.objects.exclude(pk=live.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with CaptureQueriesContext(connection) as queries:
        counts = housekeeping.clear_expired_jwt(batch_size=2, now=later - REFRESH_LIFETIME)

    assert counts["jwt_refresh_tokens"] == 6  # 5 first tokens and 2 rotated ones, all but the newest
    assert len(deletes_of(queries, OutstandingToken)) == 3  # 2 + 2 + 2
    assert list(OutstandingToken.objects.all()) == [live]
    assert not BlacklistedToken.objects.exists()


def test_revoked_and_long_unrefreshed_sessions_go_and_a_refreshed_one_stays(tenant):
    developer = person(tenant, "developer")
    revoked, idle, active = obtain(developer), obtain(developer), obtain(developer)
    assert post(REVOKE, {"refresh": revoked["refresh"]}).status_code in (200, 204)
    long_ago = timezone.now() - REFRESH_LIFETIME - timedelta(minutes=1)
    TokenSession.objects.update(created_at=long_ago, refreshed_at=long_ago)
    renewed = post(REFRESH, {"refresh": active["refresh"]})  # the rotation moves refreshed_at to now
    assert renewed.status_code == 200

    counts = housekeeping.clear_expired_jwt()

    assert counts["jwt_sessions"] == 2
    assert TokenSession.objects.count() == 1
    assert me(renewed.json()["access"]).status_code == 200
    assert post(REFRESH, {"refresh": renewed.json()["refresh"]}).status_code == 200
    for deleted in (revoked, idle):  # a deleted session's tokens are refused as a revoked one's
        assert me(deleted["access"]).status_code == 401
        assert post(REFRESH, {"refresh": deleted["refresh"]}).status_code == 401


def test_a_refresh_records_when_the_session_was_last_refreshed(tenant):
    pair = obtain(person(tenant, "developer"))
    session = TokenSession.objects.get()
    before = session.refreshed_at
    assert post(REFRESH, {"refresh": pair["refresh"]}).status_code == 200
    session.refresh_from_db()
    assert session.refreshed_at > before


# Browser sessions


def test_expired_browser_sessions_and_their_records_go_and_a_live_one_stays(tenant, clock):
    stale, live = Client(), Client()
    for browser, role in ((stale, "developer"), (live, "viewer")):
        member = person(tenant, role)
        assert sign_in(browser, member.user.email, PASSWORD).status_code == 302
    stale_key = stale.cookies[settings.SESSION_COOKIE_NAME].value

    clock.advance(settings.SESSION_COOKIE_AGE - 60)
    assert signed_in(live)  # activity keeps it alive
    clock.advance(120)  # the stale one is now past the idle timeout

    counts = housekeeping.clear_expired_browser_sessions(batch_size=1)

    assert counts == {"browser_sessions": 1, "browser_session_records": 1}
    assert not Session.objects.filter(session_key=stale_key).exists()
    assert not UserSession.objects.filter(session_key=stale_key).exists()
    assert signed_in(live)
    assert UserSession.objects.count() == 1


def test_records_older_than_the_absolute_lifetime_go(tenant, clock):
    browser = Client()
    member = person(tenant, "developer")
    assert sign_in(browser, member.user.email, PASSWORD).status_code == 302
    UserSession.objects.update(created_at=timezone.now() - timedelta(seconds=settings.OPENPAAS_SESSION_ABSOLUTE_SECONDS + 1))
    assert housekeeping.clear_expired_browser_sessions()["browser_session_records"] == 1
    assert not signed_in(browser)


# The command


def test_the_command_clears_everything_and_says_how_much(tenant, capsys):
    pair = obtain(person(tenant, "developer"))
    assert post(REVOKE, {"refresh": pair["refresh"]}).status_code in (200, 204)
    OutstandingToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("clear_expired", "--batch-size", "10")
    out = capsys.readouterr().out
    assert "1 jwt refresh tokens" in out and "1 jwt sessions" in out and "idempotency keys" in out
    assert not TokenSession.objects.exists() and not OutstandingToken.objects.exists()


def test_the_command_refuses_a_batch_size_below_one():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("clear_expired", "--batch-size", "0")
