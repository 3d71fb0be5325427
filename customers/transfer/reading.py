"""Reading a file in any of the formats a record at a time: first each record's place, text and
digest (enough to recognise a record imported before), then, when asked, what it asks of the
services, by the format's own loader (columns for CSV, json_formats for the others)."""

import csv
import gzip
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from crm.errors import DomainError, ErrorCode

from .columns import Catalog, check_header, csv_input
from .json_formats import JSON_LOADERS, jericommerce_load
from .records import FormatError, Record, digest_of, json_values, unreadable


class Reader:
    """The records of a file in one of FORMATS, read a record at a time."""

    def __init__(
        self,
        stream: IO[str],
        format: str,
        salt: str,
        *,
        name: str = "",
        catalog: Catalog | None = None,
        program_id: int | None = None,
    ) -> None:
        self.stream = stream
        self.name = name
        self.format = format
        self.salt = salt
        self.catalog = catalog
        self.program_id = program_id
        self.header: list[str] = []

    def records(self) -> Iterator[Record]:
        """Each record with its place, text and digest; Reader.load reads the rest."""
        with readable(self.name):
            if self.format == "csv":
                yield from self._csv_records()
                return
            for line, text, value in json_values(self.stream):
                yield Record(line, [text], digest_of(text, self.salt), self.format, value)

    def load(self, record: Record) -> Record:
        if record.loaded:
            return record
        record.loaded = True
        try:
            if isinstance(record.raw, json.JSONDecodeError):
                raise DomainError(ErrorCode.INVALID, f"Not valid JSON: {record.raw.msg}.", field="")
            if self.format == "csv":
                record.data, record.balances, record.stamps = csv_input(record.raw, self.catalog)
            elif self.format == "jericommerce":
                jericommerce_load(record, record.raw, self.program_id)
            else:
                JSON_LOADERS[self.format](record, record.raw)
        except DomainError as error:
            record.error = error
        except Exception as error:  # whatever breaks on one record fails it alone
            record.error = unreadable(error)
        record.raw = None
        return record

    def _csv_records(self) -> Iterator[Record]:
        rows = csv_rows(self.stream)
        self.header = header = check_header(next(rows)[1])
        width = len(header)
        for start, fields in rows:
            record = Record(start, fields, digest_of("\x1f".join(fields), self.salt), "csv")
            if len(fields) == width:
                record.raw = dict(zip(header, fields, strict=True))
            else:
                record.loaded = True
                record.error = wrong_width(fields, header)
            yield record


@contextmanager
def readable(name: str) -> Iterator[None]:
    """Text that cannot be read as such (not UTF-8, broken gzip) as a FormatError."""
    try:
        yield
    except UnicodeDecodeError:
        raise FormatError(f"{name}: not UTF-8 text; save the file as UTF-8 and try again") from None
    except (EOFError, gzip.BadGzipFile, zlib.error):
        raise FormatError(f"{name}: the gzip data is truncated or corrupt") from None


def csv_rows(stream: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of the header and then of each row that is not empty; a FormatError for an
    empty file, and where the file can no longer be read as CSV."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError("the file is empty: a CSV import starts with a header row") from None
    yield 1, header
    line = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # Past a quote left open the rest of the file is one cell, until it outgrows the csv
            # module's limit on a field (128 KB).
            raise FormatError(
                f"line {line + 1}: not readable as CSV from here ({error}: a quote left open?)"
            ) from None
        start, line = line + 1, reader.line_num
        if any(fields):
            yield start, fields


def wrong_width(fields: list[str], header: list[str]) -> DomainError:
    return DomainError(
        ErrorCode.INVALID,
        f"The row has {len(fields)} cells; the header has {len(header)}.",
        field="",
    )
