"""Bounded, strictly typed inputs for the API, read as the OpenAPI schema describes them.

Values are read by the parsers every door shares (crm/parsing.py); these fields add the
narrower spelling the schema states: an integer is ASCII digits without spaces (Python's `int()`
reads `" 7"`, `"7_0"` and `"٣"`), a time is RFC 3339 with its offset, converted to UTC, a date
YYYY-MM-DD, a boolean `true` or `false`. A typed query parameter that is present but empty is
refused rather than read as absent, since the schema allows no empty value.
"""

import re

import django_filters
from django import forms
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from drf_spectacular.drainage import set_override
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.errors import DomainError
from crm.parsing import MAX_ID, in_utc, parse_boolean, parse_date, parse_datetime, parse_integer

ID_PATTERN = "[0-9]{1,18}"  # ids in URLs: always below MAX_ID
INTEGER = re.compile(r"-?[0-9]{1,19}")
RFC3339_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
AMOUNT = re.compile(r"[0-9]{1,14}(\.[0-9]{1,4})?")
API_TRUE_WORDS = frozenset({"true"})
API_FALSE_WORDS = frozenset({"false"})


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class OneOf(serializers.CharField):
    """Text that the service checks against `values`, under its own error code; the schema lists
    them (crm/api/schema.py)."""

    def __init__(self, values, **kwargs):
        self.values = list(values)
        super().__init__(**kwargs)


def one_of(values, **kwargs) -> OneOf:
    return OneOf(values, **kwargs)


def read(parse, value, **options):
    """`value` read by one of the shared parsers, its refusal as a form field's error."""
    try:
        return parse(value, field=None, **options)
    except DomainError as error:
        raise forms.ValidationError(error.message, code="invalid") from None


class PresentMeansGiven:
    """A form field of a query parameter: present and empty is an error, not 'no filter'."""

    def to_python(self, value):
        if value == "":
            raise forms.ValidationError("Give a value, or leave the parameter out.", code="blank")
        return super().to_python(value)


class StrictIntegerField(PresentMeansGiven, forms.IntegerField):
    def to_python(self, value):
        if value in (None, ""):
            return super().to_python(value)
        if not INTEGER.fullmatch(str(value)):
            raise forms.ValidationError("Enter a whole number.", code="invalid")
        return read(parse_integer, value)


class StrictBooleanField(PresentMeansGiven, forms.Field):
    """The schema's `true` or `false`, in lower case: the shared parser with the API's two words."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        if not isinstance(value, str) or value != value.strip().lower():
            raise forms.ValidationError("Enter true or false.", code="invalid")
        try:
            return parse_boolean(
                value, field=None, true_words=API_TRUE_WORDS, false_words=API_FALSE_WORDS
            )
        except DomainError:
            raise forms.ValidationError("Enter true or false.", code="invalid") from None


class UtcDateTimeField(PresentMeansGiven, filter_fields.IsoDateTimeField):
    """An RFC 3339 time converted to UTC, so that the database never sees the offset it was given.

    PostgreSQL refuses offsets beyond ±15:59, which RFC 3339 allows (up to ±23:59).
    """

    def to_python(self, value):
        if value not in (None, "") and not RFC3339_DATE_TIME.fullmatch(value):
            raise forms.ValidationError(
                "Enter a time as YYYY-MM-DDThh:mm:ss with an offset or Z.", code="invalid"
            )
        if value in (None, ""):
            return super().to_python(value)
        return read(in_utc, read(parse_datetime, value))


class StrictChoiceField(PresentMeansGiven, filter_fields.ChoiceField):
    pass


class StrictCharField(PresentMeansGiven, forms.CharField):
    pass


class PatternFilter(filters.CharFilter):
    field_class = StrictCharField


class IntegerFilter(filters.NumberFilter):
    field_class = StrictIntegerField


class BooleanFilter(django_filters.BooleanFilter):
    """Not django-filter's DRF variant, whose widget reads any other text as 'no filter'."""

    field_class = StrictBooleanField


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class ChoiceFilter(filters.ChoiceFilter):
    field_class = StrictChoiceField


def integer_filter(*, min_value: int, max_value: int, **kwargs) -> IntegerFilter:
    """An integer query parameter whose schema states its bounds."""
    parameter = IntegerFilter(min_value=min_value, max_value=max_value, **kwargs)
    set_override(
        parameter,
        "field",
        serializers.IntegerField(
            min_value=min_value, max_value=max_value, help_text=kwargs.get("help_text")
        ),
    )
    return parameter


def text_filter(*, max_length: int, **kwargs) -> filters.CharFilter:
    """A text query parameter whose schema states its longest length (drf-spectacular leaves a
    serializer field's validators out of a parameter's schema, so it is written here)."""
    parameter = filters.CharFilter(**kwargs)
    set_override(
        parameter,
        "field",
        {"type": "string", "maxLength": max_length, "description": kwargs.get("help_text", "")},
    )
    return parameter


def pattern_filter(*, pattern: str, **kwargs) -> "PatternFilter":
    """A query parameter of the text `pattern` describes in the schema: read as given, not
    stripped, so that what the schema refuses is refused."""
    parameter = PatternFilter(strip=False, **kwargs)
    set_override(
        parameter,
        "field",
        {"type": "string", "pattern": pattern, "description": kwargs.get("help_text", "")},
    )
    return parameter


def id_filter(**kwargs) -> IntegerFilter:
    return integer_filter(min_value=1, max_value=MAX_ID, **kwargs)


class DateTimeField(serializers.DateTimeField):
    """A body's date-time: RFC 3339 with an offset, as `format: date-time` says."""

    def to_internal_value(self, value):
        if not isinstance(value, str) or not RFC3339_DATE_TIME.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DDThh:mm:ss[.uuuuuu](Z|+HH:MM|-HH:MM)")
        try:
            return in_utc(parse_datetime(value, field=None), None)
        except DomainError as error:
            raise serializers.ValidationError(error.message, code="invalid") from None


class DateField(serializers.DateField):
    """A body's date: YYYY-MM-DD, as `format: date` says."""

    def to_internal_value(self, value):
        if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
        try:
            return parse_date(value, field=None)
        except DomainError as error:
            raise serializers.ValidationError(error.message, code="invalid") from None


class IdConverter:
    regex = ID_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": f"^{AMOUNT.pattern}$", "example": "12.50"}
)
class AmountField(serializers.DecimalField):
    """A body's amount of money: a decimal string, as the schema's pattern says (a JSON number
    would have passed through binary floating point on its way)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=18, decimal_places=4, **kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str) or not AMOUNT.fullmatch(value):
            self.fail("invalid")
        return super().to_internal_value(value)
