"""One object per model the console shows, made for a given tenant: FACTORIES (tests/factories.py) for
the API's resources, and the console's own (organizations, access reviews, lockouts)."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.utils import timezone

from accounts.actions import reviews
from accounts.models import AccessReview, APIKey, Invitation, Member, OAuthApplication, Organization
from audit.models import AuditEvent
from connectors.models import Connector, Dataset, Workflow
from tests.factories import FACTORIES
from webhooks.models import WebhookEndpoint


def make_access_review(tenant):
    return reviews.start(organization=tenant.org, started_by=tenant.member("admin"),
                         due_date=timezone.localdate() + timedelta(days=7))


def make_access_attempt(tenant):
    """Failed sign-ins of one of the tenant's members (as django-axes records them)."""
    return AccessAttempt.objects.create(
        username=tenant.member("viewer").user.email, ip_address="203.0.113.7", user_agent="curl/8",
        get_data="", post_data="", http_accept="*/*", path_info="/login", failures_since_start=5,
        attempt_time=timezone.now())


ADMIN_OBJECTS = {
    Organization: lambda tenant: tenant.org,
    Member: FACTORIES["member"],
    APIKey: FACTORIES["api-key"],
    OAuthApplication: FACTORIES["oauth-application"],
    Invitation: FACTORIES["invitation"],
    AccessReview: make_access_review,
    AccessAttempt: make_access_attempt,
    Connector: FACTORIES["connector"],
    Workflow: FACTORIES["workflow"],
    Dataset: FACTORIES["dataset"],
    WebhookEndpoint: FACTORIES["webhook-endpoint"],
    AuditEvent: FACTORIES["audit-event"],
}
