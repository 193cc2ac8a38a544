"""Changes to who may do what mark the organization's cached credentials stale (core.gate), and a
member's removal ends their OAuth tokens.

Signals, not calls in each service, so that every path that saves these models (the API, the admin,
commands) is covered; ``QuerySet.update()`` sends no signal and must not be used to change them."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from core.gate import bump_generation
from accounts.web.sessions import end_session, start_session
from accounts.models import APIKey, Member, OAuthApplication, Organization, TokenSession, User
from accounts.auth.oauth import end_member_tokens


@receiver(post_save, sender=APIKey)
@receiver(post_save, sender=Member)
def _access_changed(sender, instance, created=False, **kwargs):
    if not created:  # a new key or member changes nothing that is cached
        bump_generation(instance.organization_id)


@receiver(post_delete, sender=APIKey)
@receiver(post_delete, sender=Member)
def _access_removed(sender, instance, **kwargs):
    bump_generation(instance.organization_id)


@receiver(pre_delete, sender=Member)
def _member_leaving(sender, instance, **kwargs):
    # Tokens are found by person and organization, so a person added back would otherwise get their old
    # ones back. Here, not in each service, so that the admin and access reviews are covered too; before
    # the delete, while a Service member's application still names it; in the delete's transaction.
    end_member_tokens(instance)


@receiver(post_save, sender=OAuthApplication)
def _application_changed(sender, instance, created=False, **kwargs):
    if not created:
        bump_generation(instance.organization_id)


@receiver(post_delete, sender=OAuthApplication)
def _application_removed(sender, instance, **kwargs):
    bump_generation(instance.organization_id)


@receiver(post_save, sender=TokenSession)
def _session_changed(sender, instance, created=False, **kwargs):
    if not created:  # revoked: every JWT of the session stops
        bump_generation(instance.member.organization_id)


def _access_token_removed(sender, instance, **kwargs):
    # Revoking an OAuth token (or reusing its refresh token) deletes access tokens. An expired one (as
    # cleartokens deletes, by the million) is refused by its cached entry's own expiry: nothing to do.
    if instance.expires <= timezone.now():
        return
    organization_id = OAuthApplication.objects.filter(pk=instance.application_id).values_list("organization_id", flat=True).first()
    if organization_id:
        bump_generation(organization_id)


post_delete.connect(_access_token_removed, sender="oauth2_provider.AccessToken", dispatch_uid="openpaas_access_token_removed")


@receiver(post_save, sender=Organization)
def _organization_changed(sender, instance, created=False, **kwargs):
    if not created:
        bump_generation(instance.pk)


@receiver(post_save, sender=User)
def _person_changed(sender, instance, created=False, **kwargs):
    # Deactivation must end every key the person holds, in every organization.
    if not created:
        for organization_id in Member.objects.filter(user=instance).values_list("organization_id", flat=True):
            bump_generation(organization_id)


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        start_session(request, user)


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs):
    end_session(request)
