from django.core.management.base import BaseCommand, CommandError

from api import idempotency as store


class Command(BaseCommand):
    help = "Delete idempotency keys older than 24 hours (they are no longer replayed), in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="rows deleted per statement (default 1000)")

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        deleted = store.clear_expired(batch_size=batch_size)
        self.stdout.write(f"Deleted {deleted} expired idempotency key{'s' if deleted != 1 else ''}.")
