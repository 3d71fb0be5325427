"""The one reading of each kind of value a door receives as text or JSON: integers, ids,
decimals, booleans, dates and date-times.

Every door (the REST API, the vendor doors, imports) and the services' value checks read values
with these, so that "²", "2020-02-31" or a 5,000-digit number means the same everywhere: a
DomainError(INVALID) naming the field, which each door maps to its own 4xx.
"""

import datetime as dt
import re
from collections.abc import Set
from decimal import Decimal, InvalidOperation
from typing import Any

from crm.errors import DomainError, ErrorCode

MIN_BIGINT = -(2**63)
MAX_BIGINT = 2**63 - 1  # the database's 64-bit integer columns
MAX_ID = MAX_BIGINT
# ASCII digits only: str.isdigit() accepts "²", which int() refuses, and int() reads "٣" as 3.
INTEGER = re.compile(r"[+-]?[0-9]+")
# Longer text is outside any 64-bit range; checked first, int() is never asked for 5,000 digits.
MAX_INTEGER_TEXT = len(str(MIN_BIGINT))
DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")
TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n"})


def invalid(message: str, field: str | None) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field=field)


def parse_integer(
    value: Any, *, field: str | None, minimum: int = MIN_BIGINT, maximum: int = MAX_BIGINT
) -> int:
    """A whole number from `minimum` to `maximum`, given as a JSON integer or as decimal text."""
    expected = f"Expected a whole number from {minimum} to {maximum}."
    if isinstance(value, bool):
        raise invalid(expected, field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_INTEGER_TEXT or not INTEGER.fullmatch(text):
            raise invalid(expected, field)
        number = int(text)
    else:
        raise invalid(expected, field)
    if not minimum <= number <= maximum:
        raise invalid(expected, field)
    return number


def parse_id(value: Any, *, field: str | None) -> int:
    """A database id: a whole number from 1 that fits the 64-bit key columns."""
    return parse_integer(value, field=field, minimum=1, maximum=MAX_ID)


def parse_decimal(value: Any, *, field: str | None) -> Decimal:
    """A finite decimal number, given as a JSON number or as text."""
    if not isinstance(value, bool | dict | list) and value is not None:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise invalid("Expected a finite decimal number.", field)


def parse_boolean(
    value: Any,
    *,
    field: str | None,
    true_words: Set[str] = TRUE_WORDS,
    false_words: Set[str] = FALSE_WORDS,
) -> bool:
    """true or false: a JSON boolean, 0 or 1, or one of the words (any case).

    A door whose documented vocabulary differs passes its own words.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in true_words:
            return True
        if word in false_words:
            return False
    words = ", ".join(sorted(true_words | false_words))
    raise invalid(f"Expected true or false (one of {words}).", field)


def parse_date(value: Any, *, field: str | None) -> dt.date:
    """A calendar date that exists, as YYYY-MM-DD (or YYYY/MM/DD)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    match = DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError
        year, _, month, day = match.groups()
        return dt.date(int(year), int(month), int(day))
    except ValueError:  # not the format, or no such day (2020-02-31, 0000-01-01)
        raise invalid("Expected a date that exists, as YYYY-MM-DD.", field) from None


def parse_datetime(value: Any, *, field: str | None, naive_is_utc: bool = False) -> dt.datetime:
    """An ISO 8601 date-time with its time zone, kept as given (see in_utc).

    Without a time zone it is refused, or read as UTC when `naive_is_utc`.
    """
    parsed = None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and value.strip().isascii():
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:  # not the format, or no such moment (2020-02-31T10:00)
            parsed = None
    if parsed is not None and parsed.tzinfo is None and naive_is_utc:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if parsed is None or parsed.tzinfo is None:
        raise invalid(
            "Expected a date-time that exists, with its time zone, e.g. 2024-05-11T16:36:17+05:30.",
            field,
        )
    return parsed


def in_utc(value: Any, field: str | None) -> dt.datetime:
    """`value`, a date-time with a time zone, in UTC.

    ISO 8601 allows offsets up to ±23:59 and PostgreSQL only up to ±15:59: stored in UTC, any
    offset a client sends is kept as the moment it names.
    """
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise invalid("Expected a date-time with a time zone.", field)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise invalid("Expected a date-time between the years 1 and 9999.", field) from None
