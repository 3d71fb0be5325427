"""How each file format names the services' fields, so that an error points at the file's own
column or key: a CSV column, a vendor's field path, a native API field as it is. Purchase files
(import_transactions) name them by their own CSV columns, or as the purchase API does."""

import re

from customers.compat.capillary.parsing import Parsed
from customers.compat.jericommerce.parsing import PAYLOAD_FIELDS
from customers.compat.voucherify.parsing import FIELD_NAMES

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


def field_name(format: str, name: str, channel_paths: list[str]) -> str:
    """The services' field `name` as a file of `format` names it; Capillary's channel fields are
    named by where the record's channels were (`channel_paths`)."""
    if format == "csv":
        return csv_field_name(name)
    if format == "capillary":
        parsed = Parsed()
        parsed.channel_paths = channel_paths
        return parsed.vendor_field(name) or ""
    if format == "jericommerce":
        return PAYLOAD_FIELDS.get(name, name)
    if format == "voucherify":
        return FIELD_NAMES.get(name, name)
    return name


PURCHASE_CSV_FIELD_NAMES = [
    (re.compile(r"^lines\[\d+\]\.(.+)$"), r"\1"),  # a line's field: its row's column
    (re.compile(r"^lines(\[\d+\])?$"), ""),  # the lines as a whole: the purchase's rows
    (re.compile(r"^identifier\.type$"), "identifier_type"),
    (re.compile(r"^identifier(\.value)?$"), "identifier_value"),
]


def purchase_field_name(format: str, name: str | None) -> str:
    """The purchase service's field `name` as a purchase file of `format` names it."""
    name = name or ""
    if format != "csv":
        return name
    for pattern, column in PURCHASE_CSV_FIELD_NAMES:
        if pattern.match(name):
            return pattern.sub(column, name)
    return name
