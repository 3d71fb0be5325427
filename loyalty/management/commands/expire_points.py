from django.core.management.base import BaseCommand, CommandError

from crm.models import Organization
from loyalty.services.points import points_expire_due


class Command(BaseCommand):
    help = (
        "Write an expiry row for what remains of every points lot past its expiry. "
        "Running it again expires nothing more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", help="Only this organization's points.")

    def handle(self, *args, org: str | None, **options):
        organization = None
        if org:
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                raise CommandError(f"No organization with slug {org!r}")
        expired = points_expire_due(organization=organization)
        lots = "lot" if expired.lots == 1 else "lots"
        self.stdout.write(f"Expired {expired.points} points in {expired.lots} {lots}.")
