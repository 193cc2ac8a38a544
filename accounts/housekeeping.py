"""Deleting expired credentials and sessions, in batches (``core.housekeeping``). Run by
``manage.py clear_expired``; nothing here changes what is valid, only removes rows that no longer are."""

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import clear_expired as clear_expired_oauth_tokens
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.web.sessions import LAST_SEEN_WRITE
from accounts.models import TokenSession, UserSession
from core.housekeeping import delete_in_batches


def clear_expired_jwt(*, batch_size=1000, now=None):
    """Expired refresh tokens (and, by cascade, their blacklist entries), then the sign-in sessions with no
    refresh token left: revoked ones, and those not refreshed for the refresh lifetime. A deleted
    session's tokens are refused just as a revoked one's (its ``sid`` finds nothing)."""
    now = now or timezone.now()
    tokens = delete_in_batches(OutstandingToken.objects.filter(expires_at__lt=now), batch_size=batch_size)
    idle_since = now - jwt_settings.REFRESH_TOKEN_LIFETIME
    sessions = delete_in_batches(
        TokenSession.objects.filter(Q(revoked_at__isnull=False) | Q(refreshed_at__lt=idle_since)),
        batch_size=batch_size)
    return {"jwt_refresh_tokens": tokens, "jwt_sessions": sessions}


def clear_expired_browser_sessions(*, batch_size=1000, now=None):
    """Expired browser sessions in the session store, and the records of those past the idle or absolute
    timeout (the account security page drops them too, but only for the person who opens it)."""
    now = now or timezone.now()
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
        stored = delete_in_batches(Session.objects.filter(expire_date__lt=now), batch_size=batch_size)
    else:  # cache-backed stores expire on their own; Django's hook does whatever a store needs
        import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
        stored = 0
    idle = now - timedelta(seconds=settings.SESSION_COOKIE_AGE) - LAST_SEEN_WRITE
    absolute = now - timedelta(seconds=settings.OPENPAAS_SESSION_ABSOLUTE_SECONDS)
    records = delete_in_batches(UserSession.objects.filter(Q(last_activity__lt=idle) | Q(created_at__lt=absolute)),
                                batch_size=batch_size)
    return {"browser_sessions": stored, "browser_session_records": records}


def clear_expired_oauth():
    """django-oauth-toolkit's own cleanup: expired access tokens, refresh tokens past their
    REFRESH_TOKEN_EXPIRE_SECONDS, grants and ID tokens, in its batches (CLEAR_EXPIRED_TOKENS_BATCH_SIZE)."""
    clear_expired_oauth_tokens()
