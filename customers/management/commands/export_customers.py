import csv
import datetime as dt
import gzip
import io
import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crm.errors import DomainError
from crm.models import Organization
from crm.parsing import parse_date
from customers import selectors
from customers.api.serializers import CustomerSerializer
from customers.membership.documents import customer_documents, export_documents
from customers.membership.search import customer_search
from customers.models import Customer, CustomerStatus, Source
from customers.transfer import columns


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
            "--format", choices=("csv", "jsonl"), help="Default: csv, or from --output."
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
        customers = self.filtered(organization, options)
        started = time.monotonic()
        out = self.open(output)
        count = 0
        try:
            if kind == "csv":
                count = self.write_csv(out, organization, customers)
            else:
                render = CustomerSerializer().to_representation
                documents = customer_documents(organization=organization, customers=customers)
                for document in documents:
                    out.write(json.dumps(render(document), ensure_ascii=False) + "\n")
                    count += 1
        finally:
            if out is not self.stdout:
                out.close()
        elapsed = time.monotonic() - started
        self.stderr.write(
            f"{count:,} customers exported in {elapsed:.1f} s "
            f"({count / max(elapsed, 1e-9):,.0f}/s)."
        )

    def open(self, output: str | None):
        if not output:
            return self.stdout
        try:
            if output.endswith(".gz"):
                return io.TextIOWrapper(gzip.open(output, "wb"), encoding="utf-8", newline="")
            return Path(output).open("w", encoding="utf-8", newline="")
        except OSError as error:
            raise CommandError(f"{output}: {error.strerror}") from None

    @staticmethod
    def filtered(organization, options):
        filters = {
            "status": options["status"],
            "registered_store__code": options["store"],
            "source_accounts__source": options["source"],
            "created_at__date__gte": options["created_after"],
            "created_at__date__lt": options["created_before"],
            "updated_at__date__gte": options["updated_after"],
        }
        filters = {name: value for name, value in filters.items() if value is not None}
        if not filters and not options["search"]:
            return None
        customers = Customer.objects.filter(organization=organization, **filters)
        if options["search"]:
            customers = customer_search(
                customers, organization=organization, text=options["search"]
            )
        return customers

    @staticmethod
    def write_csv(out, organization, customers) -> int:
        extended, custom = (
            selectors.field_keys(organization=organization, column=column, customers=customers)
            for column in ("extended_fields", "custom_fields")
        )
        writer = csv.writer(out)
        writer.writerow(columns.csv_export_header(extended, custom))
        count = 0
        documents = export_documents(organization=organization, customers=customers)
        for document in documents:
            writer.writerows(columns.csv_rows(document, extended, custom))
            count += 1
        return count
