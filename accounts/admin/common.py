"""What the console pages of accounts share: the scope choices and the form base whose POST is checked by
the same serializer or service function the API uses."""

from django import forms

from core import scopes as scope_registry
from console.scope import acting_principal


SCOPE_CHOICES = [(scope, f"{scope}: {description}") for scope, description in sorted(scope_registry.SCOPES.items())]
SERVICE_SCOPE_CHOICES = [(scope, label) for scope, label in SCOPE_CHOICES if scope in scope_registry.SEED_SCOPES]
HUMAN_ROLE_CHOICES = [(role, name) for role, name in scope_registry.ROLE_CHOICES
                      if role in scope_registry.HUMAN_ROLE_IDS]


class ServiceForm(forms.ModelForm):
    """A form whose values a service function writes: it validates, and never touches the instance
    (no construct_instance, no model validation of half-set rows)."""

    def _post_clean(self):
        pass

    def principal_for(self, organization, livemode=True):
        return acting_principal(self.admin_request, organization, livemode)


def scope_lines(values):
    return " ".join(values) if values else "—"


# Organizations
