"""Bounded numbers for the API's inputs: a database id or count never overflows a 64-bit column."""

from django_filters import rest_framework as filters
from rest_framework import serializers

MAX_ID = 2**63 - 1
ID_PATTERN = "[0-9]{1,18}"  # ids in URLs: always below MAX_ID


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def id_filter(**kwargs) -> filters.NumberFilter:
    return filters.NumberFilter(min_value=1, max_value=MAX_ID, **kwargs)


class IdConverter:
    regex = ID_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
