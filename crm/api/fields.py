"""Bounded inputs for the API: a database id never overflows a 64-bit column, a time is in UTC."""

from datetime import UTC

from django import forms
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers

from crm.parsing import MAX_ID

ID_PATTERN = "[0-9]{1,18}"  # ids in URLs: always below MAX_ID


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def id_filter(**kwargs) -> filters.NumberFilter:
    return filters.NumberFilter(min_value=1, max_value=MAX_ID, **kwargs)


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time converted to UTC, so that the database never sees the offset it was given.

    PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows (up to ±23:59).
    """

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a time between the years 1 and 9999.") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class IdConverter:
    regex = ID_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
