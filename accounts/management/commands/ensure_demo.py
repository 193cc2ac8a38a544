import os

from django.core.management.base import BaseCommand

from accounts.models import Organization
from accounts.actions.organizations import create_organization

DEMO_NAME = "Demo Organization"
DEMO_EMAIL = "admin@demo.openpaas.local"


class Command(BaseCommand):
    help = "On first start, create a demo organization and print its login and keys; afterwards do nothing."

    def handle(self, *args, **options):
        if Organization.objects.exists():
            self.stdout.write("Using the existing database; the demo credentials were printed on first start.")
            return
        organization, owner, password, live_key, test_key = create_organization(name=DEMO_NAME, owner_email=DEMO_EMAIL)
        self.stdout.write(self.style.SUCCESS(f"Created {DEMO_NAME} ({organization.id}). Shown once; keep them now:"))
        self.stdout.write(f"  login:    {owner.user.email}")
        self.stdout.write(f"  password: {password}")
        self.stdout.write(f"  live key: {live_key}")
        self.stdout.write(f"  test key: {test_key}")
        base_url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        self.stdout.write(f"  try:      curl -H 'Authorization: Bearer {test_key}' {base_url}/api/v1/me")
        # What the SDK reads (OpenPaaSClient() with no arguments), ready to paste into a shell.
        self.stdout.write("  for the SDK, in your shell:")
        self.stdout.write(f"    export OPENPAAS_API_KEY={test_key}")
        self.stdout.write(f"    export OPENPAAS_BASE_URL={base_url}")
        # A JWT needs the Admin's second factor, which the demo has not enrolled yet.
        self.stdout.write(f"  for a JWT: sign in at {base_url}/login and enrol a second factor (Admins must), then")
        self.stdout.write(f"    OpenPaaSClient.login({owner.user.email!r}, password, {organization.id!r}, otp=...)")
