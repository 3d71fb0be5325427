"""A file's records: the Record type, opening a file, and reading its JSON values as a stream.

Formats (docs/imports.md describes each):

- `csv`: one customer per row under a header of the columns in columns.CSV_COLUMNS, `ext.<name>`
  for extended fields and `custom.<name>` for custom fields. An empty cell leaves a field as it is.
- `jsonl`: JSON Lines of native API customer objects, as the API accepts or returns them.
- `capillary`, `jericommerce`, `voucherify`: the vendors' request bodies (a JSON array of them, or
  JSON Lines), read by the vendor adapters' own parsers.

Reading is streaming: a file of any size is read a record at a time, gzip included. Each record
keeps its line in the file and its original text for the error report.
"""

import gzip
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crm.errors import DomainError, ErrorCode
from customers.inputs import CustomerInput

from .field_names import field_name

FORMATS = ("csv", "jsonl", "capillary", "jericommerce", "voucherify")


class FormatError(Exception):
    """A file that cannot be read as a whole: said in one line, with where it went wrong."""


@dataclass
class Record:
    """One customer of a file: where it is, what it says, and what it asks of the services.

    A record is read in two steps: first its place, text and digest (enough to recognise a
    record imported before), then, by reading.Reader.load, what it asks of the services.
    """

    line: int  # where the record starts in the file; a CSV header is line 1
    original: list[str]  # the record as the error report repeats it
    digest: str  # of the record's text and the import's settings
    format: str
    raw: Any = None  # what loading reads: the row's cells by column, or the JSON value
    loaded: bool = False
    data: CustomerInput | None = None
    error: DomainError | None = None  # the record could not even be read
    # Look the customer up by these values instead of `data`'s own email, phone and external id
    # (a vendor's key, e.g. Jericommerce's email); see customer_upsert.
    match_by: dict[str, Any] | None = None
    # Carried over from another system, when the record enrols or issues a card: the points
    # balance by programme and the stamps by stamp card that the new enrolment or card should
    # have (added to what it got on its own, such as welcome points).
    balances: dict[int, int] = field(default_factory=dict)
    stamps: dict[int, int] = field(default_factory=dict)
    channel_paths: list[str] = field(default_factory=list)  # Capillary's, for its field names

    def field_name(self, name: str | None) -> str:
        """How a field of the services is named in this record's format."""
        return field_name(self.format, name or "", self.channel_paths)

    def report_rows(self) -> list[tuple[int, list[str]]]:
        """The record's line and text, as the error report repeats it."""
        return [(self.line, self.original)]


def unreadable(error: Exception) -> DomainError:
    """An unforeseen failure on one record, as that record's error: the import goes on."""
    return DomainError(
        ErrorCode.INVALID,
        f"The record could not be read ({type(error).__name__}: {str(error)[:200]}).",
        field="",
    )


def record_salt(format: str, program_id: int | None) -> str:
    """What the records' digests are keyed with: the settings that change what a record asks of
    the services, so that a record read under other settings is not recognised."""
    return f"{format}:{program_id or ''}"


def digest_of(text: str, salt: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16, key=salt.encode()[:64]).hexdigest()


# --- opening files -----------------------------------------------------------------------------


def detect_format(path: str) -> str:
    name = path.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise FormatError(
        f"cannot tell the format of {path!r} from its name (.csv or .jsonl, optionally .gz); "
        f"give --format, one of {', '.join(FORMATS)}"
    )


def open_text(path: str) -> IO[str]:
    """The file as text, decompressed if it ends in .gz; "-" is standard input."""
    if path == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = Path(path).open("rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError:
            raise FormatError(f"{path}: no such file") from None
        except OSError as error:
            raise FormatError(f"{path}: {error.strerror}") from None
    if path.lower().endswith(".gz"):
        stream = gzip.GzipFile(fileobj=stream)
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def file_digest(path: str) -> str:
    """SHA-256 of the file as stored (compressed if it is): what a resumed run recognises."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- JSON --------------------------------------------------------------------------------------


MAX_JSON_VALUE = 16 << 20


def json_values(stream: IO[str]) -> Iterator[tuple[int, str, Any]]:
    """(line, text, value) of each value of a JSON array, or of each line of JSON Lines.

    A line of JSON Lines that is not JSON gives its value as a JSONDecodeError, so that only that
    record fails; a JSON array that is not JSON fails as a whole.
    """
    head = stream.read(1 << 16)
    if head.lstrip().startswith("["):
        yield from _array_values(head, stream)
        return
    lines = io.StringIO(head).readlines()
    pending = lines.pop() if lines and not lines[-1].endswith("\n") else ""
    number = 0

    def decoded(text: str):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            return error

    for text in lines:
        number += 1
        if text.strip():
            yield number, text.rstrip("\r\n"), decoded(text)
    for text in stream:
        text, pending = pending + text, ""
        number += 1
        if text.strip():
            yield number, text.rstrip("\r\n"), decoded(text)
    if pending.strip():
        yield number + 1, pending, decoded(pending)


def _array_values(buffer: str, stream: IO[str]) -> Iterator[tuple[int, str, Any]]:
    decoder = json.JSONDecoder()
    line, offset, done = 1, 0, False
    offset = buffer.index("[") + 1
    line += buffer.count("\n", 0, offset)
    while True:
        while True:  # what separates values: whitespace and commas
            while offset < len(buffer) and buffer[offset] in " \t\r\n,":
                line += buffer[offset] == "\n"
                offset += 1
            if offset < len(buffer) or done:
                break
            chunk = stream.read(1 << 20)
            buffer, offset, done = buffer[offset:] + chunk, 0, not chunk
        if offset >= len(buffer):
            raise FormatError(f"line {line}: the JSON array is not closed (truncated?)")
        if buffer[offset] == "]":
            if buffer[offset + 1 :].strip() or stream.read(1 << 10).strip():
                raise FormatError(f"line {line}: something follows the end of the JSON array")
            return
        try:
            value, end = decoder.raw_decode(buffer, offset)
        except json.JSONDecodeError as error:
            if done or len(buffer) - offset > MAX_JSON_VALUE:
                where = line + buffer.count("\n", offset, error.pos)
                raise FormatError(f"line {where}: not valid JSON ({error.msg})") from None
            chunk = stream.read(1 << 20)
            buffer, offset, done = buffer[offset:] + chunk, 0, not chunk
            continue
        text = buffer[offset:end]
        yield line, text, value
        line += text.count("\n")
        offset = end
        if len(buffer) - offset < 1 << 16 and not done:
            chunk = stream.read(1 << 20)
            buffer, offset, done = buffer[offset:] + chunk, 0, not chunk
