import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from crm.errors import DomainError
from crm.models import Organization
from crm.parsing import parse_date
from customers.choices import CustomerStatus, Source
from customers.transfer.exporting import (
    EXPORT_FORMATS,
    customers_export,
    customers_to_export,
    open_output,
)


def _date(value: str) -> dt.date:
    try:
        return parse_date(value, field=None)
    except DomainError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Export an organization's customers, with identifiers, channels, enrolments and cards, "
        "as CSV or JSON Lines (one native API customer object per line), streaming. Both import "
        "back with import_customers. See docs/imports.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, metavar="SLUG")
        parser.add_argument(
            "--format", choices=EXPORT_FORMATS, help="Default: csv, or from --output."
        )
        parser.add_argument(
            "--output", metavar="FILE", help="Default: standard output; .gz compresses."
        )
        parser.add_argument("--status", choices=CustomerStatus.values)
        parser.add_argument("--store", metavar="CODE", help="Registered at this store.")
        parser.add_argument(
            "--source", choices=Source.values, help="With an account in this source."
        )
        parser.add_argument("--created-after", type=_date, metavar="DATE")
        parser.add_argument("--created-before", type=_date, metavar="DATE")
        parser.add_argument("--updated-after", type=_date, metavar="DATE")
        parser.add_argument("--search", metavar="TEXT", help="As the API's and the admin's search.")

    def handle(self, *args, org, format, output, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization with slug {org!r}")
        kind = format or ("jsonl" if output and ".jsonl" in output else "csv")
        customers = customers_to_export(
            organization,
            status=options["status"],
            store=options["store"],
            source=options["source"],
            created_after=options["created_after"],
            created_before=options["created_before"],
            updated_after=options["updated_after"],
            search=options["search"],
        )
        started = time.monotonic()
        try:
            out = open_output(output) if output else self.stdout
        except OSError as error:
            raise CommandError(f"{output}: {error.strerror}") from None
        try:
            count = customers_export(organization, customers, out, format=kind)
        finally:
            if out is not self.stdout:
                out.close()
        elapsed = time.monotonic() - started
        self.stderr.write(
            f"{count:,} customers exported in {elapsed:.1f} s "
            f"({count / max(elapsed, 1e-9):,.0f}/s)."
        )
