"""A purchase as given, checked: its currency, its lines and their amounts, each amount with no
more decimals than the currency's minor unit. Recording a purchase (one or a batch, from the API
or a file) and simulating one read it alike."""

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from crm.errors import DomainError, ErrorCode, field_path
from crm.parsing import parse_datetime, parse_decimal, parse_integer
from customers.choices import Source
from customers.models import Customer
from customers.normalization import clean_text, require_choice

from ..transactions import Transaction, TransactionLine

CURRENCY = re.compile(r"[A-Z]{3}")
# Decimals of a currency's minor unit (ISO 4217) where it is not 2.
MINOR_UNIT_DECIMALS = {
    "BIF": 0,
    "CLP": 0,
    "ISK": 0,
    "JPY": 0,
    "KRW": 0,
    "PYG": 0,
    "VND": 0,
    "XAF": 0,
    "XOF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}
DEFAULT_DECIMALS = 2
MAX_AMOUNT = Decimal(10) ** 13  # what an amount column of 18 digits, 4 after the point, holds
MAX_LINES = 500


@dataclass(frozen=True)
class PurchaseItem:
    """A purchase as a caller gives it, unchecked. Its customer is found already (`customer`),
    or named by public id (`customer_id`) or by an identifier's type and value."""

    external_id: Any
    occurred_at: Any
    currency: Any
    lines: Any
    store_code: str | None = None
    channel: Any = Source.INSTORE
    customer: Customer | None = None
    customer_id: str | None = None
    identifier: tuple[Any, Any] | None = None


@dataclass(frozen=True)
class CleanLine:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal
    line_amount: Decimal


def minor_unit_decimals(currency: str) -> int:
    return MINOR_UNIT_DECIMALS.get(currency, DEFAULT_DECIMALS)


def in_minor_units(amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """The amount with as many decimals as the currency's minor unit has (12.5000 EUR: 12.50)."""
    return amount.quantize(Decimal(10) ** -minor_unit_decimals(currency), rounding)


def clean_currency(value: Any) -> str:
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        raise DomainError(
            ErrorCode.INVALID, "An ISO 4217 code of 3 capital letters, e.g. EUR.", field="currency"
        )
    return value


def clean_amount(value: Any, currency: str, *, field: str) -> Decimal:
    amount = parse_decimal(value, field=field)
    if not 0 <= amount < MAX_AMOUNT:
        raise DomainError(
            ErrorCode.AMOUNT_INVALID, f"An amount from 0 to under {MAX_AMOUNT}.", field=field
        )
    decimals = minor_unit_decimals(currency)
    # By value: 12.50 and 12.5000 are the same amount of euros, 12.505 is not one.
    in_minor_units = amount.quantize(Decimal(10) ** -decimals)
    if amount != in_minor_units:
        raise DomainError(
            ErrorCode.INVALID, f"{currency} amounts have at most {decimals} decimals.", field=field
        )
    return in_minor_units


def _text(line: dict, name: str, model_field: str, path: str, *, required: bool) -> str:
    value = line.get(name)
    if value is None and not required:
        return ""
    max_length = TransactionLine._meta.get_field(model_field).max_length
    text = clean_text(value, max_length=max_length, field=field_path(path, name))
    if required and not text:
        raise DomainError(
            ErrorCode.REQUIRED, "This field is required.", field=field_path(path, name)
        )
    return text


def clean_line(line: Any, currency: str, path: str) -> CleanLine:
    if not isinstance(line, dict):
        raise DomainError(ErrorCode.INVALID, "A line is an object.", field=path)
    if "quantity" not in line or "unit_price" not in line:
        missing = "quantity" if "quantity" not in line else "unit_price"
        raise DomainError(
            ErrorCode.REQUIRED, "This field is required.", field=field_path(path, missing)
        )
    quantity = parse_integer(
        line["quantity"], field=field_path(path, "quantity"), minimum=1, maximum=2**31 - 1
    )
    unit_price = clean_amount(line["unit_price"], currency, field=field_path(path, "unit_price"))
    given = line.get("line_amount")
    line_amount = (
        unit_price * quantity
        if given is None
        else clean_amount(given, currency, field=field_path(path, "line_amount"))
    )
    return CleanLine(
        sku=_text(line, "sku", "sku", path, required=True),
        category=_text(line, "category", "category", path, required=False),
        quantity=quantity,
        unit_price=unit_price,
        line_amount=line_amount,
    )


def clean_lines(lines: Any, currency: str) -> list[CleanLine]:
    if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_LINES:
        raise DomainError(
            ErrorCode.INVALID, f"A list of 1 to {MAX_LINES} lines is needed.", field="lines"
        )
    return [clean_line(line, currency, f"lines[{index}]") for index, line in enumerate(lines)]


def clean_external_id(value: Any) -> str:
    max_length = Transaction._meta.get_field("external_id").max_length
    text = clean_text(value, max_length=max_length, field="external_id")
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "This field is required.", field="external_id")
    return text


def clean_occurred_at(value: Any) -> dt.datetime:
    return parse_datetime(value, field="occurred_at")


def clean_channel(value: Any) -> str:
    return require_choice(
        value, Source, code=ErrorCode.SOURCE_INVALID, field="channel", what="channel"
    )


@dataclass(frozen=True)
class CleanPurchase:
    currency: str
    lines: list[CleanLine]
    occurred_at: dt.datetime
    channel: str


def clean_purchase(item: PurchaseItem) -> CleanPurchase:
    """The item's currency, lines, time and channel, checked in that order."""
    currency = clean_currency(item.currency)
    return CleanPurchase(
        currency=currency,
        lines=clean_lines(item.lines, currency),
        occurred_at=clean_occurred_at(item.occurred_at),
        channel=clean_channel(item.channel),
    )
