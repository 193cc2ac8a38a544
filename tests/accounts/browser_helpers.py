"""Helpers for the browser pages of accounts (sign-in, second factors, account security): the session
cookie, sudo, a clock that can be moved forward, and a page's HTML without its CSRF token."""

import re
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from tests.support.oauth import PASSWORD, totp_code

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def session_cookie(browser):
    morsel = browser.cookies.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel is not None and morsel.value else None


def without_csrf(html: bytes | str) -> str:
    text = html.decode() if isinstance(html, bytes) else html
    return CSRF_INPUT.sub('name="csrfmiddlewaretoken" value=""', text)


def wrong_code(device):
    """A six-digit code that is not valid now (none of the codes the tolerance window accepts)."""
    valid = {totp_code(device, offset) for offset in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def sudo(browser, secret=PASSWORD):
    response = browser.post("/account/sudo", {"secret": secret, "next": "/account/security"})
    assert response.status_code == 302, response.content.decode()[:500]
    return response


def signed_in(browser):
    """Whether this browser's session opens the account page."""
    response = browser.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response["Location"].startswith("/login"), response
    return False


class Clock:
    """Moves time.time() and django.utils.timezone.now() forward together."""

    def __init__(self, monkeypatch):
        self.offset = 0.0
        real_time, real_now = time.time, timezone.now
        monkeypatch.setattr(time, "time", lambda: real_time() + self.offset)
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=self.offset))

    def advance(self, seconds):
        self.offset += seconds
