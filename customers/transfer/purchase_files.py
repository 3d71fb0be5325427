"""Purchase files (import_transactions) read into the purchase service's items, and imported a
batch at a time through the one writer of purchases (loyalty.services.purchases.purchases_record),
with the import runs' checkpoints, resumption and error report.

Formats (docs/imports.md describes them):

- `csv`: one row per line of a purchase under a header of PURCHASE_COLUMNS and LINE_COLUMNS; the
  purchase's columns are repeated on each of its rows (or left empty after the first), and the
  rows of one purchase follow each other: a purchase is the run of rows with one external id.
- `jsonl`: one purchase per line, the body `POST /api/v1/transactions/` takes.

A purchase recorded before (by the API, or by an earlier import) is already recorded: importing a
file again records nothing new, and an interrupted import resumes after its last committed line.
"""

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import DatabaseError, transaction

from crm.actors import Actor
from crm.api.problems import field_errors
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.choices import Source
from customers.models import ImportRun
from loyalty.api.purchase_serializers import TransactionInputSerializer
from loyalty.services.purchase_input import PurchaseItem
from loyalty.services.purchases import PurchaseOutcome, purchases_record
from loyalty.transactions import Transaction

from .engine import Outcome, RowResult
from .field_names import purchase_field_name
from .reading import csv_rows, readable, wrong_width
from .records import FormatError, json_values, unreadable
from .runs import Progress, Totals, batches, batches_apply, resumed
from .statistics import PlannerStatistics

PURCHASE_FORMATS = ("csv", "jsonl")
PURCHASE_COLUMNS = (
    "external_id",
    "customer",
    "identifier_type",
    "identifier_value",
    "store",
    "occurred_at",
    "currency",
    "channel",
)
LINE_COLUMNS = ("sku", "category", "quantity", "unit_price", "line_amount")
REQUIRED_COLUMNS = ("external_id", "occurred_at", "currency", "sku", "quantity", "unit_price")
# Purchases a batch writes together, in one transaction with its checkpoint.
BATCH_SIZE = 500


@dataclass
class PurchaseRecord:
    """One purchase of a file: where it is, what it says, and the item it asks to record."""

    line: int  # where the purchase starts in the file; a CSV header is line 1
    rows: list[tuple[int, list[str]]]  # each row's line and cells (JSON: the line's text)
    format: str
    raw: Any = None  # JSON: the value
    item: PurchaseItem | None = None
    error: DomainError | None = None
    loaded: bool = field(default=False, repr=False)

    def field_name(self, name: str | None) -> str:
        return purchase_field_name(self.format, name)

    def report_rows(self) -> list[tuple[int, list[str]]]:
        return self.rows


def purchase_settings_digest(format: str, *, earn: bool) -> str:
    """The digest of a purchase import's settings: a run resumes only under the same ones."""
    settings = f"purchases:{format}:{'earn' if earn else 'no-earn'}"
    return hashlib.blake2b(settings.encode(), digest_size=16).hexdigest()


def check_purchase_header(header: list[str]) -> list[str]:
    header = [name.strip() for name in header]
    known = (*PURCHASE_COLUMNS, *LINE_COLUMNS)
    unknown = [name for name in header if name not in known]
    if unknown:
        raise FormatError(
            f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are {', '.join(known)}"
        )
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise FormatError(f"column(s) named twice: {', '.join(doubled)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if "customer" not in header and "identifier_value" not in header:
        missing.append("customer (or identifier_type and identifier_value)")
    if missing:
        raise FormatError(f"the header lacks the column(s) {', '.join(missing)}")
    return header


class PurchaseReader:
    """The purchases of a file in one of PURCHASE_FORMATS, read a purchase at a time."""

    def __init__(self, stream: IO[str], format: str, *, name: str = "") -> None:
        self.stream = stream
        self.format = format
        self.name = name
        self.header: list[str] = []

    def records(self) -> Iterator[PurchaseRecord]:
        """Each purchase with its place and text; PurchaseReader.load reads the rest."""
        with readable(self.name):
            if self.format == "csv":
                yield from self._csv_records()
                return
            for line, text, value in json_values(self.stream):
                yield PurchaseRecord(line, [(line, [text])], self.format, raw=value)

    def _csv_records(self) -> Iterator[PurchaseRecord]:
        rows = csv_rows(self.stream)
        self.header = check_purchase_header(next(rows)[1])
        key = self.header.index("external_id")
        record, external_id = None, None
        for line, cells in rows:
            given = cells[key].strip() if len(cells) > key else ""
            if record is None or given != external_id:
                if record is not None:
                    yield record
                record, external_id = PurchaseRecord(line, [], "csv"), given
            record.rows.append((line, cells))
        if record is not None:
            yield record

    def load(self, record: PurchaseRecord) -> PurchaseRecord:
        if record.loaded:
            return record
        record.loaded = True
        try:
            if self.format == "csv":
                record.item = csv_item(self.header, record.rows)
            else:
                record.item = jsonl_item(record.raw)
        except DomainError as error:
            record.error = error
        except Exception as error:  # whatever breaks on one purchase fails it alone
            record.error = unreadable(error)
        record.raw = None
        return record


def csv_item(header: list[str], rows: list[tuple[int, list[str]]]) -> PurchaseItem:
    """The purchase of a CSV file's rows: its columns (the same on every row that gives them)
    and a line per row."""
    cells = []
    for line, values in rows:
        if len(values) != len(header):
            error = wrong_width(values, header)
            raise DomainError(error.code, f"Line {line}: {error.message}", field=error.field)
        row = {name: value.strip() for name, value in zip(header, values, strict=True)}
        for name, value in row.items():
            if "\x00" in value:
                raise DomainError(
                    ErrorCode.INVALID, "Text cannot contain NUL characters.", field=name
                )
        cells.append(row)
    given: dict[str, str | None] = {}
    for name in PURCHASE_COLUMNS:
        values = {row[name] for row in cells if row.get(name)}
        if len(values) > 1:
            raise DomainError(
                ErrorCode.INVALID,
                f"The rows of one purchase give different values: {', '.join(sorted(values))}.",
                field=name,
            )
        given[name] = values.pop() if values else None
    identifier = None
    if given["identifier_type"] or given["identifier_value"]:
        if given["customer"]:
            raise DomainError(
                ErrorCode.INVALID, "Give either customer or identifier.", field="customer"
            )
        for part in ("type", "value"):
            if not given[f"identifier_{part}"]:
                raise DomainError(
                    ErrorCode.REQUIRED, "This field is required.", field=f"identifier.{part}"
                )
        identifier = (given["identifier_type"], given["identifier_value"])
    return PurchaseItem(
        external_id=given["external_id"],
        occurred_at=given["occurred_at"],
        currency=given["currency"],
        lines=[{name: row[name] for name in LINE_COLUMNS if row.get(name)} for row in cells],
        store_code=given["store"],
        channel=given["channel"] or Source.INSTORE,
        customer_id=given["customer"],
        identifier=identifier,
    )


def jsonl_item(value: Any) -> PurchaseItem:
    """A purchase as the API takes it, checked as the API checks it."""
    if not isinstance(value, dict):
        raise DomainError(ErrorCode.INVALID, "Each record is a JSON object.", field="")
    serializer = TransactionInputSerializer(data=value)
    if not serializer.is_valid():
        [first, *_] = field_errors(serializer.errors)
        raise DomainError(ErrorCode.INVALID, first["message"], field=first["field"])
    return serializer.to_item(serializer.validated_data)


def purchase_counts(totals: Totals) -> str:
    return (
        f"{totals.created:,} recorded, {totals.unchanged:,} already recorded, "
        f"{totals.failed:,} failed"
    )


# What recording purchases writes to: the purchases and lines, and what they earn.
PURCHASE_TABLES = (
    "loyalty_transaction",
    "loyalty_transactionline",
    "loyalty_pointstransaction",
    "loyalty_pointslot",
    "customers_auditevent",
)


def transactions_import(
    *,
    organization: Organization,
    reader: PurchaseReader,
    actor: Actor,
    run: ImportRun | None,
    earn: bool = True,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[Progress], int] | None = None,
) -> Totals:
    """Record the reader's purchases, `batch_size` at a time; with a run, resume after its last
    committed line and checkpoint each batch (`on_batch` as for customers_import). Without
    `earn`, they are loaded as history and earn nothing."""

    statistics = PlannerStatistics(
        PURCHASE_TABLES, lambda: Transaction.objects.filter(organization=organization).count()
    )

    def loaded() -> Iterator[list[PurchaseRecord]]:
        for batch in batches(resumed(reader.records(), run), batch_size):
            yield [reader.load(record) for record in batch]

    def apply(batch: list[PurchaseRecord]) -> list[RowResult]:
        ready = [record for record in batch if record.error is None]
        outcomes = iter(_record(organization, ready, actor, earn))
        results = [
            RowResult(record, Outcome.FAILED, record.error)
            if record.error is not None
            else _row_result(record, next(outcomes))
            for record in batch
        ]
        statistics.written(sum(result.outcome == Outcome.CREATED for result in results))
        return results

    return batches_apply(loaded(), apply, run=run, on_batch=on_batch)


def _record(
    organization: Organization, records: list[PurchaseRecord], actor: Actor, earn: bool
) -> list[PurchaseOutcome]:
    """The records' purchases recorded together; should that break unforeseen, each alone, so
    that what breaks on one purchase fails it alone."""

    def record(chunk: list[PurchaseRecord]) -> list[PurchaseOutcome]:
        with transaction.atomic():
            items = [record.item for record in chunk]
            return purchases_record(organization=organization, items=items, actor=actor, earn=earn)

    try:
        return record(records)
    except DatabaseError:
        raise  # the database's trouble, not the file's
    except Exception as error:
        if len(records) == 1:
            return [PurchaseOutcome(error=unreadable(error))]
        return [outcome for one in records for outcome in _record(organization, [one], actor, earn)]


def _row_result(record: PurchaseRecord, outcome: PurchaseOutcome) -> RowResult:
    if outcome.error is not None:
        return RowResult(record, Outcome.FAILED, outcome.error)
    return RowResult(record, Outcome.CREATED if outcome.result.created else Outcome.UNCHANGED)
