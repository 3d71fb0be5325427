"""Fast output: hot serializers render plain dicts without DRF's field machinery.

Their declared fields describe the output for the OpenAPI schema (and schemathesis checks every
response against it), but instantiating DRF's nested field trees for every row costs more than the
rest of a request. A RenderedSerializer reads its declared fields once and renders each row from
them directly; others build the dict in their own `to_representation`.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from rest_framework import serializers


def iso(value: dt.datetime | None) -> str | None:
    """A date-time as DRF renders it: ISO 8601 in the current time zone, UTC as 'Z'."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def as_row(obj) -> dict:
    """A model instance's column values by name (or the dict given): one renderer serves
    both rows the ORM loaded and rows of a document the database built."""
    return obj if isinstance(obj, dict) else vars(obj)


Render = Callable[[Any], Any]


# Renders a row (a model instance or a dict) by its declared fields: each field's value is its
# source's, a date-time or date in ISO 8601, a nested serializer's rendered by it. Sources are
# keys of the row, or "*" for the row itself. (Not a docstring: the schema would describe every
# serializer's output by it.)
class RenderedSerializer(serializers.Serializer):
    @classmethod
    def renderer(cls) -> Callable[[Any], dict]:
        if "_render" not in cls.__dict__:
            cls._render = _compiled(cls())
        return cls._render

    def to_representation(self, instance) -> dict:
        return self.renderer()(instance)


def _compiled(serializer: serializers.Serializer) -> Callable[[Any], dict]:
    steps = [
        (name, field.source, _value_renderer(field)) for name, field in serializer.fields.items()
    ]

    def render(obj) -> dict:
        row = as_row(obj)
        rendered = {}
        for name, source, convert in steps:
            value = row if source == "*" else row[source]
            rendered[name] = value if convert is None else convert(value)
        return rendered

    return render


def _renderer_of(serializer: serializers.BaseSerializer) -> Render:
    if isinstance(serializer, RenderedSerializer):
        return type(serializer).renderer()
    return serializer.to_representation


def _value_renderer(field: serializers.Field) -> Render | None:
    if isinstance(field, serializers.SerializerMethodField) or "." in field.source:
        raise TypeError(f"{field!r}: a rendered serializer reads its row's values as they are")
    if isinstance(field, serializers.ListSerializer):
        render = _renderer_of(field.child)
        return lambda values: [render(value) for value in values]
    if isinstance(field, serializers.BaseSerializer):
        return _renderer_of(field)
    if isinstance(field, serializers.DateTimeField):
        return iso
    if isinstance(field, serializers.DateField):
        return iso_date
    return None
