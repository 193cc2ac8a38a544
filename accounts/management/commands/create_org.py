import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts.actions.organizations import create_organization


class Command(BaseCommand):
    help = ("Create an organization and its first Admin. Prints one JSON object: organization, owner_email, "
            "password (one-time; null when the person already had an account), live_key, test_key.")

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner-email", required=True)

    def handle(self, *args, name, owner_email, **options):
        name = name.strip()
        if not name or len(name) > 200:
            raise CommandError("The organization name must be 1 to 200 characters.")
        try:
            validate_email(owner_email)
        except ValidationError:
            raise CommandError(f"Not a valid email address: {owner_email!r}.")
        organization, owner, password, live_key, test_key = create_organization(name=name, owner_email=owner_email)
        self.stdout.write(json.dumps({
            "organization": organization.id,
            "owner_email": owner.user.email,
            "password": password,
            "live_key": live_key,
            "test_key": test_key,
        }))
