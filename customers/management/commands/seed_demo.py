from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers.demo import DEMO_SLUG, MAX_DEMO_CUSTOMERS, added_summary, seed_demo


class Command(BaseCommand):
    help = (
        "Load a demo organization with stores, a programme, a stamp card and customers "
        "(running it again changes nothing), then print the admin login and a demo API key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers", type=int, default=50, help="How many demo customers (default 50)."
        )

    def handle(self, *args, customers: int, **options):
        if not 0 <= customers <= MAX_DEMO_CUSTOMERS:
            raise CommandError(f"--customers is between 0 and {MAX_DEMO_CUSTOMERS:,}")
        access = seed_demo(customers=customers)
        self.stdout.write(f"Demo organization '{DEMO_SLUG}': {added_summary(access.added)}.")
        if access.admin_password:
            self.stdout.write(
                f"Admin login:  {settings.PUBLIC_BASE_URL}/admin/  "
                f"user {access.admin_username}  password {access.admin_password}"
            )
        else:
            self.stdout.write(
                f"Admin login:  user {access.admin_username} (its password was changed since it "
                "was seeded)"
            )
        for role, password in access.staff.items():
            if password:
                self.stdout.write(f"Member-care {role}:  user {role}  password {password}")
        if access.api_key:
            self.stdout.write(f"Demo API key: {access.api_key}")
        else:
            self.stdout.write(
                "Demo API key: revoked; make a new one with `manage.py create_api_key demo`"
            )
