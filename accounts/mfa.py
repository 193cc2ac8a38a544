"""Second factors: who must have one, enrolling an authenticator app, backup codes, and checking a code.

The devices are django-otp plugins of our own (accounts.models.AuthenticatorDevice, BackupCodeDevice);
django-otp's ``match_token`` and ``login`` do the checking and mark the session verified.
"""

import math
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user
from rest_framework import exceptions

import audit
from core import scopes as scope_registry
from accounts.models import AuthenticatorDevice, BackupCodeDevice, Member, normalize_backup_code
from core.principal import session_principal


def has_second_factor(user) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def must_have_second_factor(user) -> bool:
    """Admins must; so must everyone in an organization that requires it."""
    return Member.objects.filter(user=user).filter(
        role=scope_registry.ADMIN).exists() or Member.objects.filter(user=user, organization__require_mfa=True).exists()


def must_enrol(user) -> bool:
    return must_have_second_factor(user) and not has_second_factor(user)


def _authenticator_code(code: str) -> str | None:
    """The digits of an authenticator code (typed perhaps as "123 456"), or None for anything else."""
    digits = "".join(str(code).split())
    # ASCII only: str.isdigit() also takes "²", which int() refuses, and other scripts' digits.
    return digits if digits.isascii() and digits.isdigit() and len(digits) <= 10 else None


def is_authenticator_code(secret: str) -> bool:
    return _authenticator_code(secret) is not None


def is_backup_code(secret: str) -> bool:
    """Shaped like a backup code (12 letters and digits, dashes and case aside)."""
    text = str(secret).strip()
    return " " not in text and len(normalize_backup_code(text)) == 12 and len(text) <= 16


def seconds_backing_off(device) -> int | None:
    """How long ``device`` still holds back codes after wrong ones (django-otp's ThrottlingMixin, growing
    with OTP_TOTP_THROTTLE_FACTOR), or None when it checks them now."""
    allowed, details = device.verify_is_allowed()
    if allowed:
        return None
    until = (details or {}).get("locked_until")
    return max(1, math.ceil((until - timezone.now()).total_seconds())) if until else 1


def backing_off_message(seconds) -> str:
    """What a person is told when a code was not checked because of the back-off: that, and how long."""
    return f"Too many wrong codes. Wait {seconds} second{'s' if seconds != 1 else ''} and try again."


class CodesBackingOff(exceptions.Throttled):
    """The API's answer when a code was not checked because of the back-off: 429 with Retry-After."""

    default_code = "mfa_backing_off"
    wait_message = "Too many wrong codes. Wait {wait} and try again."  # core.errors fills in the wait


def verify_code(user, code):
    """Check a second-factor code: an authenticator's digits against the authenticator app, anything
    else against the backup codes, so that typing one kind is never a wrong code of the other (which
    would hold up its back-off). Returns (device, None) when a device accepts it; (None, seconds) when
    the devices for it are backing off after wrong codes and it was not checked; (None, None) when it
    is wrong or was already used."""
    digits = _authenticator_code(code)
    model = AuthenticatorDevice if digits is not None else BackupCodeDevice
    token = digits if digits is not None else str(code)
    waits, checked = [], False
    with transaction.atomic():
        for device in model.objects.filter(user=user, confirmed=True).select_for_update():
            wait = seconds_backing_off(device)
            if wait is not None:
                waits.append(wait)
                continue
            checked = True
            if device.verify_token(token):
                return device, None
    return None, (min(waits) if waits and not checked else None)


def record_for_user(action, user, metadata=None):
    """An account-level event (sign-in, second factors) goes to the live-mode log of every organization
    the person belongs to, acted by their membership there."""
    for member in Member.objects.filter(user=user).select_related("organization", "user"):
        audit.record(action, organization=member.organization, livemode=True, principal=session_principal(member),
                     metadata=metadata)


def pending_authenticator(user) -> AuthenticatorDevice:
    """The unconfirmed authenticator being set up (one at a time), created on first use."""
    device = AuthenticatorDevice.objects.filter(user=user, confirmed=False).first()
    return device or AuthenticatorDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def qr_svg(text: str) -> str:
    """An SVG QR code drawn on the server: no JavaScript, no third-party image service."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def confirm_authenticator(device, code):
    """Confirm an authenticator with its first code. Returns (the new backup codes, shown once, None);
    (None, None) when the code is wrong; (None, seconds) when the device is backing off after wrong
    codes and this one was not checked."""
    wait = seconds_backing_off(device)
    if wait is not None:
        return None, wait
    if not device.verify_token(code):
        return None, None
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = replace_backup_codes(device.user, audited=False)
        record_for_user("mfa.enrolled", device.user, {"device": device.name})
    return codes, None


def replace_backup_codes(user, audited=True):
    """Ten new backup codes, replacing any left. Returns them; they are never shown again."""
    with transaction.atomic():
        device = BackupCodeDevice.objects.filter(user=user).first() or BackupCodeDevice(user=user, name="Backup codes")
        codes = device.generate()
        device.confirmed = True
        device.save()
        if audited:
            record_for_user("mfa.backup_codes_regenerated", user)
    return codes


def remove_second_factors(user):
    """Turn two-factor authentication off. Refused (False) for a person who must have it."""
    if must_have_second_factor(user):
        return False
    with transaction.atomic():
        removed = [model.objects.filter(user=user).delete()[0] for model in (AuthenticatorDevice, BackupCodeDevice)]
        if any(removed):  # turning off what was never on changes nothing
            record_for_user("mfa.disabled", user)
    return True
