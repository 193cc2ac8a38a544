"""Changes to who may do what mark the organization's cached credentials stale (accounts.gate).

Signals, not calls in each service, so that every path that saves these models (the API, the admin,
commands) is covered; ``QuerySet.update()`` sends no signal and must not be used to change them."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.gate import bump_generation
from accounts.models import APIKey, Member, Organization, User


@receiver(post_save, sender=APIKey)
@receiver(post_save, sender=Member)
def _access_changed(sender, instance, created=False, **kwargs):
    if not created:  # a new key or member changes nothing that is cached
        bump_generation(instance.organization_id)


@receiver(post_delete, sender=APIKey)
@receiver(post_delete, sender=Member)
def _access_removed(sender, instance, **kwargs):
    bump_generation(instance.organization_id)


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
