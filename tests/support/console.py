"""The administrator console, signed in the way people do: the two-step sign-in at /login with a password
and a code from a real authenticator device (so the session is verified by django-otp)."""

from django.contrib.admin.utils import quote
from django.urls import reverse

from accounts.models import User
from tests.support.oauth import PASSWORD, browser_for, totp_code, totp_device


def signed_in(user, with_code=True):
    """A test client signed in as ``user``: with a code from a new authenticator device, or (``with_code``
    False, and no device) with the password alone."""
    if not with_code:
        return browser_for(user)
    device = totp_device(user)
    browser = browser_for(user, otp=totp_code(device))
    browser.device = device
    return browser


def signed_in_staff():
    """Platform staff (is_staff and is_superuser), member of no organization, signed in with a second factor."""
    user = User.objects.create_user(email="ops@platform.example", password=PASSWORD, is_staff=True, is_superuser=True)
    browser = signed_in(user)
    browser.user = user
    return browser


def admin_url(obj, name="change"):
    """An object's console URL, its id quoted as the admin quotes it (``_`` is its escape character)."""
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=[quote(obj.pk)])
