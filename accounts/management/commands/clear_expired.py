from django.core.management.base import BaseCommand, CommandError

from accounts import housekeeping
from api import idempotency as idempotency_store


class Command(BaseCommand):
    help = ("Delete what has expired, in batches: OAuth tokens and grants, JWT refresh tokens and sign-in "
            "sessions, browser sessions and their records, idempotency keys. Safe to run at any time (from "
            "cron, daily or more often); it removes only rows that no longer grant anything.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="rows deleted per statement (default 1000)")

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        housekeeping.clear_expired_oauth()  # django-oauth-toolkit logs its own counts
        counts = {
            **housekeeping.clear_expired_jwt(batch_size=batch_size),
            **housekeeping.clear_expired_browser_sessions(batch_size=batch_size),
            "idempotency_keys": idempotency_store.clear_expired(batch_size=batch_size),
        }
        self.stdout.write("Deleted " + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items()) + ".")
