"""Exporting customers, streaming: which customers, and writing them as CSV (columns.csv_rows) or
as JSON Lines of native API customer objects. Both import back to the same customers."""

import csv
import datetime as dt
import gzip
import io
import json
from pathlib import Path
from typing import IO

from django.db.models import QuerySet

from crm.models import Organization
from customers import selectors
from customers.api.serializers import CustomerSerializer
from customers.membership.documents import customer_documents, export_documents
from customers.membership.search import customer_search
from customers.models import Customer

from .columns import csv_export_header, csv_rows

EXPORT_FORMATS = ("csv", "jsonl")


def customers_to_export(
    organization: Organization,
    *,
    status: str | None = None,
    store: str | None = None,
    source: str | None = None,
    created_after: dt.date | None = None,
    created_before: dt.date | None = None,
    updated_after: dt.date | None = None,
    search: str | None = None,
) -> QuerySet[Customer] | None:
    """The organization's customers that the filters given select; None (all of them) when no
    filter is given. `store` is the registration store's code, `source` the channel of one of
    the customer's source accounts."""
    filters = {
        "status": status,
        "registered_store__code": store,
        "source_accounts__source": source,
        "created_at__date__gte": created_after,
        "created_at__date__lt": created_before,
        "updated_at__date__gte": updated_after,
    }
    filters = {name: value for name, value in filters.items() if value is not None}
    if not filters and not search:
        return None
    customers = Customer.objects.filter(organization=organization, **filters)
    if search:
        customers = customer_search(customers, organization=organization, text=search)
    return customers


def open_output(path: str) -> IO[str]:
    """The file to export to, as text, compressed if it ends in .gz; OSError if it cannot be."""
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "wb"), encoding="utf-8", newline="")
    return Path(path).open("w", encoding="utf-8", newline="")


def customers_export(
    organization: Organization,
    customers: QuerySet[Customer] | None,
    out: IO[str],
    *,
    format: str,
) -> int:
    """Write the customers (all of the organization's when None) to `out` in `format`, one of
    EXPORT_FORMATS; how many were written."""
    if format == "csv":
        return _csv_write(organization, customers, out)
    render = CustomerSerializer().to_representation
    count = 0
    for document in customer_documents(organization=organization, customers=customers):
        out.write(json.dumps(render(document), ensure_ascii=False) + "\n")
        count += 1
    return count


def _csv_write(
    organization: Organization, customers: QuerySet[Customer] | None, out: IO[str]
) -> int:
    extended, custom = (
        selectors.field_keys(organization=organization, column=column, customers=customers)
        for column in ("extended_fields", "custom_fields")
    )
    writer = csv.writer(out)
    writer.writerow(csv_export_header(extended, custom))
    count = 0
    for document in export_documents(organization=organization, customers=customers):
        writer.writerows(csv_rows(document, extended, custom))
        count += 1
    return count
