"""The files customers are imported from and exported to: reading them into the services' inputs.

Formats (docs/imports.md describes each):

- `csv`: one customer per row under a header of the columns in CSV_COLUMNS, `ext.<name>` for
  extended fields and `custom.<name>` for custom fields. An empty cell leaves a field as it is.
- `jsonl`: JSON Lines of native API customer objects, as the API accepts or returns them.
- `capillary`, `jericommerce`, `voucherify`: the vendors' request bodies (a JSON array of them, or
  JSON Lines), read by the vendor adapters' own parsers.

Reading is streaming: a file of any size is read a record at a time, gzip included. Each record
keeps its line in the file and its original text for the error report.
"""

import csv
import gzip
import hashlib
import io
import json
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crm.api.problems import field_errors
from crm.api.serializers import IGNORE_UNKNOWN_FIELDS
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from crm.parsing import parse_boolean, parse_date, parse_integer
from customers.api.serializers import CustomerCreateSerializer
from customers.compat.capillary.parsing import Parsed
from customers.compat.jericommerce.parsing import PAYLOAD_FIELDS, item_input
from customers.compat.voucherify.parsing import FIELD_NAMES, customer_input
from customers.fields import FILE_FIELDS, Kind
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from loyalty.models import Program, StampCard

FORMATS = ("csv", "jsonl", "capillary", "jericommerce", "voucherify")
PROFILE_COLUMNS = tuple(profile.name for profile in FILE_FIELDS)
CSV_COLUMNS = (
    *PROFILE_COLUMNS,
    "source",
    "account_id",
    "identifiers",
    "channels",
    "programme",
    "tier",
    "points",
    "card",
    "stamps",
)
EXTENDED_PREFIX = "ext."
CUSTOM_PREFIX = "custom."
CHANNEL_FLAGS = ("primary", "verified", "unsubscribed", "residence", "office")
CHANNEL_ENTRY = re.compile(r"^(?P<type>[A-Za-z]+):(?P<value>[^\[]*)(?:\[(?P<flags>[^\]]*)\])?$")
MAX_WHOLE = 10**15 - 1  # points, stamps and tiers carried over: far past any real balance


class FormatError(Exception):
    """A file that cannot be read as a whole: said in one line, with where it went wrong."""


@dataclass
class Record:
    """One customer of a file: where it is, what it says, and what it asks of the services.

    A record is read in two steps: first its place, text and digest (enough to recognise a
    record imported before), then, by Reader.load, what it asks of the services.
    """

    line: int  # where the record starts in the file; a CSV header is line 1
    raw: list[str]  # the record as the error report repeats it
    digest: str  # of the record's text and the import's settings
    format: str
    source: Any = None  # what loading reads: the row's cells, or the JSON value
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
        return FIELD_NAMING[self.format](self, name or "")


@dataclass
class Catalog:
    """The organization's programmes and stamp cards by id and by name, for files naming them."""

    programs: dict[str, int]
    cards: dict[str, int]

    @classmethod
    def of(cls, organization: Organization) -> "Catalog":
        programs: dict[str, int] = {}
        for pk, name in Program.objects.filter(organization=organization).values_list("pk", "name"):
            programs[str(pk)] = pk
            programs[name.strip().lower()] = pk
        cards: dict[str, int] = {}
        for pk, name in StampCard.objects.filter(organization=organization).values_list(
            "pk", "name"
        ):
            cards[str(pk)] = pk
            cards[name.strip().lower()] = pk
        return cls(programs, cards)


def unreadable(error: Exception) -> DomainError:
    """An unforeseen failure on one record, as that record's error: the import goes on."""
    return DomainError(
        ErrorCode.INVALID,
        f"The record could not be read ({type(error).__name__}: {str(error)[:200]}).",
        field="",
    )


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


# --- CSV ---------------------------------------------------------------------------------------


def check_header(header: list[str]) -> list[str]:
    header = [name.strip() for name in header]
    unknown = [
        name
        for name in header
        if name not in CSV_COLUMNS and not name.startswith((EXTENDED_PREFIX, CUSTOM_PREFIX))
    ]
    if unknown or not any(header):
        raise FormatError(
            f"unknown column(s) {', '.join(map(repr, unknown))} in the header; the columns are "
            f"{', '.join(CSV_COLUMNS)}, ext.<extended field> and custom.<custom field>"
        )
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise FormatError(f"column(s) {', '.join(doubled)} appear twice in the header")
    return header


def _whole(value: str, name: str) -> int:
    return parse_integer(value, field=name, minimum=0, maximum=MAX_WHOLE)


IDENTIFIER_ENTRY = re.compile(
    r"^(?:(?P<source>[A-Z_]+)(?:/(?P<account>\S*))?\s+)?(?P<type>\w+):(?P<value>.*)$"
)


def _accounts(cell: str, source: str, account_id: str) -> list[SourceAccountInput]:
    """`type:value` entries separated by ';', each in the row's source account unless it names
    its own: `LINE/2001914141242 line:U4af…`."""
    accounts: dict[tuple[str, str], SourceAccountInput] = {}
    for entry in filter(None, (part.strip() for part in cell.split(";"))):
        match = IDENTIFIER_ENTRY.match(entry)
        if match is None:
            raise DomainError(
                ErrorCode.INVALID,
                f"{entry!r}: write each identifier as type:value (or SOURCE/account type:value), "
                "separated by ';'.",
                field="identifiers",
            )
        key = (
            match["source"] or source,
            match["account"] or (account_id if not match["source"] else ""),
        )
        account = accounts.setdefault(key, SourceAccountInput(source=key[0], account_id=key[1]))
        account.identifiers.append(
            IdentifierInput(type=match["type"], value=match["value"].strip())
        )
    return list(accounts.values())


def _channels(cell: str) -> list[ChannelInput]:
    channels = []
    for entry in filter(None, (part.strip() for part in cell.split(";"))):
        match = CHANNEL_ENTRY.match(entry)
        words = re.split(r"[,|]", match["flags"] or "") if match else []
        flags = {word.strip() for word in words if word.strip()}
        if match is None or flags - set(CHANNEL_FLAGS):
            raise DomainError(
                ErrorCode.INVALID,
                f"{entry!r}: write each channel as type:value[flags] (flags among "
                f"{', '.join(CHANNEL_FLAGS)}, separated by | or ,); channels by ';'.",
                field="channels",
            )
        channels.append(
            ChannelInput(
                type=match["type"],
                value=match["value"].strip(),
                primary="primary" in flags,
                verified="verified" in flags,
                subscribed="unsubscribed" not in flags,
                residence="residence" in flags,
                office="office" in flags,
            )
        )
    return channels


CSV_FIELD_NAMES = [
    (re.compile(r"^source_accounts\[\d+\]\.identifiers.*"), "identifiers"),
    (re.compile(r"^source_accounts\[\d+\]\.account_id$"), "account_id"),
    (re.compile(r"^source_accounts\[\d+\]\.source$"), "source"),
    (re.compile(r"^source_accounts.*"), "identifiers"),
    (re.compile(r"^channels.*"), "channels"),
    (re.compile(r"^extended_fields\.(.+)$"), r"ext.\1"),
    (re.compile(r"^custom_fields\.(.+)$"), r"custom.\1"),
    (re.compile(r"^enrollments\[\d+\]\.tier_number$"), "tier"),
    (re.compile(r"^enrollments\[\d+\]\.points$"), "points"),
    (re.compile(r"^enrollments.*"), "programme"),
    (re.compile(r"^stamp_card_ids.*"), "card"),
    (re.compile(r"^store_code$"), "store"),
]


def csv_field_name(name: str | None) -> str:
    name = name or ""
    for pattern, column in CSV_FIELD_NAMES:
        if pattern.match(name):
            return pattern.sub(column, name)
    return name


def csv_input(
    row: dict[str, str], catalog: Catalog
) -> tuple[CustomerInput, dict[int, int], dict[int, int]]:
    """What a CSV row sets (its non-empty cells), and the points and stamps it carries over."""
    data = CustomerInput()
    balances: dict[int, int] = {}
    for profile in FILE_FIELDS:
        value = row.get(profile.name, "")
        if not value:
            continue
        if profile.kind is Kind.FLAG:
            value = parse_boolean(value, field=profile.name)
        elif profile.kind is Kind.DATE:
            value = parse_date(value, field=profile.name)
        setattr(data, profile.input_name, value)
    extended = {k[len(EXTENDED_PREFIX) :]: v for k, v in row.items() if k.startswith("ext.") and v}
    custom = {k[len(CUSTOM_PREFIX) :]: v for k, v in row.items() if k.startswith("custom.") and v}
    if extended:
        data.extended_fields = extended
    if custom:
        data.custom_fields = custom
    if row.get("identifiers"):
        data.source_accounts = _accounts(
            row["identifiers"], row.get("source") or "INSTORE", row.get("account_id", "")
        )
    elif row.get("source"):
        raise DomainError(ErrorCode.REQUIRED, "A source needs identifiers.", field="identifiers")
    if row.get("channels"):
        data.channels = _channels(row["channels"])
    if row.get("programme"):
        program_id = catalog.programs.get(row["programme"].strip().lower())
        if program_id is None:
            raise DomainError(
                ErrorCode.PROGRAM_UNKNOWN,
                f"{row['programme']!r} is not a programme of this organization (by name or id).",
                field="programme",
            )
        data.enrollments = [
            EnrollmentInput(
                program_id=program_id,
                tier_number=_whole(row["tier"], "tier") if row.get("tier") else None,
            )
        ]
        if row.get("points"):
            balances[program_id] = _whole(row["points"], "points")
    elif row.get("tier") or row.get("points"):
        raise DomainError(
            ErrorCode.REQUIRED, "Tier and points need a programme.", field="programme"
        )
    stamps: dict[int, int] = {}
    if row.get("card"):
        card_id = catalog.cards.get(row["card"].strip().lower())
        if card_id is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"{row['card']!r} is not a stamp card of this organization (by name or id).",
                field="card",
            )
        data.stamp_card_ids = [card_id]
        if row.get("stamps"):
            stamps[card_id] = _whole(row["stamps"], "stamps")
    elif row.get("stamps"):
        raise DomainError(ErrorCode.REQUIRED, "Stamps need a card.", field="card")
    return data, balances, stamps


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
        try:
            if self.format == "csv":
                yield from self._csv_records()
                return
            for line, text, value in json_values(self.stream):
                yield Record(line, [text], digest_of(text, self.salt), self.format, value)
        except UnicodeDecodeError:
            raise FormatError(
                f"{self.name}: not UTF-8 text; save the file as UTF-8 and try again"
            ) from None
        except (EOFError, gzip.BadGzipFile, zlib.error):
            raise FormatError(f"{self.name}: the gzip data is truncated or corrupt") from None

    def load(self, record: Record) -> Record:
        if record.loaded:
            return record
        record.loaded = True
        try:
            if isinstance(record.source, json.JSONDecodeError):
                raise DomainError(
                    ErrorCode.INVALID, f"Not valid JSON: {record.source.msg}.", field=""
                )
            if self.format == "csv":
                record.data, record.balances, record.stamps = csv_input(record.source, self.catalog)
            elif self.format == "jericommerce":
                _jericommerce(record, record.source, self.program_id)
            else:
                LOADERS[self.format](record, record.source)
        except DomainError as error:
            record.error = error
        except Exception as error:  # whatever breaks on one record fails it alone
            record.error = unreadable(error)
        record.source = None
        return record

    def _csv_records(self) -> Iterator[Record]:
        reader = csv.reader(self.stream)
        try:
            self.header = header = check_header(next(reader))
        except StopIteration:
            raise FormatError("the file is empty: a CSV import starts with a header row") from None
        width = len(header)
        line = reader.line_num
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                # Past a quote left open the rest of the file is one cell, until it outgrows
                # the csv module's limit on a field (128 KB).
                raise FormatError(
                    f"line {line + 1}: not readable as CSV from here ({error}: a quote left open?)"
                ) from None
            start, line = line + 1, reader.line_num
            if not any(fields):
                continue
            record = Record(start, fields, digest_of("\x1f".join(fields), self.salt), "csv")
            if len(fields) == width:
                record.source = dict(zip(header, fields, strict=True))
            else:
                record.loaded = True
                record.error = DomainError(
                    ErrorCode.INVALID,
                    f"The row has {len(fields)} cells; the header has {width}.",
                    field="",
                )
            yield record


def _object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise DomainError(ErrorCode.INVALID, "Each record is a JSON object.", field="")
    return value


def _native(record: Record, value: Any) -> None:
    """A customer as the native API takes it (POST) or gives it (GET): the latter's enrolments
    and cards carry their balances and stamps over."""

    value = dict(_object(value))
    cards: list = []
    given_out = "id" in value  # as the API gives it
    if given_out:
        value.pop("referral_code", None)  # its own code, not a referrer's
        enrollments = [e for e in value.get("enrollments") or [] if isinstance(e, dict)]
        value["enrollments"] = [
            {
                "program_id": (e.get("program") or {}).get("id"),
                "tier_number": (e.get("tier") or {}).get("number"),
            }
            for e in enrollments
        ]
        for e in enrollments:
            program_id, balance = (e.get("program") or {}).get("id"), e.get("points_balance")
            if isinstance(program_id, int) and isinstance(balance, int) and balance > 0:
                record.balances[program_id] = balance
        cards = [c for c in value.pop("cards", None) or [] if isinstance(c, dict)]
    serializer = CustomerCreateSerializer(data=value, context={IGNORE_UNKNOWN_FIELDS: given_out})
    if not serializer.is_valid():
        [first, *_] = field_errors(serializer.errors)
        raise DomainError(ErrorCode.INVALID, first["message"], field=first["field"])
    record.data = serializer.to_input()
    for i, card in enumerate(cards):
        card_id, stamps = (card.get("stamp_card") or {}).get("id"), card.get("stamps", 0)
        if not isinstance(card_id, int) or not isinstance(stamps, int) or stamps < 0:
            raise DomainError(
                ErrorCode.INVALID, "Expected a stamp card and stamps.", field=f"cards[{i}]"
            )
        record.data.stamp_card_ids.append(card_id)
        record.stamps[card_id] = stamps


def _capillary(record: Record, value: Any) -> None:

    parsed = Parsed()
    try:
        record.data = parsed.registration(value)
    finally:
        record.channel_paths = parsed.channel_paths


def _jericommerce(record: Record, value: Any, program_id: int | None) -> None:

    email, record.data = item_input(value)
    record.match_by = {"email": email}
    if program_id is not None:
        record.data.enrollments = [EnrollmentInput(program_id)]


def _voucherify(record: Record, value: Any) -> None:

    record.data = customer_input(_object(value))  # their "id" is theirs: source_id is the key
    record.match_by = {"external_id": record.data.external_id or None}


LOADERS = {"jsonl": _native, "capillary": _capillary, "voucherify": _voucherify}


def _capillary_name(record: Record, name: str) -> str:

    parsed = Parsed()
    parsed.channel_paths = record.channel_paths
    return parsed.vendor_field(name) or ""


def _jericommerce_name(record: Record, name: str) -> str:

    return PAYLOAD_FIELDS.get(name, name)


def _voucherify_name(record: Record, name: str) -> str:

    return FIELD_NAMES.get(name, name)


FIELD_NAMING = {
    "csv": lambda record, name: csv_field_name(name),
    "jsonl": lambda record, name: name,
    "capillary": _capillary_name,
    "jericommerce": _jericommerce_name,
    "voucherify": _voucherify_name,
}


# --- export ------------------------------------------------------------------------------------


def csv_export_header(extended: list[str], custom: list[str]) -> list[str]:
    return [
        *CSV_COLUMNS,
        *(EXTENDED_PREFIX + name for name in extended),
        *(CUSTOM_PREFIX + name for name in custom),
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def csv_rows(document: dict, extended: list[str], custom: list[str]) -> list[list[str]]:
    """A customer (as customers.membership.documents.export_documents gives it) as CSV rows that
    import back to the same customer: one row, and one more for each further enrolment or card
    (the same customer, updated in file order)."""
    accounts = document["source_accounts"] or []
    first = accounts[0] if accounts else None
    identifiers = []
    for account in accounts:
        prefix = ""
        if account is not first:
            prefix = account["source"] + (
                f"/{account['account_id']}" if account["account_id"] else ""
            )
            prefix += " "
        identifiers += [f"{prefix}{i['type']}:{i['value']}" for i in account["identifiers"] or []]
    channels = []
    for channel in document["channels"] or []:
        flags = [flag for flag in ("primary", "verified", "residence", "office") if channel[flag]]
        if not channel["subscribed"]:
            flags.append("unsubscribed")
        channels.append(
            f"{channel['type']}:{channel['value']}" + (f"[{'|'.join(flags)}]" if flags else "")
        )
    base = [
        *(_cell(document[profile.name]) for profile in FILE_FIELDS),
        first["source"] if first else "",
        first["account_id"] if first else "",
        ";".join(identifiers),
        ";".join(channels),
    ]
    fields = [
        *(_cell(document["extended_fields"].get(name)) for name in extended),
        *(_cell(document["custom_fields"].get(name)) for name in custom),
    ]
    enrollments, cards = document["enrollments"] or [], document["cards"] or []
    rows = []
    for index in range(max(1, len(enrollments), len(cards))):
        enrollment = enrollments[index] if index < len(enrollments) else None
        card = cards[index] if index < len(cards) else None
        loyalty = [
            enrollment["program_name"] if enrollment else "",
            _cell(enrollment["tier_number"]) if enrollment else "",
            _cell(enrollment["points_balance"]) if enrollment else "",
            card["stamp_card_name"] if card else "",
            _cell(card["stamps"]) if card else "",
        ]
        rows.append([*base, *loyalty, *fields])
    return rows
