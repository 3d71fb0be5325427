"""How customer data is normalised and checked, value by value, before anything is written.

Pure functions: the services call them, and so can forms and imports that want an early answer.
Each raises DomainError naming the field it was given.
"""

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from crm.errors import DomainError, ErrorCode, field_path
from crm.parsing import parse_boolean, parse_date, parse_datetime, parse_decimal, parse_integer

from .choices import ChannelType, ExtendedFieldType, IdentifierType, LoyaltyType, Source
from .models import ExtendedFieldDefinition

MAX_EMAIL_LENGTH = 255
MAX_IDENTIFIER_LENGTH = 255


def require_text(value: object, *, field: str) -> str:
    if not isinstance(value, str):
        raise DomainError(ErrorCode.INVALID, "Expected a string.", field=field)
    if "\x00" in value:
        raise DomainError(ErrorCode.INVALID, "Text cannot contain NUL characters.", field=field)
    return value


def clean_json(value: Any, *, field: str) -> Any:
    """A value that every database stores as JSON: finite numbers, text without NUL."""
    if value in ({}, []):  # the usual case: nothing to encode
        return value
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise DomainError(
            ErrorCode.INVALID,
            "Expected JSON values (finite numbers, text, lists, objects).",
            field=field,
        ) from None
    if "\\u0000" in text:
        raise DomainError(ErrorCode.INVALID, "Text cannot contain NUL characters.", field=field)
    return value


@lru_cache(maxsize=8192)
def _email_problem(email: str) -> ErrorCode | None:
    # Cached: an import checks each address several times (profile, identifier, channel).
    if len(email) > MAX_EMAIL_LENGTH:
        return ErrorCode.TOO_LONG
    try:
        validate_email(email)
    except ValidationError:
        return ErrorCode.EMAIL_INVALID
    return None


def is_email(value: str) -> bool:
    return _email_problem(value.strip().lower()) is None


def normalize_email(value: str, *, field: str = "email") -> str:
    email = require_text(value, field=field).strip().lower()
    problem = _email_problem(email)
    if problem == ErrorCode.TOO_LONG:
        raise DomainError(
            problem, f"An email has at most {MAX_EMAIL_LENGTH} characters.", field=field
        )
    if problem is not None:
        raise DomainError(problem, f"{value!r} is not an email address.", field=field)
    return email


@lru_cache(maxsize=8192)
def _e164(value: str, region: str) -> str | None:
    """The number in E.164, or None if phonenumbers cannot read it as a possible number."""
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_or_none(value: str, *, region: str) -> str | None:
    """`value` in E.164 if normalize_phone would accept it, else None: for text that may or may
    not be a phone number, such as a search."""
    if any(character.isalpha() for character in value):
        return None
    return _e164(value, region)


def normalize_phone(value: str, *, region: str, field: str = "phone") -> str:
    """E.164 for any number phonenumbers finds possible, read in `region` without a country code.

    A number written with letters is refused: phonenumbers would read them as a keypad's digits
    ("98765abcde" as 9876522233), storing a number nobody gave."""
    if any(character.isalpha() for character in require_text(value, field=field)):
        raise DomainError(
            ErrorCode.PHONE_INVALID,
            f"{value!r} has letters: a phone number is written in digits.",
            field=field,
        )
    e164 = _e164(value, region)
    if e164 is not None:
        return e164
    try:
        phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and not region:
            message = (
                f"{value!r} has no country code and the organization has no default region; "
                "give the number as +<country code><number>."
            )
        else:
            message = f"{value!r} is not a phone number."
        raise DomainError(ErrorCode.PHONE_INVALID, message, field=field) from None
    raise DomainError(
        ErrorCode.PHONE_INVALID, f"{value!r} is not a possible phone number.", field=field
    )


def clean_text(value: str, *, max_length: int, field: str) -> str:
    text = require_text(value, field=field).strip()
    if len(text) > max_length:
        raise DomainError(
            ErrorCode.TOO_LONG, f"At most {max_length} characters are allowed.", field=field
        )
    return text


@cache
def _values_of(choices: type) -> frozenset[str]:
    return frozenset(choices.values)  # `.values` builds a new list on every access


def require_choice(value: str, choices: type, *, code: ErrorCode, field: str, what: str) -> str:
    if not isinstance(value, str) or value not in _values_of(choices):
        allowed = ", ".join(choices.values)
        raise DomainError(code, f"{value!r} is not a valid {what} (one of {allowed}).", field=field)
    return value


def clean_source(value: str, *, field: str = "source") -> str:
    return require_choice(
        require_text(value, field=field).strip().upper(),
        Source,
        code=ErrorCode.SOURCE_INVALID,
        field=field,
        what="source",
    )


def clean_loyalty_type(value: str, *, field: str = "loyalty_type") -> str:
    return require_choice(
        value, LoyaltyType, code=ErrorCode.INVALID, field=field, what="loyalty type"
    )


def normalize_identifier(type_: str, value: str, *, region: str, field: str) -> tuple[str, str]:
    """The identifier's type, checked, and its value, normalised as the type requires."""
    require_choice(
        type_,
        IdentifierType,
        code=ErrorCode.IDENTIFIER_TYPE_INVALID,
        field=field_path(field, "type"),
        what="identifier type",
    )
    return type_, normalize_channel_or_identifier_value(type_, value, region=region, field=field)


def normalize_channel(type_: str, value: str, *, region: str, field: str) -> tuple[str, str]:
    require_choice(
        type_,
        ChannelType,
        code=ErrorCode.CHANNEL_TYPE_INVALID,
        field=field_path(field, "type"),
        what="channel type",
    )
    return type_, normalize_channel_or_identifier_value(type_, value, region=region, field=field)


def normalize_channel_or_identifier_value(
    type_: str, value: str, *, region: str, field: str
) -> str:
    value_field = field_path(field, "value")
    if type_ == "mobile":
        return normalize_phone(value, region=region, field=value_field)
    if type_ == "email":
        return normalize_email(value, field=value_field)
    text = clean_text(value, max_length=MAX_IDENTIFIER_LENGTH, field=value_field)
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "A value is required.", field=value_field)
    return text


def clean_extended_fields(
    values: Mapping[str, Any],
    definitions: Mapping[str, ExtendedFieldDefinition],
    *,
    field: str = "extended_fields",
) -> dict[str, Any]:
    """Values checked against the definitions and stored in a canonical JSON form.

    None clears a field. An unknown name, a wrong type or a value outside an enum names the field.
    """
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        path = field_path(field, name)
        definition = definitions.get(name)
        if definition is None:
            raise DomainError(
                ErrorCode.EXTENDED_FIELD_UNKNOWN,
                f"{name!r} is not an extended field of this organization.",
                field=path,
            )
        cleaned[name] = None if value is None else _extended_value(definition, value, path)
    return cleaned


def _extended_value(definition: ExtendedFieldDefinition, value: Any, path: str) -> Any:
    data_type = definition.data_type
    converters = {
        ExtendedFieldType.STRING: _as_string,
        ExtendedFieldType.INTEGER: _as_integer,
        ExtendedFieldType.DECIMAL: _as_decimal,
        ExtendedFieldType.BOOLEAN: _as_boolean,
        ExtendedFieldType.DATE: _as_date,
        ExtendedFieldType.DATETIME: _as_datetime,
    }
    if data_type == ExtendedFieldType.ENUM:
        by_folded = {str(allowed).casefold(): allowed for allowed in definition.allowed_values}
        allowed_value = by_folded.get(str(value).strip().casefold())
        if allowed_value is None or isinstance(value, bool | dict | list):
            allowed = ", ".join(map(str, definition.allowed_values))
            raise DomainError(
                ErrorCode.EXTENDED_FIELD_ENUM,
                f"{value!r} is not one of the allowed values ({allowed}).",
                field=path,
            )
        return allowed_value
    converted = converters[data_type](value)
    if converted is None:
        raise DomainError(
            ErrorCode.EXTENDED_FIELD_TYPE, f"{value!r} is not a valid {data_type}.", field=path
        )
    return converted


def _as_string(value: Any) -> str | None:
    if isinstance(value, str):
        return None if "\x00" in value else value.strip()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return None


def _parsed(parse: Callable[..., Any], value: Any) -> Any:
    """`value` read by one of the shared parsers; None if it is not of that kind."""
    try:
        return parse(value, field=None)
    except DomainError:
        return None


def _as_integer(value: Any) -> int | None:
    return _parsed(parse_integer, value)


def _as_decimal(value: Any) -> str | None:
    number = _parsed(parse_decimal, value)
    return None if number is None else str(number)


def _as_boolean(value: Any) -> bool | None:
    return _parsed(parse_boolean, value)


def _as_date(value: Any) -> str | None:
    date = _parsed(parse_date, value)
    return None if date is None else date.isoformat()


def _as_datetime(value: Any) -> str | None:
    moment = _parsed(parse_datetime, value)
    return None if moment is None else moment.isoformat()
