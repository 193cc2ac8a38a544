"""The administrator console's pages for organizations, members, API keys, OAuth applications,
invitations, access reviews and django-axes lockouts.

Each page writes through the same function the API calls (accounts.actions: api_keys, members,
oauth_applications, invitations, reviews), acting as the requesting person's Admin membership in the
object's organization (console.scope.acting_principal), so every change is validated by the same rules and leaves the same
audit event. Secrets are never on a page: keys show their prefix and last four characters; a new key's or
application's secret is shown once, on the page that answers its creation."""

# One module per model; importing them registers their pages with the console site.
from accounts.admin import (  # noqa: F401
    api_keys, invitations, lockouts, members, oauth_applications, organizations, reviews,
)
