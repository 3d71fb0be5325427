from django.core.management.base import BaseCommand, CommandError

from crm.models import Organization
from crm.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an organization and print it (the only time it is shown)."

    def add_arguments(self, parser):
        parser.add_argument("organization", metavar="ORG_SLUG")
        parser.add_argument("--name", default="API key", help="A name to recognise the key by.")

    def handle(self, *args, organization: str, name: str, **options):
        try:
            org = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug {organization!r}") from None
        api_key, raw_key = api_key_create(organization=org, name=name)
        self.stderr.write(
            f"Created key {api_key.prefix}… for {org.slug}; store it now, it cannot be shown again."
        )
        self.stdout.write(raw_key)
