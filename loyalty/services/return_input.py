"""A return as given, checked: the lines given back (each SKU once, with a quantity) or the amount
refunded, one or the other; and, against its purchase, which units of which lines they are, and
that no more is returned than is left of it."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from crm.errors import DomainError, ErrorCode, field_path
from crm.parsing import parse_integer
from customers.normalization import clean_text

from ..transactions import Transaction, TransactionLine
from . import purchase_input

SKU_LENGTH = TransactionLine._meta.get_field("sku").max_length


@dataclass(frozen=True)
class AskedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Portion:
    """Units of one purchase line given back, and what they cost."""

    line: TransactionLine
    quantity: int
    amount: Decimal


def _clean_lines(lines: Any) -> list[AskedLine]:
    if not isinstance(lines, list) or not 1 <= len(lines) <= purchase_input.MAX_LINES:
        raise DomainError(
            ErrorCode.INVALID,
            f"A list of 1 to {purchase_input.MAX_LINES} lines is needed.",
            field="lines",
        )
    asked: list[AskedLine] = []
    for index, line in enumerate(lines):
        path = f"lines[{index}]"
        if not isinstance(line, dict):
            raise DomainError(ErrorCode.INVALID, "A line is an object.", field=path)
        sku = line.get("sku")
        if sku is not None:
            sku = clean_text(sku, max_length=SKU_LENGTH, field=field_path(path, "sku"))
        for name, value in (("sku", sku), ("quantity", line.get("quantity"))):
            if value is None or value == "":
                raise DomainError(
                    ErrorCode.REQUIRED, "This field is required.", field=field_path(path, name)
                )
        if any(other.sku == sku for other in asked):
            raise DomainError(
                ErrorCode.INVALID, "Each SKU once per return.", field=field_path(path, "sku")
            )
        quantity = parse_integer(
            line["quantity"], field=field_path(path, "quantity"), minimum=1, maximum=2**31 - 1
        )
        asked.append(AskedLine(sku, quantity))
    return asked


def clean_request(lines: Any, amount: Any, currency: str) -> list[AskedLine] | Decimal:
    """The lines given back, or the amount refunded: one or the other."""
    if (lines is None) == (amount is None):
        raise DomainError(
            ErrorCode.INVALID, "Give either the lines returned or the amount.", field="lines"
        )
    if lines is not None:
        return _clean_lines(lines)
    amount = purchase_input.clean_amount(amount, currency, field="amount")
    if not amount:
        raise DomainError(ErrorCode.AMOUNT_INVALID, "An amount over 0.", field="amount")
    return amount


def refuse_over(amount: Decimal, purchase: Transaction, *, field: str) -> None:
    left = purchase.total_amount - purchase.returned_amount
    if amount > left:
        raise DomainError(
            ErrorCode.RETURN_EXCEEDS_PURCHASE,
            f"{left} {purchase.currency} of the purchase is left to return; {amount} cannot be.",
            field=field,
        )


def portions(
    asked: list[AskedLine], lines: list[TransactionLine], before: dict[int, Decimal], currency: str
) -> list[Portion]:
    """The units of the purchase's lines the asked lines give back (a SKU on several lines: the
    first lines first), each costing its share of its line's amount, so that all of a line's
    units together cost the line's amount exactly."""
    minor_unit = Decimal(10) ** -purchase_input.minor_unit_decimals(currency)
    portions = []
    for index, ask in enumerate(asked):
        matching = [line for line in lines if line.sku == ask.sku]
        if not matching:
            raise DomainError(
                ErrorCode.SKU_UNKNOWN,
                f"The purchase has no line of SKU {ask.sku!r}.",
                field=f"lines[{index}].sku",
            )
        left = sum(line.quantity - line.returned_quantity for line in matching)
        if ask.quantity > left:
            raise DomainError(
                ErrorCode.RETURN_EXCEEDS_PURCHASE,
                f"{left} of SKU {ask.sku!r} are left to return; {ask.quantity} cannot be.",
                field=f"lines[{index}].quantity",
            )
        wanted = ask.quantity
        for line in matching:
            units = min(wanted, line.quantity - line.returned_quantity)
            if units:
                back = line.line_amount * (line.returned_quantity + units) / line.quantity
                cost = back.quantize(minor_unit, ROUND_HALF_UP) - before.get(line.pk, 0)
                portions.append(Portion(line, units, cost))
                wanted -= units
    return portions
