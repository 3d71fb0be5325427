"""The CSV format's columns, both ways: a row read into the services' inputs (and the points and
stamps it carries over), and a customer written back as rows that import to the same customer.

The columns are the profile fields of customers.fields.FILE_FIELDS, then the source account,
identifiers, channels and loyalty columns of CSV_COLUMNS, then `ext.<name>` for extended fields
and `custom.<name>` for custom fields.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from crm.parsing import parse_boolean, parse_date, parse_integer
from customers.fields import FILE_FIELDS, Kind
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from loyalty.models import Program, StampCard

from .records import FormatError

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


# --- a row, read ------------------------------------------------------------------------------


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


def accounts_from_cell(cell: str, source: str, account_id: str) -> list[SourceAccountInput]:
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


def channels_from_cell(cell: str) -> list[ChannelInput]:
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
        data.source_accounts = accounts_from_cell(
            row["identifiers"], row.get("source") or "INSTORE", row.get("account_id", "")
        )
    elif row.get("source"):
        raise DomainError(ErrorCode.REQUIRED, "A source needs identifiers.", field="identifiers")
    if row.get("channels"):
        data.channels = channels_from_cell(row["channels"])
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


# --- a customer, written ------------------------------------------------------------------------


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
