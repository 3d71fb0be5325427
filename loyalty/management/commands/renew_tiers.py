from django.core.management.base import BaseCommand, CommandError

from crm.models import Organization
from loyalty.services.tier_renewals import tiers_renew_due


class Command(BaseCommand):
    help = (
        "Renew, upgrade or downgrade every member whose tier period has ended, by what they "
        "earned or spent in their programme's window. Running it again changes nothing more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", help="Only this organization's members.")

    def handle(self, *args, org: str | None, **options):
        organization = None
        if org:
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                raise CommandError(f"No organization with slug {org!r}")
        renewals = tiers_renew_due(organization=organization)
        self.stdout.write(
            f"Tier periods ended: {renewals.renewed} renewed, {renewals.upgraded} upgraded, "
            f"{renewals.downgraded} downgraded."
        )
