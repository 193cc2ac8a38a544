"""Inviting people: an Admin invites an email address with a role; the email carries a single-use link
valid for 7 days; following it, the person sets a password (or signs in) and joins with that role."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

import audit
from accounts.models import Invitation, Member, User
from core.principal import session_principal
from core.errors import Conflict

VALID_FOR = timedelta(days=7)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _send(invitation, token):
    link = settings.OPENPAAS_PUBLIC_URL.rstrip("/") + reverse("accept-invitation", kwargs={"token": token})
    send_mail(
        subject=f"Join {invitation.organization.name} on Open PaaS",
        message=(f"You have been invited to join {invitation.organization.name} on Open PaaS as "
                 f"{invitation.get_role_display()}.\n\nAccept within 7 days: {link}\n\n"
                 "If you did not expect this, ignore this email."),
        from_email=None,
        recipient_list=[invitation.email],
    )


def _audit(action, principal, invitation, metadata=None):
    audit.record(action, organization=invitation.organization, principal=principal, target=invitation,
                 metadata={"email": invitation.email, "role": invitation.role, **(metadata or {})})


def check_can_invite(organization, email, invitation=None):
    """One way in per person: not for a member, nor beside another pending invitation."""
    if Member.objects.filter(organization=organization, user__email=email).exists():
        raise Conflict("This person is already a member.")
    pending = Invitation.objects.filter(organization=organization, email=email, accepted_at__isnull=True,
                                        cancelled_at__isnull=True, expires_at__gt=timezone.now())
    if invitation is not None:
        pending = pending.exclude(pk=invitation.pk)
    if pending.exists():
        raise Conflict("This person already has a pending invitation; resend it instead.")


def invite(*, principal, email, role):
    """Create and send an invitation. A person already in the organization, or with a pending
    invitation, is a conflict."""
    organization = principal.organization
    email = User.objects.normalize_email(email).lower()
    check_can_invite(organization, email)
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(organization=organization, email=email, role=role,
                                               token_digest=_digest(token), invited_by=principal.member,
                                               expires_at=now + VALID_FOR)
        _audit("invitation.created", principal, invitation)
        transaction.on_commit(lambda: _send(invitation, token))
    return invitation


def resend(*, invitation, principal):
    """A new link (the old one stops working) and 7 more days."""
    if invitation.status() in ("accepted", "cancelled"):
        raise Conflict(f"This invitation was {invitation.status()}.")
    check_can_invite(invitation.organization, invitation.email, invitation)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation.token_digest = _digest(token)
        invitation.expires_at = timezone.now() + VALID_FOR
        invitation.sent_count += 1
        invitation.save(update_fields=["token_digest", "expires_at", "sent_count"])
        _audit("invitation.resent", principal, invitation)
        transaction.on_commit(lambda: _send(invitation, token))
    return invitation


def cancel(*, invitation, principal):
    if invitation.status() == "accepted":
        raise Conflict("This invitation was already accepted.")
    with transaction.atomic():
        if invitation.cancelled_at is None:
            invitation.cancelled_at = timezone.now()
            invitation.save(update_fields=["cancelled_at"])
            _audit("invitation.cancelled", principal, invitation)
    return invitation


def pending_by_token(token):
    """The pending, unexpired invitation of a link, or None (the same for unknown, used, cancelled and
    expired links)."""
    invitation = Invitation.objects.select_related("organization").filter(token_digest=_digest(token)).first()
    if invitation is None or invitation.status() != "pending":
        return None
    return invitation


NO_LONGER_VALID = "This invitation link is no longer valid."


def _locked_pending(token):
    """The pending invitation of a link, locked until the transaction ends; Conflict when there is none
    (any more). Concurrent requests with one link wait here for each other: the first one uses it."""
    invitation = Invitation.objects.select_for_update().filter(token_digest=_digest(token)).first()
    if invitation is None or invitation.status() != "pending":
        raise Conflict(NO_LONGER_VALID)
    return invitation


def join(*, token, password):
    """A newcomer joins: their account is created and the invitation accepted at once, or neither. The
    link works once: a concurrent request with it, or an account made for the email meanwhile, is a
    Conflict (the link is no longer valid)."""
    hashed = make_password(password)  # before taking the lock: hashing is slow, and SQLite has one writer
    try:
        with transaction.atomic():
            invitation = _locked_pending(token)
            user = User.objects.create(email=invitation.email, password=hashed)
            return accept(token=token, user=user)
    except IntegrityError:  # the email's account was made elsewhere meanwhile (another organization's link)
        raise Conflict(NO_LONGER_VALID)


def accept(*, token, user):
    """Join: the person becomes a member with the invited role. The link works once."""
    with transaction.atomic():
        invitation = _locked_pending(token)
        if invitation.email != user.email.lower():
            raise Conflict("This invitation was sent to another email address.")
        try:
            with transaction.atomic():
                member = Member.objects.create(organization=invitation.organization, user=user, role=invitation.role)
        except IntegrityError:
            raise Conflict("You are already a member of this organization.")
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        member.organization = invitation.organization
        joined = session_principal(member)
        _audit("invitation.accepted", joined, invitation)
        audit.record("member.created", organization=invitation.organization, principal=joined,
                     target=member, metadata={"role": member.role, "invitation": invitation.id})
    return member
