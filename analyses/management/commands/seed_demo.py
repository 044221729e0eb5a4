"""``manage.py seed_demo``: the demo accounts and a handful of queued analyses (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analyses.demo_data import seed_demo


class Command(BaseCommand):
    help = "Create the demo accounts (printing their credentials) and queue the demo analyses. Safe to rerun."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEMO_ALLOWED:
            raise CommandError("seed_demo creates accounts with published passwords; these settings do not allow it.")
        accounts, created = seed_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {len(created)} analyses queued now."))
        self.stdout.write("Demo accounts (username / password):")
        for account in accounts:
            self.stdout.write(f"  {account.username:<10} {account.password:<20} {account.role}")
