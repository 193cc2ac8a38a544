"""The browser session's rules: an absolute lifetime, a record the person can see and end, and, for a
person who must have a second factor and has none, nothing but enrolment until it is done."""

import time
from datetime import timedelta
from importlib import import_module
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from accounts.models import UserSession

SIGNED_IN_AT = "openpaas_signed_in_at"
LAST_SEEN_WRITE = timedelta(seconds=60)

# Pages a person who must enrol may still open.
ENROLMENT_OPEN = ("/account/security/enrol", "/logout", "/static/")


def start_session(request, user):
    """Stamp a new sign-in's session and record it (on django.contrib.auth's user_logged_in signal, which
    login() sends after giving the session a new id)."""
    request.session[SIGNED_IN_AT] = time.time()
    request.session.save()
    UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={"user": user, "ip_address": getattr(request, "client_ip", None),
                  "user_agent": request.META.get("HTTP_USER_AGENT", "")[:512], "last_activity": timezone.now()},
    )


def rekey_session(old_key, new_key):
    """Keep the record of a session whose id changed while the person stayed signed in (a new password)."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def live_sessions(user):
    """The person's browser sessions that still exist; records of sessions that ended on their own (idle,
    or cleared from the store) are dropped on the way."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    live = []
    for record in UserSession.objects.filter(user=user).order_by("-last_activity"):
        session = store(session_key=record.session_key)
        session.load()  # an expired or missing session comes back without its key
        if session.session_key is None:
            record.delete()
        else:
            live.append(record)
    return live


# Pages that hold secrets or personal data: never kept by a browser or proxy cache (ASVS 14.3.2).
PRIVATE_PREFIXES = ("/login", "/logout", "/account", "/invitations/", "/oauth/authorize")


class SessionPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.session.session_key:
            ended = self._enforce(request, user)
            if ended is not None:
                return ended
        response = self.get_response(request)
        if request.path.startswith(PRIVATE_PREFIXES) or (user is not None and user.is_authenticated):
            add_never_cache_headers(response)
        return response

    def _enforce(self, request, user):
        signed_in_at = request.session.get(SIGNED_IN_AT)
        if signed_in_at is None or time.time() - signed_in_at > settings.OPENPAAS_SESSION_ABSOLUTE_SECONDS:
            logout(request)  # also a session that never went through our sign-in
            if request.path.startswith("/api/"):
                return None
            return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")
        record = UserSession.objects.filter(session_key=request.session.session_key).only("id", "last_activity").first()
        if record is None:  # ended from the account security page
            logout(request)
            return redirect(reverse("login"))
        now = timezone.now()
        if now - record.last_activity > LAST_SEEN_WRITE:
            UserSession.objects.filter(pk=record.pk).update(last_activity=now, ip_address=getattr(request, "client_ip", None))
        from accounts.actions import mfa

        if not request.path.startswith(ENROLMENT_OPEN) and mfa.must_enrol(user):
            return redirect("mfa-enrol")
        return None


def end_session(request):
    """Forget the record of a session that ends (on user_logged_out)."""
    if request is not None and request.session.session_key:
        UserSession.objects.filter(session_key=request.session.session_key).delete()
